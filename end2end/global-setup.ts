// Starts one fresh Larder per viewport, each on its own empty SQLite
// database, with its log captured so tests can read the setup code from it
// exactly as a person would.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { instances, issuerPort, smtpPort } from './playwright.config';

const root = path.resolve(__dirname, '..');
export const runDir = path.join(__dirname, 'test-results', 'servers');
/** Where the SMTP server keeps what it receives (a maildir: new/ holds one file per email). */
export const mailDir = path.join(runDir, 'mail');

async function waitListening(port: number, deadline: number) {
  while (Date.now() < deadline) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`nothing listens on port ${port}`);
}

async function waitReady(url: string, deadline: number) {
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Larder did not become ready at ${url}`);
}

export default async function globalSetup() {
  fs.mkdirSync(runDir, { recursive: true });
  const bin = process.env.LARDER_BIN ?? path.join(root, 'target', 'debug', 'larder');
  if (!fs.existsSync(bin)) throw new Error(`no server binary at ${bin}: run scripts/build.sh first`);
  const pids: number[] = [];
  const dataDirs: string[] = [];
  // The identity spec's instances sign in through a test OpenID Connect
  // issuer, as a college's would through its Cognito pool.
  const issuerLog = fs.openSync(path.join(runDir, 'oidc-issuer.log'), 'w');
  const issuer = spawn(process.execPath, [path.join(__dirname, 'oidc-issuer.mjs'), String(issuerPort)], {
    stdio: ['ignore', issuerLog, issuerLog],
    detached: true,
  });
  issuer.unref();
  pids.push(issuer.pid!);
  await waitReady(`http://127.0.0.1:${issuerPort}/health`, Date.now() + 10_000);
  // ... and mail password links through a real SMTP server.
  fs.rmSync(mailDir, { recursive: true, force: true });
  const aiosmtpd = path.join(root, '.venv-test', 'bin', 'aiosmtpd');
  if (!fs.existsSync(aiosmtpd)) throw new Error(`no SMTP server at ${aiosmtpd}: run scripts/setup-test.sh first`);
  const smtpLog = fs.openSync(path.join(runDir, 'smtp.log'), 'w');
  const smtp = spawn(aiosmtpd, ['-n', '-l', `127.0.0.1:${smtpPort}`, '-c', 'aiosmtpd.handlers.Mailbox', mailDir], {
    stdio: ['ignore', smtpLog, smtpLog],
    detached: true,
  });
  smtp.unref();
  pids.push(smtp.pid!);
  await waitListening(smtpPort, Date.now() + 15_000);
  const sso = (name: string) =>
    name.endsWith('-identity')
      ? {
          LARDER_COGNITO_CLIENT_ID: 'larder-e2e-client',
          LARDER_COGNITO_CLIENT_SECRET: 'larder-e2e-secret',
          LARDER_COGNITO_DOMAIN: `http://127.0.0.1:${issuerPort}`,
          LARDER_COGNITO_ISSUER: `http://127.0.0.1:${issuerPort}/pool`,
          LARDER_PUBLIC_URL: `http://127.0.0.1:${instances.find((i) => i.name === name)!.port}`,
          LARDER_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
          LARDER_MAIL_FROM: 'Larder <larder@college.example>',
        }
      : {};
  for (const inst of instances) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `larder-e2e-${inst.name}-`));
    dataDirs.push(dataDir);
    const log = fs.openSync(path.join(runDir, `${inst.name}.log`), 'w');
    const child = spawn(bin, [], {
      env: {
        ...process.env,
        LARDER_LISTEN: `127.0.0.1:${inst.port}`,
        LARDER_METRICS_LISTEN: 'off',
        LARDER_DATA_DIR: dataDir,
        LARDER_SITE_ROOT: path.join(root, 'target', 'site'),
        LARDER_ITEM_MODEL: path.join(root, 'models', 'efficientnet-lite0.safetensors'),
        LARDER_LOG_FORMAT: 'pretty',
        NO_COLOR: '1',
        DATABASE_URL: '',
        // The usage journey's push service runs on loopback.
        ...(inst.name.endsWith('-usage') ? { LARDER_FETCH_ALLOWED_NETWORKS: '127.0.0.1/32' } : {}),
        ...sso(inst.name),
      },
      stdio: ['ignore', log, log],
      detached: true,
    });
    child.unref();
    pids.push(child.pid!);
    await waitReady(`http://127.0.0.1:${inst.port}/readyz`, Date.now() + 60_000);
  }
  fs.writeFileSync(path.join(runDir, 'pids.json'), JSON.stringify({ pids, dataDirs }));
}
