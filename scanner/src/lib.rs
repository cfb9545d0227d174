//! Reads a barcode in one camera frame. Browsers without `BarcodeDetector`
//! (Firefox, Chromium on Linux and Windows) scan with this: rxing compiled
//! to its own small WASM module, run in a Web Worker
//! (`public/scanner-worker.js`) so the camera preview never stutters, and
//! fetched only when someone opens the scanner, so the app's main bundle
//! carries none of it.

use std::collections::HashSet;

use rxing::{BarcodeFormat, DecodeHints};
use wasm_bindgen::prelude::*;

/// The formats groceries carry, and QR codes (GS1 Digital Link).
const FORMATS: [BarcodeFormat; 6] = [
    BarcodeFormat::EAN_13,
    BarcodeFormat::EAN_8,
    BarcodeFormat::UPC_A,
    BarcodeFormat::UPC_E,
    BarcodeFormat::CODE_128,
    BarcodeFormat::QR_CODE,
];

/// A panic (a bug in a reader) is logged to the worker's console with its
/// message, then stops this module; the page reports the reader stopped.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// The first symbol in a grey frame (one byte per pixel, row by row), as
/// "FORMAT\ttext" (rxing's format names: "EAN_13", "UPC_E", "QR_CODE"…),
/// or nothing.
#[wasm_bindgen]
pub fn scan(luma: Vec<u8>, width: u32, height: u32) -> Option<String> {
    if width == 0 || height == 0 || luma.len() != (width as usize) * (height as usize) {
        return None;
    }
    // A frame is read several times a second; a symbol missed now is
    // caught in the next one, so no rotation sweep here.
    let mut hints = DecodeHints {
        TryHarder: Some(true),
        PossibleFormats: Some(HashSet::from(FORMATS)),
        ..DecodeHints::default()
    };
    rxing::helpers::detect_in_luma_with_hints(luma, width, height, None, &mut hints)
        .ok()
        .map(|r| format!("{:?}\t{}", r.getBarcodeFormat(), r.getText()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An EAN-13 drawn as bars, `module` pixels each, on a white frame.
    fn frame(digits: &str, module: usize) -> (Vec<u8>, u32, u32) {
        const L: [&str; 10] = [
            "0001101", "0011001", "0010011", "0111101", "0100011", "0110001", "0101111", "0111011",
            "0110111", "0001011",
        ];
        const G: [&str; 10] = [
            "0100111", "0110011", "0011011", "0100001", "0011101", "0111001", "0000101", "0010001",
            "0001001", "0010111",
        ];
        const R: [&str; 10] = [
            "1110010", "1100110", "1101100", "1000010", "1011100", "1001110", "1010000", "1000100",
            "1001000", "1110100",
        ];
        const PARITY: [&str; 10] = [
            "LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG", "LGGLLG", "LGGGLL", "LGLGLG",
            "LGLGGL", "LGGLGL",
        ];
        let d: Vec<usize> = digits.bytes().map(|b| (b - b'0') as usize).collect();
        let mut bars = String::from("101");
        for i in 1..=6 {
            let table = if PARITY[d[0]].as_bytes()[i - 1] == b'L' {
                &L
            } else {
                &G
            };
            bars.push_str(table[d[i]]);
        }
        bars.push_str("01010");
        for i in 7..=12 {
            bars.push_str(R[d[i]]);
        }
        bars.push_str("101");
        let (w, h) = (640usize, 480usize);
        let mut luma = vec![235u8; w * h];
        let left = (w - bars.len() * module) / 2;
        for y in 140..340 {
            for (i, bar) in bars.bytes().enumerate() {
                if bar == b'1' {
                    for x in 0..module {
                        luma[y * w + left + i * module + x] = 20;
                    }
                }
            }
        }
        (luma, w as u32, h as u32)
    }

    #[test]
    fn reads_an_ean_13_in_a_frame() {
        let (luma, w, h) = frame("4006381333931", 4);
        assert_eq!(scan(luma, w, h).as_deref(), Some("EAN_13\t4006381333931"));
    }

    #[test]
    fn an_empty_or_malformed_frame_reads_nothing() {
        assert_eq!(scan(vec![235; 640 * 480], 640, 480), None);
        assert_eq!(scan(vec![0; 10], 640, 480), None);
        assert_eq!(scan(Vec::new(), 0, 0), None);
    }
}
