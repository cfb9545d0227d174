// The photo optimizer benchmark, in one headless Chromium run: Larder's
// optimizer (the WASM the intake page runs) against the npm package
// browser-image-compression 2.0.x, on the same 12 MP photos with matching
// settings (longest edge 1600 px, JPEG, quality 0.82, a 600 KB budget),
// both on the page's main thread. For each: time per photo (median of the
// rounds), output bytes, and SSIM against a reference downscale (exact
// area averaging of the decoded original, computed here in plain JS).
//
//   node bench/optimizer.mjs http://127.0.0.1:PORT SAMPLES_DIR > table.md
//
// bench/optimizer.sh starts the server and writes the table into
// docs/BENCHMARKS.md.
import { chromium } from '@playwright/test';
import fs from 'node:fs';
import path from 'node:path';

const [base, samples] = process.argv.slice(2);
if (!base || !samples) {
  console.error('usage: node bench/optimizer.mjs BASE_URL SAMPLES_DIR');
  process.exit(2);
}
const rounds = Number(process.env.LARDER_BENCH_ROUNDS ?? 3);
const settings = { edge: 1600, quality: 0.82, budget: 600 * 1024 };
const library = path.resolve('node_modules/browser-image-compression/dist/browser-image-compression.js');
const version = JSON.parse(fs.readFileSync(path.resolve('node_modules/browser-image-compression/package.json'))).version;
// scikit-image's sample photos (fetched from PyPI by scripts/models.py):
// real camera content, drawn onto 12 MP frames below.
const pictures = ['chelsea.png', 'coffee.png', 'astronaut.png', 'rocket.jpg'].map((f) =>
  fs.readFileSync(path.join(samples, f)).toString('base64'),
);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage();
page.on('pageerror', (e) => console.error('page error:', e.message));
await page.goto(`${base}/`);
await page.waitForFunction(() => document.querySelector('link[rel=modulepreload]'));
await page.addScriptTag({ path: library });

