// Stops the servers global-setup started and removes their databases, so
// repeated runs do not fill the disk.
import * as fs from 'node:fs';
import * as path from 'node:path';

async function exited(pid: number, deadline: number) {
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export default async function globalTeardown() {
  const file = path.join(__dirname, 'test-results', 'servers', 'pids.json');
  if (!fs.existsSync(file)) return;
  const { pids, dataDirs } = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    pids: number[];
    dataDirs: string[];
  };
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {}
  }
  for (const pid of pids) await exited(pid, Date.now() + 10_000);
  for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
}
