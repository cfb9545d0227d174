// Donation photos, at a phone and a desktop viewport, each on an instance
// of its own: a 12 MP photo with a barcode and GPS in its Exif is picked
// through the file chooser, optimized in the browser (the saving shows,
// and what is sent has no Exif), read on the server into a suggested
// line, edited and confirmed, and the stock rises.
import { expect, Page, test as base } from '@playwright/test';
import { accessible, hydrated, open, setupCodeFromLog, shoot } from './helpers';
import { instanceUrl } from '../playwright.config';

const test = base.extend({
  baseURL: async ({}, use, info) => use(instanceUrl(info.project.name, 'photos')),
});
test.describe.configure({ mode: 'serial' });

const admin = { name: 'Ada Admin', email: 'ada@college.example', password: 'correct horse battery' };
const BEANS = '4006381333931';
const ids: Record<string, string> = {};

async function post(page: Page, endpoint: string, form: Record<string, string>) {
  const res = await page.request.post(`/api/${endpoint}`, { form });
  const body = await res.json().catch(() => null);
  expect(res.ok(), `${endpoint}: ${JSON.stringify(body)}`).toBeTruthy();
  return body;
}

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

/** A 4000 × 3000 JPEG drawn in the page: a table, a can with the barcode. */
async function bigPhoto(page: Page, bars: string): Promise<Buffer> {
  const base64 = await page.evaluate(async (bars) => {
    const c = document.createElement('canvas');
    c.width = 4000;
    c.height = 3000;
    const g = c.getContext('2d')!;
    const grad = g.createLinearGradient(0, 0, 4000, 3000);
    grad.addColorStop(0, '#b08d57');
    grad.addColorStop(1, '#6e5433');
    g.fillStyle = grad;
    g.fillRect(0, 0, 4000, 3000);
    // Grain, so the JPEG is photo-sized.
    const noise = g.getImageData(0, 0, 4000, 3000);
    for (let i = 0; i < noise.data.length; i += 4) {
      const n = (Math.random() - 0.5) * 60;
      noise.data[i] += n;
      noise.data[i + 1] += n;
      noise.data[i + 2] += n;
    }
    g.putImageData(noise, 0, 0);
    g.fillStyle = '#fff';
    g.fillRect(1200, 900, 1500, 1100);
    const module = 12;
    g.fillStyle = '#000';
    for (let i = 0; i < bars.length; i++) {
      if (bars[i] === '1') g.fillRect(1400 + i * module, 1050, module, 800);
    }
    const blob: Blob = await new Promise((r) => c.toBlob((b) => r(b!), 'image/jpeg', 0.95));
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }, bars);
  return Buffer.from(base64, 'base64');
}

/** The JPEG with an Exif segment carrying a GPS latitude, as phones write. */
function withGps(jpeg: Buffer): Buffer {
  const tiff = Buffer.concat([
    Buffer.from('MM\x00\x2a\x00\x00\x00\x08', 'binary'),
    Buffer.from([0, 1, 0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 26, 0, 0, 0, 0]),
    Buffer.from([0, 1, 0, 1, 0, 2, 0, 0, 0, 2]),
    Buffer.from('N\0\0\0', 'binary'),
    Buffer.from([0, 0, 0, 0]),
  ]);
  const app1 = Buffer.concat([Buffer.from('Exif\0\0', 'binary'), tiff]);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(app1.length + 2);
  return Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe1]), len, app1, jpeg.subarray(2)]);
}

/** The markers of a JPEG's segments before its image data. */
function segments(b: Buffer): number[] {
  const out: number[] = [];
  for (let i = 2; i < b.length - 4; ) {
    if (b[i] !== 0xff) throw new Error(`no marker at ${i}`);
    const m = b[i + 1];
    out.push(m);
    if (m === 0xda) break;
    i += 2 + b.readUInt16BE(i + 2);
  }
  return out;
}