const result = await page.evaluate(async ({ pictures, settings, rounds }) => {
  const larder = await import(document.querySelector('link[rel=modulepreload]').href);

  const decode = async (blob) => {
    const bitmap = await createImageBitmap(blob);
    const c = new OffscreenCanvas(bitmap.width, bitmap.height);
    const g = c.getContext('2d');
    g.drawImage(bitmap, 0, 0);
    bitmap.close();
    return g.getImageData(0, 0, c.width, c.height);
  };
  const fromBase64 = (b64) => {
    const s = atob(b64);
    const bytes = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
    return new Blob([bytes]);
  };

  // A 4000 × 3000 photo as a phone takes it: a real picture filling the
  // frame, sensor grain, a printed label and a barcode (sharp edges), and
  // JPEG at quality 0.92 (3–6 MB).
  const photo = async (index) => {
    const c = new OffscreenCanvas(4000, 3000);
    const g = c.getContext('2d');
    const picture = await createImageBitmap(fromBase64(pictures[index % pictures.length]));
    g.imageSmoothingQuality = 'high';
    g.drawImage(picture, 0, 0, 4000, 3000);
    g.fillStyle = '#fbfaf5';
    g.fillRect(2500 - index * 200, 1900, 1200, 800);
    g.fillStyle = '#111';
    g.font = 'bold 90px sans-serif';
    g.fillText('BEST BEFORE 12 MAR 2027', 2550 - index * 200, 2030);
    g.font = '60px sans-serif';
    g.fillText('Net wt 400 g · Lot 2418B', 2550 - index * 200, 2130);
    for (let i = 0; i < 95; i++) if ((i * 7919 + index) % 3) g.fillRect(2560 - index * 200 + i * 11, 2200, 6, 420);
    const pixels = g.getImageData(0, 0, 4000, 3000);
    let seed = 12345 + index;
    for (let i = 0; i < pixels.data.length; i += 4) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const n = ((seed >> 8) % 25) - 12;
      pixels.data[i] += n;
      pixels.data[i + 1] += n;
      pixels.data[i + 2] += n;
    }
    g.putImageData(pixels, 0, 0);
    return new File([await c.convertToBlob({ type: 'image/jpeg', quality: 0.92 })], `photo-${index + 1}.jpg`, { type: 'image/jpeg' });
  };

  // Exact area averaging, separable: each output pixel is the mean of the
  // input area it covers, fractional edges weighted.
  const reference = (img, w, h) => {
    const resample = (src, sw, sh, dw, horizontal) => {
      const [outW, outH] = horizontal ? [dw, sh] : [sw, dw];
      const out = new Float32Array(outW * outH * 3);
      const n = horizontal ? sw : sh;
      const scale = n / dw;
      for (let o = 0; o < dw; o++) {
        const start = o * scale, end = start + scale;
        for (let k = Math.floor(start); k < Math.min(n, Math.ceil(end)); k++) {
          const weight = (Math.min(end, k + 1) - Math.max(start, k)) / scale;
          if (weight <= 0) continue;
          const lines = horizontal ? sh : sw;
          for (let l = 0; l < lines; l++) {
            const si = horizontal ? (l * sw + k) : (k * sw + l);
            const di = horizontal ? (l * outW + o) : (o * outW + l);
            for (let ch = 0; ch < 3; ch++) out[di * 3 + ch] += src[si * 3 + ch] * weight;
          }
        }
      }
      return out;
    };
    const rgb = new Float32Array(img.width * img.height * 3);
    for (let i = 0, j = 0; i < img.data.length; i += 4, j += 3) {
      rgb[j] = img.data[i];
      rgb[j + 1] = img.data[i + 1];
      rgb[j + 2] = img.data[i + 2];
    }
    const across = resample(rgb, img.width, img.height, w, true);
    return resample(across, w, img.height, h, false);
  };
  const luma = (rgb, count) => {
    const y = new Float32Array(count);
    for (let i = 0; i < count; i++) y[i] = 0.299 * rgb[i * 3] + 0.587 * rgb[i * 3 + 1] + 0.114 * rgb[i * 3 + 2];
    return y;
  };
  // SSIM on luma, 8 × 8 windows every 4 pixels (Wang et al.'s constants).
  const ssim = (a, b, w, h) => {
    const C1 = (0.01 * 255) ** 2, C2 = (0.03 * 255) ** 2;
    let sum = 0, windows = 0;
    for (let y = 0; y + 8 <= h; y += 4) {
      for (let x = 0; x + 8 <= w; x += 4) {
        let ma = 0, mb = 0;
        for (let j = 0; j < 8; j++) for (let i = 0; i < 8; i++) { const p = (y + j) * w + x + i; ma += a[p]; mb += b[p]; }
        ma /= 64; mb /= 64;
        let va = 0, vb = 0, cov = 0;
        for (let j = 0; j < 8; j++) for (let i = 0; i < 8; i++) {
          const p = (y + j) * w + x + i;
          const da = a[p] - ma, db = b[p] - mb;
          va += da * da; vb += db * db; cov += da * db;
        }
        va /= 63; vb /= 63; cov /= 63;
        sum += ((2 * ma * mb + C1) * (2 * cov + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2));
        windows++;
      }
    }
    return sum / windows;
  };

  const optimizers = {
    larder: (file) => larder.optimizePhoto(file, settings.edge, settings.quality, settings.budget),
    'browser-image-compression': (file) => window.imageCompression(file, {
      maxWidthOrHeight: settings.edge,
      initialQuality: settings.quality,
      maxSizeMB: settings.budget / (1024 * 1024),
      fileType: 'image/jpeg',
      useWebWorker: false,
    }),
  };
  const rows = [];
  for (let index = 0; index < pictures.length; index++) {
    const file = await photo(index);
    const original = await decode(file);
    const ref = reference(original, settings.edge, settings.edge * 3 / 4);
    const refLuma = luma(ref, settings.edge * settings.edge * 3 / 4);
    const row = { photo: file.name, bytesIn: file.size };
    for (const name of Object.keys(optimizers)) row[name] = { times: [] };
    for (let r = 0; r < rounds; r++) {
      // Alternating who goes first, so neither always meets a warm cache.
      const order = r % 2 ? Object.keys(optimizers).reverse() : Object.keys(optimizers);
      for (const name of order) {
        const t = performance.now();
        const out = await optimizers[name](file);
        row[name].times.push(performance.now() - t);
        row[name].out = out;
      }
    }
    for (const name of Object.keys(optimizers)) {
      const out = await decode(row[name].out);
      const entry = row[name];
      entry.bytes = row[name].out.size;
      entry.size = `${out.width} × ${out.height}`;
      const rgb = new Float32Array(out.width * out.height * 3);
      for (let i = 0, j = 0; i < out.data.length; i += 4, j += 3) { rgb[j] = out.data[i]; rgb[j + 1] = out.data[i + 1]; rgb[j + 2] = out.data[i + 2]; }
      entry.ssim = out.width === settings.edge ? ssim(refLuma, luma(rgb, out.width * out.height), out.width, out.height) : NaN;
      entry.times.sort((a, b) => a - b);
      entry.median = entry.times[Math.floor(entry.times.length / 2)];
      delete entry.out;
    }
    rows.push(row);
  }
  return rows;
}, { pictures, settings, rounds });
await browser.close();

