// Where the optimizer's time goes in Chromium, stage by stage, on one 12 MP
// JPEG of noise (the worst case for a decoder): a full decode, the
// high-quality resize, a one-step decode-and-resize, and JPEG encoding.
// A diagnostic for docs/BENCHMARKS.md, not a goal check:
//   node bench/optimizer-stages.mjs
import { chromium } from '@playwright/test';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox','--disable-gpu'] });
const page = await browser.newPage();
await page.goto('about:blank');
const r = await page.evaluate(async () => {
  const c = new OffscreenCanvas(4000, 3000); const g = c.getContext('2d');
  const px = g.createImageData(4000, 3000); for (let i = 0; i < px.data.length; i++) px.data[i] = (i * 7919) % 251; g.putImageData(px, 0, 0);
  const blob = await c.convertToBlob({ type: 'image/jpeg', quality: 0.92 });
  const out = {};
  for (let round = 0; round < 3; round++) {
    let t = performance.now(); const a = await createImageBitmap(blob, { imageOrientation: 'from-image' }); out.full = performance.now() - t;
    t = performance.now(); const b = await createImageBitmap(a, { resizeWidth: 1600, resizeHeight: 1200, resizeQuality: 'high' }); out.resizeAfter = performance.now() - t; a.close();
    t = performance.now(); const d = await createImageBitmap(blob, { imageOrientation: 'from-image', resizeWidth: 1600, resizeHeight: 1200, resizeQuality: 'high' }); out.oneStep = performance.now() - t;
    t = performance.now(); const e = await createImageBitmap(blob, { imageOrientation: 'from-image', resizeWidth: 1600, resizeHeight: 1200, resizeQuality: 'medium' }); out.oneStepMedium = performance.now() - t;
    const cc = new OffscreenCanvas(1600, 1200); const gg = cc.getContext('2d'); gg.drawImage(d, 0, 0);
    t = performance.now(); const j = await cc.convertToBlob({ type: 'image/jpeg', quality: 0.82 }); out.encodeOffscreen = performance.now() - t;
    const hc = document.createElement('canvas'); hc.width = 1600; hc.height = 1200; hc.getContext('2d').drawImage(d, 0, 0);
    t = performance.now(); await new Promise((res) => hc.toBlob(res, 'image/jpeg', 0.82)); out.encodeToBlob = performance.now() - t;
    out.size = blob.size;
  }
  return out;
});
console.log(r);
await browser.close();
