// The camera barcode scanner, at a phone and a desktop viewport on an
// instance of its own. Chromium's fake camera plays a video made here: an
// EAN-13 on a shelf label. Chromium on Linux has no BarcodeDetector, so
// this exercises the fallback the issue asks for: rxing compiled to WASM,
// in a Web Worker, fetched only when the scanner opens.
import { expect, Page, test as base } from '@playwright/test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { accessible, hydrated, open, setupCodeFromLog, shoot } from './helpers';
import { instanceUrl } from '../playwright.config';

const BEANS = '4006381333931';

/** The bars of an EAN-13 symbol, '1' for black, with its guards. */
function ean13(digits: string): string {
  const L = ['0001101', '0011001', '0010011', '0111101', '0100011', '0110001', '0101111', '0111011', '0110111', '0001011'];
  const G = ['0100111', '0110011', '0011011', '0100001', '0011101', '0111001', '0000101', '0010001', '0001001', '0010111'];
  const R = ['1110010', '1100110', '1101100', '1000010', '1011100', '1001110', '1010000', '1000100', '1001000', '1110100'];
  const parity = ['LLLLLL', 'LLGLGG', 'LLGGLG', 'LLGGGL', 'LGLLGG', 'LGGLLG', 'LGGGLL', 'LGLGLG', 'LGLGGL', 'LGGLGL'][+digits[0]];
  let bars = '101';
  for (let i = 1; i <= 6; i++) bars += (parity[i - 1] === 'L' ? L : G)[+digits[i]];
  bars += '01010';
  for (let i = 7; i <= 12; i++) bars += R[+digits[i]];
  return bars + '101';
}

/** A YUV4MPEG2 video (what Chromium's fake camera plays): 640 × 480, grey
 * card with the barcode in the middle, slightly different frame to frame
 * like a hand-held phone. */
function barcodeVideo(digits: string): string {
  const file = path.join(os.tmpdir(), `larder-camera-${digits}.y4m`);
  const [w, h, module] = [640, 480, 4];
  const bars = ean13(digits);
  const parts: Buffer[] = [Buffer.from(`YUV4MPEG2 W${w} H${h} F10:1 Ip A1:1 C420jpeg\n`)];
  for (let f = 0; f < 10; f++) {
    const y = Buffer.alloc(w * h, 200);
    const left = Math.round((w - bars.length * module) / 2) + (f % 3) - 1;
    for (let row = 120; row < 360; row++) {
      for (let x = left - 40; x < left + bars.length * module + 40; x++) y[row * w + x] = 235;
      for (let i = 0; i < bars.length; i++) {
        if (bars[i] === '1') for (let k = 0; k < module; k++) y[row * w + left + i * module + k] = 25;
      }
    }
    parts.push(Buffer.from('FRAME\n'), y, Buffer.alloc((w / 2) * (h / 2) * 2, 128));
  }
  fs.writeFileSync(file, Buffer.concat(parts));
  return file;
}

const test = base.extend({
  baseURL: async ({}, use, info) => use(instanceUrl(info.project.name, 'scanner')),
});
test.use({
  launchOptions: {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      `--use-file-for-fake-video-capture=${barcodeVideo(BEANS)}`,
    ],
  },
  permissions: ['camera'],
});
test.describe.configure({ mode: 'serial' });

const admin = { name: 'Ada Admin', email: 'ada@college.example', password: 'correct horse battery' };
const ids: Record<string, string> = {};

async function post(page: Page, endpoint: string, form: Record<string, string>) {
  const res = await page.request.post(`/api/${endpoint}`, { form });
  const body = await res.json().catch(() => null);
  expect(res.ok(), `${endpoint}: ${JSON.stringify(body)}`).toBeTruthy();
  return body;
}

/** What the page fetched whose path matches. */
function fetched(page: Page, pattern: RegExp): string[] {
  const seen: string[] = [];
  page.on('request', (r) => { if (pattern.test(new URL(r.url()).pathname)) seen.push(new URL(r.url()).pathname); });
  return seen;
}

test('at the counter, scanning a can picks it to give out', async ({ page }, info) => {
  await post(page, 'setup', { code: setupCodeFromLog(`${info.project.name}-scanner`), ...admin });
  ids.org = await post(page, 'create_organization', { name: 'State College' });
  const campus = await post(page, 'create_campus', { organization: ids.org, name: 'North Campus' });
  ids.pantry = await post(page, 'create_pantry', { campus, name: 'Main Pantry' });
  ids.beans = await post(page, 'create_product', { organization: ids.org, name: 'Black beans', category: 'Canned goods', unit: 'each', barcodes: BEANS });
  await post(page, 'create_product', { organization: ids.org, name: 'Rice', category: 'Dry goods', unit: 'each' });
  await post(page, 'receive', { pantry: ids.pantry, product: ids.beans, quantity: '5' });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const scanner = fetched(page, /scanner/);

  await open(page, `/pantries/${ids.pantry}/distribute`);
  // The scanner's code is not part of the page until it is opened.
  expect(scanner).toEqual([]);
  await page.getByRole('button', { name: 'Scan a barcode' }).click();
  // The fake camera shows the can's barcode: the item is picked.
  await expect(page.getByTestId('quantity')).toHaveText('1', { timeout: 20_000 });
  await expect(page.getByRole('dialog', { name: 'Barcode scanner' })).toHaveCount(0);
  expect(scanner).toEqual(expect.arrayContaining(['/scanner-worker.js', '/pkg/scanner_bg.wasm']));
  await shoot(page, info, 'distribute-scanned');
  await page.getByRole('button', { name: 'Give out 1' }).click();
  await expect(page.getByText('Gave out 1 of Black beans. 4 left.')).toBeVisible();
  expect(errors).toEqual([]);
});

test('receiving a donation, each scan counts one more', async ({ page }, info) => {
  await post(page, 'sign_in', { email: admin.email, password: admin.password });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const intake = await post(page, 'create_intake', { pantry: ids.pantry });
  await open(page, `/intakes/${intake}`);
  await page.getByRole('button', { name: 'Scan a barcode' }).click();
  await expect(page.getByRole('dialog', { name: 'Barcode scanner' })).toBeVisible();
  await shoot(page, info, 'intake-scanner-open');
  const line = page.getByTestId('added-line');
  await expect(line).toHaveCount(1, { timeout: 20_000 });
  await expect(line).toContainText('Black beans');
  await expect(page.getByTestId('scan-note')).toHaveText(`Scanned Black beans (${BEANS}).`);
  await page.getByRole('button', { name: 'Scan a barcode' }).click();
  await expect(line.getByLabel('Quantity (each)')).toHaveValue('2', { timeout: 20_000 });
  await accessible(page, 'intake with scanned lines');
  await page.getByRole('button', { name: 'Receive into stock' }).click();
  await expect(page.getByTestId('intake-confirmed')).toContainText('Black beans');
  expect((await post(page, 'product_stock', { pantry: ids.pantry, product: ids.beans })).on_hand).toBe(6);
  expect(errors).toEqual([]);
});
