// Reads barcodes in camera frames off the page's main thread, with rxing
// compiled to WASM (/pkg/scanner_bg.wasm). The intake and distribution
// pages start this worker only when someone opens the camera scanner, and
// only in browsers without BarcodeDetector.
import init, { scan } from '/pkg/scanner.js';

const ready = init({ module_or_path: '/pkg/scanner_bg.wasm' });

self.onmessage = async (event) => {
  const { id, luma, width, height } = event.data;
  try {
    await ready;
    self.postMessage({ id, found: scan(new Uint8Array(luma), width, height) ?? null });
  } catch (error) {
    self.postMessage({ id, error: String(error && error.message ? error.message : error) });
  }
};