/** Width and height from a JPEG's frame header. */
function jpegSize(b: Buffer): [number, number] {
  for (let i = 2; i < b.length - 9; ) {
    if (b[i] !== 0xff) throw new Error(`no marker at ${i}`);
    const m = b[i + 1];
    if (m >= 0xc0 && m <= 0xc3) return [b.readUInt16BE(i + 7), b.readUInt16BE(i + 5)];
    i += 2 + b.readUInt16BE(i + 2);
  }
  throw new Error('no frame header');
}

test('a photographed donation is received in a few taps', async ({ page }, info) => {
  await post(page, 'setup', {
    code: setupCodeFromLog(`${info.project.name}-photos`),
    name: admin.name,
    email: admin.email,
    password: admin.password,
  });
  const org = await post(page, 'create_organization', { name: 'State College' });
  const campus = await post(page, 'create_campus', { organization: org, name: 'North Campus' });
  const pantry = await post(page, 'create_pantry', { campus, name: 'Main Pantry' });
  ids.pantry = pantry;
  ids.org = org;
  const beans = await post(page, 'create_product', { organization: org, name: 'Black beans', category: 'Canned goods', barcodes: BEANS });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // The bundle is split by feature: the pantry page runs on the main WASM
  // and the organization pages' part; the photo pages' part comes only
  // when the intake opens.
  const wasm: string[] = [];
  page.on('request', (r) => { const p = new URL(r.url()).pathname; if (p.endsWith('.wasm')) wasm.push(p); });

  await open(page, `/pantries/${pantry}`);
  expect(wasm).toEqual(expect.arrayContaining(['/pkg/larder_bg.wasm', '/pkg/split_org_pages.wasm']));
  expect(wasm).not.toContain('/pkg/split_photos_pages.wasm');
  // Intake, from the navigation, asks who the donation is from.
  await page.getByRole('navigation', { name: 'Pantry' }).getByRole('link', { name: 'Intake' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Intake' })).toBeVisible();
  expect(wasm).toContain('/pkg/split_photos_pages.wasm');
  await hydrated(page);
  await page.getByRole('form', { name: 'Photograph a donation' }).getByLabel('Donor').fill('Campus Garden Club');
  await page.getByRole('button', { name: 'Photograph a donation' }).click();
  await expect(page).toHaveURL(/\/intakes\/[0-9a-f-]{36}$/);
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1, name: 'Donation from Campus Garden Club' })).toBeVisible();
  await expect(page.getByText('Take photos')).toBeVisible();

  const original = withGps(await bigPhoto(page, ean13(BEANS)));
  expect(original.includes(Buffer.from('Exif'))).toBeTruthy();
  expect(jpegSize(original)).toEqual([4000, 3000]);
  // Keep a copy of every photo the page sends (a Blob body is not in
  // Playwright's request record).
  await page.evaluate(() => {
    const w = window as any;
    w.__sent = [];
    const fetch = window.fetch.bind(window);
    window.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
      if (input instanceof Request && /\/intakes\/.*\/photos$/.test(input.url)) {
        const bytes = new Uint8Array(await input.clone().arrayBuffer());
        let s = '';
        for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        w.__sent.push(btoa(s));
      }
      return fetch(input, init);
    };
  });
  const chooser = page.waitForEvent('filechooser');
  await page.getByText('Choose files').click();
  await (await chooser).setFiles({ name: 'donation.jpg', mimeType: 'image/jpeg', buffer: original });

  // The saving shows, and what went to the server is small, 1600 px on
  // its longest edge, and without Exif.
  const row = page.getByTestId('upload');
  await expect(row).toContainText(/Uploaded · \d+(\.\d)? MB → \d+ KB \(1600 × 1200\)/, { timeout: 30_000 });
  const sent: string[] = await page.evaluate(() => (window as any).__sent);
  expect(sent).toHaveLength(1);
  const body = Buffer.from(sent[0], 'base64');
  expect(body.length).toBeLessThan(original.length / 3);
  expect(jpegSize(body)).toEqual([1600, 1200]);
  // No Exif segment (APP1) at all, so no GPS.
  expect(segments(body)).not.toContain(0xe1);
  expect(segments(original)).toContain(0xe1);

  // The server reads the barcode and suggests the line.
  const line = page.getByTestId('suggestion');
  await expect(line).toHaveCount(1, { timeout: 30_000 });
  await expect(line).toContainText('Black beans');
  await expect(line).toContainText(`EAN-13 ${BEANS} in photo 1`);
  await expect(page.getByTestId('photo')).toContainText('1 barcode');
  await expect(line.getByLabel('Quantity (each)')).toHaveValue('1');
  await accessible(page, 'intake');
  await shoot(page, info, 'intake-suggested');

  // The volunteer counts six cans and gives their date.
  await line.getByLabel('Quantity (each)').fill('6');
  await line.getByLabel('Best before').fill('2031-05-01');
  await page.getByRole('button', { name: 'Receive into stock' }).click();
  const done = page.getByTestId('intake-confirmed');
  await expect(done).toBeVisible();
  await expect(done).toContainText('Black beans');
  await expect(done).toContainText('best before 2031-05-01');
  await shoot(page, info, 'intake-confirmed');
  const stock = await post(page, 'product_stock', { pantry, product: beans });
  expect(stock.on_hand).toBe(6);
  // Received from the donor the intake asked for, not anonymously.
  expect(stock.movements[0].donor).toBe('Campus Garden Club');
  expect(errors).toEqual([]);
});