const kb = (b) => `${Math.round(b / 1024)} KB`;
const names = ['larder', 'browser-image-compression'];
console.log(`### Photo optimizer in Chromium: Larder against browser-image-compression ${version}\n`);
console.log(`Settings for both: longest edge ${settings.edge} px, JPEG, quality ${settings.quality}, budget ${kb(settings.budget)}, main thread. Median of ${rounds} rounds per photo. SSIM on luma against an exact area-average downscale of the decoded original.\n`);
console.log('| photo | original | Larder time | Larder bytes | Larder SSIM | b-i-c time | b-i-c bytes | b-i-c SSIM | time ratio |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
const totals = Object.fromEntries(names.map((n) => [n, { time: 0, bytes: 0, ssim: 0 }]));
for (const r of result) {
  const [a, b] = names.map((n) => r[n]);
  for (const n of names) {
    totals[n].time += r[n].median;
    totals[n].bytes += r[n].bytes;
    totals[n].ssim += r[n].ssim;
  }
  console.log(`| ${r.photo} | ${kb(r.bytesIn)} | ${a.median.toFixed(0)} ms | ${kb(a.bytes)} | ${a.ssim.toFixed(4)} | ${b.median.toFixed(0)} ms | ${kb(b.bytes)} | ${b.ssim.toFixed(4)} | ${(a.median / b.median).toFixed(2)} |`);
}
const n = result.length;
const [a, b] = names.map((k) => totals[k]);
console.log(`| **mean** | | ${(a.time / n).toFixed(0)} ms | ${kb(a.bytes / n)} | ${(a.ssim / n).toFixed(4)} | ${(b.time / n).toFixed(0)} ms | ${kb(b.bytes / n)} | ${(b.ssim / n).toFixed(4)} | ${(a.time / b.time).toFixed(2)} |`);
const goal = a.time <= 0.7 * b.time && a.bytes <= b.bytes && a.ssim >= b.ssim;
console.log(`\nGoal (at most 0.7× its time, at most its bytes, at equal or better SSIM): **${goal ? 'met' : 'not met'}** — time ${(a.time / b.time).toFixed(2)}×, bytes ${(a.bytes / b.bytes).toFixed(2)}×, SSIM ${(a.ssim / n).toFixed(4)} against ${(b.ssim / n).toFixed(4)}.`);
