// First visits in headless Chromium: for pages anyone can open, what the
// browser fetches before the page is interactive (`<body data-hydrated>`),
// with an empty cache each time. Transfer sizes are what went over the wire
// (the server gzips), so they include HTTP headers.
//
//   node bench/bundle.mjs http://127.0.0.1:3192
import { chromium } from 'playwright-core';

const base = process.argv[2];
const pages = ['/sign-in', '/setup', '/sign-up'];
const rounds = 5;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(`Median of ${rounds} first visits each, on loopback (no network latency: on a phone every extra round trip adds to these):`);
console.log();
console.log('| page | WASM files fetched | WASM transferred | everything transferred | interactive after |');
console.log('|---|---:|---:|---:|---:|');
for (const path of pages) {
  const runs = [];
  for (let i = 0; i < rounds; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const urls = new Map();
    cdp.on('Network.responseReceived', (e) => urls.set(e.requestId, e.response.url));
    let wasmFiles = 0, wasmBytes = 0, allBytes = 0;
    cdp.on('Network.loadingFinished', (e) => {
      allBytes += e.encodedDataLength;
      if ((urls.get(e.requestId) ?? '').endsWith('.wasm')) { wasmFiles += 1; wasmBytes += e.encodedDataLength; }
    });
    const start = Date.now();
    await page.goto(base + path);
    await page.locator('body[data-hydrated="true"]').waitFor({ state: 'attached', timeout: 30_000 });
    const ms = Date.now() - start;
    await page.waitForLoadState('networkidle');
    runs.push({ wasmFiles, wasmBytes, allBytes, ms });
    await context.close();
  }
  const m = (k) => median(runs.map((r) => r[k]));
  console.log(`| \`${path}\` | ${m('wasmFiles')} | ${(m('wasmBytes') / 1000).toFixed(1)} KB | ${(m('allBytes') / 1000).toFixed(1)} KB | ${m('ms')} ms |`);
}
await browser.close();
