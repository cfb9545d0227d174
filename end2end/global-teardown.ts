import * as fs from 'node:fs';
import * as path from 'node:path';

export default async function globalTeardown() {
  const file = path.join(__dirname, 'test-results', 'servers', 'pids.json');
  if (!fs.existsSync(file)) return;
  for (const pid of JSON.parse(fs.readFileSync(file, 'utf8')) as number[]) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {}
  }
}