test('a file that is not a photo is refused in the browser, clearly', async ({ page }) => {
  await post(page, 'sign_in', { email: admin.email, password: admin.password });
  await open(page, `/pantries/${ids.pantry}/intake`);
  await page.getByRole('button', { name: 'Photograph a donation' }).click();
  await expect(page).toHaveURL(/\/intakes\//);
  await hydrated(page);
  const chooser = page.waitForEvent('filechooser');
  await page.getByText('Choose files').click();
  await (await chooser).setFiles({ name: 'notes.svg', mimeType: 'image/svg+xml', buffer: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>') });
  await expect(page.getByTestId('upload')).toContainText('“notes.svg” is not a photo (image/svg+xml). Larder takes JPEG and PNG photos.');
  const chooser2 = page.waitForEvent('filechooser');
  await page.getByText('Choose files').click();
  await (await chooser2).setFiles({ name: 'broken.jpg', mimeType: 'image/jpeg', buffer: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2, 3]) });
  await expect(page.getByTestId('upload').first()).toContainText('“broken.jpg” could not be read as a photo');
  await expect(page.getByTestId('photo')).toHaveCount(0);
});

test('photos taken offline wait on the phone and go when the connection is back', async ({ page, context }, info) => {
  await post(page, 'sign_in', { email: admin.email, password: admin.password });
  await open(page, `/pantries/${ids.pantry}/intake`);
  await page.getByRole('button', { name: 'Photograph a donation' }).click();
  await expect(page).toHaveURL(/\/intakes\//);
  await hydrated(page);
  const url = page.url();
  // The app must not fail in the page (a panic in WASM stops it for good).
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const photo = await bigPhoto(page, ean13(BEANS));
  const pick = async (p: typeof page, name: string) => {
    const chooser = p.waitForEvent('filechooser');
    await p.getByText('Choose files').click();
    await (await chooser).setFiles({ name, mimeType: 'image/jpeg', buffer: photo });
  };

  // No signal in the stockroom: the photo waits on the phone, visibly.
  await context.setOffline(true);
  await pick(page, 'stockroom-1.jpg');
  await expect(page.getByTestId('upload')).toContainText('Saved on this device; sends when the connection is back', { timeout: 30_000 });
  await expect(page.getByTestId('photo')).toHaveCount(0);
  await shoot(page, info, 'intake-offline');
  // The connection comes back: it goes.
  await context.setOffline(false);
  await page.evaluate(() => window.dispatchEvent(new Event('online')));
  await expect(page.getByTestId('upload')).toContainText('Uploaded', { timeout: 30_000 });
  await expect(page.getByTestId('photo')).toHaveCount(1, { timeout: 15_000 });

  // Offline again, and the page is closed before the signal returns: the
  // photo is kept, and sent when the intake is opened again.
  await context.setOffline(true);
  await pick(page, 'stockroom-2.jpg');
  await expect(page.getByTestId('upload').filter({ hasText: 'stockroom-2.jpg' })).toContainText('Saved on this device', { timeout: 30_000 });
  await page.close();
  await context.setOffline(false);
  const again = await context.newPage();
  again.on('pageerror', (e) => errors.push(e.message));
  await open(again, url);
  await expect(again.getByTestId('photo')).toHaveCount(2, { timeout: 30_000 });
  await expect(again.getByTestId('suggestion')).toContainText('Black beans', { timeout: 30_000 });
  await expect(again.getByTestId('suggestion').getByLabel('Quantity (each)')).toHaveValue('2', { timeout: 30_000 });
  // Each was sent once: nothing waits after a reload.
  await again.reload();
  await hydrated(again);
  await expect(again.getByTestId('photo')).toHaveCount(2);
  await expect(again.getByTestId('upload')).toHaveCount(0);
  expect(errors).toEqual([]);
});

/** A 1600 × 1200 photo of a package on a cluttered shelf: a red box with
 * white diagonal stripes, centred at (x, y), `size` px tall, `light` added
 * to every channel. The clutter is drawn from `seed`. */
async function packagePhoto(page: Page, seed: number, x: number, y: number, size: number, light: number): Promise<Buffer> {
  const base64 = await page.evaluate(async ({ seed, x, y, size, light }) => {
    const c = document.createElement('canvas');
    c.width = 1600;
    c.height = 1200;
    const g = c.getContext('2d')!;
    let s = seed;
    const next = () => ((s = (s * 1103515245 + 12345) % 2147483648), s);
    g.fillStyle = 'rgb(200,195,185)';
    g.fillRect(0, 0, 1600, 1200);
    for (let i = 0; i < 25; i++) {
      g.fillStyle = `rgb(${90 + (next() % 100)},${90 + (next() % 100)},${90 + (next() % 100)})`;
      g.fillRect(next() % 1600, next() % 1200, 50 + (next() % 300), 50 + (next() % 300));
    }
    const w = size * 0.7;
    const x0 = x * 1600 - w / 2;
    const y0 = y * 1200 - size / 2;
    g.save();
    g.beginPath();
    g.rect(x0, y0, w, size);
    g.clip();
    g.fillStyle = 'rgb(190,40,35)';
    g.fillRect(x0, y0, w, size);
    g.strokeStyle = 'rgb(245,240,230)';
    g.lineWidth = size / 14;
    for (let k = -12; k <= 12; k++) {
      g.beginPath();
      g.moveTo(x0 + (k * w) / 6, y0);
      g.lineTo(x0 + (k * w) / 6 + w, y0 + size);
      g.stroke();
    }
    g.restore();
    const px = g.getImageData(0, 0, 1600, 1200);
    for (let i = 0; i < px.data.length; i += 4) {
      px.data[i] += light;
      px.data[i + 1] += light;
      px.data[i + 2] += light;
    }
    g.putImageData(px, 0, 0);
    const blob: Blob = await new Promise((r) => c.toBlob((b) => r(b!), 'image/jpeg', 0.9));
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let str = '';
    for (let i = 0; i < bytes.length; i += 0x8000) str += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(str);
  }, { seed, x, y, size, light });
  return Buffer.from(base64, 'base64');
}

test('an item without a barcode is added by hand once, and recognised the next time', async ({ page }, info) => {
  await post(page, 'sign_in', { email: admin.email, password: admin.password });
  const pasta = await post(page, 'create_product', { organization: ids.org, name: 'Penne pasta', category: 'Dry goods' });
  // Uncaught errors in the page, with the step they happened in and the
  // panic message WASM wrote to the console (a Rust panic reaches
  // `pageerror` only as "unreachable").
  const errors: string[] = [];
  let step = 'start';
  page.on('pageerror', (e) => errors.push(`[${step}] ${e.name}: ${e.message}\n${e.stack ?? ''}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /panicked at|unreachable/.test(m.text())) errors.push(`[${step}] console: ${m.text()}`);
  });
  const photograph = async (photo: Buffer) => {
    await open(page, `/pantries/${ids.pantry}/intake`);
    await page.getByRole('button', { name: 'Photograph a donation' }).click();
    await expect(page).toHaveURL(/\/intakes\//);
    await hydrated(page);
    const chooser = page.waitForEvent('filechooser');
    await page.getByText('Choose files').click();
    await (await chooser).setFiles({ name: 'pasta.jpg', mimeType: 'image/jpeg', buffer: photo });
    await expect(page.getByTestId('photo')).toHaveAttribute('data-status', 'done', { timeout: 30_000 });
  };

  // The first time, nothing is recognised: the volunteer finds the product
  // and it is taken to be in the photo.
  step = 'first photo';
  await photograph(await packagePhoto(page, 7, 0.5, 0.5, 800, 0));
  await expect(page.getByTestId('photo')).toContainText('No barcode');
  await expect(page.getByText('Nothing in these photos was recognised')).toBeVisible();
  await page.getByLabel('Add an item').fill('penne');
  await page.getByRole('button', { name: /Penne pasta/ }).click();
  const added = page.getByTestId('added-line');
  await expect(added).toHaveCount(1);
  await expect(added.getByLabel('Shown in')).toHaveValue(/[0-9a-f-]{36}/);
  await added.getByLabel('Quantity (each)').fill('3');
  await shoot(page, info, 'intake-added-by-hand');
  step = 'first receipt';
  await page.getByRole('button', { name: 'Receive into stock' }).click();
  await expect(page.getByTestId('intake-confirmed')).toContainText('Penne pasta');
  expect((await post(page, 'product_stock', { pantry: ids.pantry, product: pasta })).on_hand).toBe(3);

  // The next box: the same pasta, elsewhere in the frame and darker, is
  // recognised and suggested without any typing.
  step = 'second photo';
  await photograph(await packagePhoto(page, 99, 0.4, 0.55, 650, -25));
  const line = page.getByTestId('suggestion');
  await expect(line).toHaveCount(1, { timeout: 30_000 });
  await expect(line).toContainText('Penne pasta');
  await expect(line).toContainText('looks like confirmed photos of Penne pasta');
  await expect(page.getByTestId('photo-match').first()).toContainText('Penne pasta');
  await accessible(page, 'intake-recognised');
  await shoot(page, info, 'intake-recognised');
  step = 'second receipt';
  await page.getByRole('button', { name: 'Receive into stock' }).click();
  await expect(page.getByTestId('intake-confirmed')).toContainText('Penne pasta');
  expect((await post(page, 'product_stock', { pantry: ids.pantry, product: pasta })).on_hand).toBe(4);
  expect(errors, errors.join('\n---\n')).toEqual([]);
});

test('a wrong photo is removed from the intake', async ({ page }, info) => {
  await post(page, 'sign_in', { email: admin.email, password: admin.password });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await open(page, `/pantries/${ids.pantry}/intake`);
  await page.getByRole('button', { name: 'Photograph a donation' }).click();
  await expect(page).toHaveURL(/\/intakes\//);
  await hydrated(page);
  const chooser = page.waitForEvent('filechooser');
  await page.getByText('Choose files').click();
  await (await chooser).setFiles([
    { name: 'good.jpg', mimeType: 'image/jpeg', buffer: await packagePhoto(page, 3, 0.5, 0.5, 700, 0) },
    { name: 'blurred.jpg', mimeType: 'image/jpeg', buffer: await packagePhoto(page, 4, 0.6, 0.4, 500, 40) },
  ]);
  const photos = page.getByTestId('photo');
  await expect(photos).toHaveCount(2, { timeout: 30_000 });
  await expect(photos.nth(1)).toHaveAttribute('data-status', 'done', { timeout: 30_000 });
  await photos.nth(1).getByRole('button', { name: 'Remove photo 2' }).click();
  await expect(photos.nth(1)).toContainText('Remove photo 2?');
  await shoot(page, info, 'intake-remove-photo');
  await photos.nth(1).getByRole('button', { name: 'Remove', exact: true }).click();
  await expect(photos).toHaveCount(1);
  await expect(photos).toContainText('Photo 1');
  await expect(page.getByRole('heading', { name: 'Photos (1)' })).toBeVisible();
  expect(errors).toEqual([]);
});
