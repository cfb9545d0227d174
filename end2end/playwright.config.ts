import { defineConfig } from '@playwright/test';

// Each viewport gets its own fresh Larder instance (see global-setup.ts), so
// both walk the whole journey from an empty database.
const base = Number(process.env.LARDER_E2E_PORT_BASE ?? 3101);

// Spec files that get instances of their own (beside the default one per
// viewport), so no spec depends on what another did first.
export const isolatedSpecs = ['inventory', 'usage', 'photos', 'scanner', 'hardening', 'essentials', 'identity', 'community'];

/** The test OpenID Connect issuer (end2end/oidc-issuer.mjs) the identity instances sign in through. */
export const issuerPort = base + 90;
/** The SMTP server (aiosmtpd, from .venv-test) the identity instances mail password links to. */
export const smtpPort = base + 91;

export const instances = [
  { name: 'phone', port: base },
  { name: 'desktop', port: base + 1 },
  ...isolatedSpecs.flatMap((spec, i) => [
    { name: `phone-${spec}`, port: base + 2 + 2 * i },
    { name: `desktop-${spec}`, port: base + 3 + 2 * i },
  ]),
];

/** The base URL of a spec's own instance for a viewport. */
export function instanceUrl(project: string, spec: string): string {
  const inst = instances.find((i) => i.name === `${project}-${spec}`);
  if (!inst) throw new Error(`no instance for ${project}-${spec}`);
  return `http://127.0.0.1:${inst.port}`;
}

export default defineConfig({
  testDir: './tests',
  outputDir: './test-results',
  globalSetup: './global-setup.ts',
  globalTeardown: './global-teardown.ts',
  fullyParallel: false,
  workers: 2,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  use: {
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
    screenshot: 'only-on-failure',
  },
  projects: [
    {
      name: 'phone',
      use: { baseURL: `http://127.0.0.1:${base}`, viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true },
    },
    {
      name: 'desktop',
      use: { baseURL: `http://127.0.0.1:${base + 1}`, viewport: { width: 1280, height: 800 } },
    },
  ],
});
