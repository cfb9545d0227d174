//! Reading barcodes in a photo: every EAN/UPC, QR, Data Matrix and Code
//! 128 symbol rxing finds, with a sweep of rotations when it finds none at
//! first (a 1D barcode read row by row tolerates some tilt, not 45°). GTINs
//! come out in their 14-digit form; GS1 symbols and GS1 Digital Link URLs
//! also give a best-before or expiry date when they carry one.

use std::collections::HashSet;

use image::{GrayImage, Luma};
use rxing::{BarcodeFormat, DecodeHints};

use crate::catalog::model::{upc_e_to_a, Gtin};

/// One barcode read from a photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// "EAN-13", "UPC-A", "QR code", …
    pub format: &'static str,
    pub text: String,
    /// The GTIN in its 14-digit form, when the symbol carries one.
    pub gtin: Option<String>,
    /// YYYY-MM-DD, from a GS1 best-before (15) or expiry (17) date.
    pub best_before: Option<String>,
}

/// Angles (degrees) tried, in order, when nothing is found upright.
const SWEEP: [f32; 6] = [45.0, -45.0, 22.5, -22.5, 67.5, -67.5];

/// Passes over one image: each finds what it can, then blanks it out, so
/// identical symbols (two cans of the same beans) are each counted; the
/// reader itself reports a repeated text once.
const PASSES: usize = 12;

/// Every barcode in the photo, one find per symbol: two cans of the same
/// beans give two finds.
///
/// UPC-E is the weak one: eight digits with a check that a scan line
/// across a steeply tilted EAN-13 can satisfy by chance. A reading that is
/// nothing but UPC-E is kept only if no other angle reads anything else.
pub fn read(gray: &GrayImage) -> Vec<Found> {
    let mut weak = None;
    for angle in std::iter::once(0.0).chain(SWEEP) {
        let found = if angle == 0.0 {
            read_all(gray.clone())
        } else {
            read_all(rotate(gray, angle))
        };
        if found.is_empty() {
            continue;
        }
        if found.iter().all(|f| f.format == "UPC-E") {
            weak.get_or_insert(found);
            continue;
        }
        return found;
    }
    weak.unwrap_or_default()
}

fn read_all(mut img: GrayImage) -> Vec<Found> {
    let mut found = Vec::new();
    for _ in 0..PASSES {
        let results = decode(&img);
        if results.is_empty() {
            break;
        }
        for r in &results {
            found.push(interpret(r.getBarcodeFormat(), r.getText()));
            blank(&mut img, r.getPoints());
        }
    }
    found
}

/// Paints white over a found symbol: the box around its points, widened
/// for a 1D symbol (whose two points lie on one scan line) to a square
/// about its length, which covers its bars at any tilt.
fn blank(img: &mut GrayImage, points: &[rxing::Point]) {
    if points.is_empty() {
        return;
    }
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in points {
        x0 = x0.min(p.x);
        y0 = y0.min(p.y);
        x1 = x1.max(p.x);
        y1 = y1.max(p.y);
    }
    let size = (x1 - x0).max(y1 - y0).max(8.0);
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let half = if points.len() <= 2 {
        size * 0.75
    } else {
        size * 0.6 + 8.0
    };
    let (w, h) = (img.width() as f32, img.height() as f32);
    let xs = (cx - half).max(0.0) as u32..(cx + half).min(w).max(0.0) as u32;
    let ys = (cy - half).max(0.0) as u32..(cy + half).min(h).max(0.0) as u32;
    for y in ys {
        for x in xs.clone() {
            img.put_pixel(x, y, Luma([255]));
        }
    }
}

fn hints() -> DecodeHints {
    DecodeHints {
        TryHarder: Some(true),
        PossibleFormats: Some(HashSet::from([
            BarcodeFormat::EAN_13,
            BarcodeFormat::EAN_8,
            BarcodeFormat::UPC_A,
            BarcodeFormat::UPC_E,
            BarcodeFormat::QR_CODE,
            BarcodeFormat::DATA_MATRIX,
            BarcodeFormat::CODE_128,
        ])),
        ..DecodeHints::default()
    }
}

fn decode(gray: &GrayImage) -> Vec<rxing::RXingResult> {
    let (w, h) = gray.dimensions();
    rxing::helpers::detect_multiple_in_luma_with_hints(gray.as_raw().clone(), w, h, &mut hints())
        .unwrap_or_default()
}

/// What a symbol's text means.
pub fn interpret(format: &BarcodeFormat, text: &str) -> Found {
    let name = match format {
        BarcodeFormat::EAN_13 => "EAN-13",
        BarcodeFormat::EAN_8 => "EAN-8",
        BarcodeFormat::UPC_A => "UPC-A",
        BarcodeFormat::UPC_E => "UPC-E",
        BarcodeFormat::QR_CODE => "QR code",
        BarcodeFormat::DATA_MATRIX => "Data Matrix",
        BarcodeFormat::CODE_128 => "Code 128",
        _ => "barcode",
    };
    let (gtin, best_before) = match format {
        BarcodeFormat::EAN_13 | BarcodeFormat::EAN_8 | BarcodeFormat::UPC_A => {
            (gtin_of(text), None)
        }
        BarcodeFormat::UPC_E => (upc_e_to_a(text).and_then(|a| gtin_of(&a)), None),
        _ => gs1(text),
    };
    Found {
        format: name,
        text: text.to_string(),
        gtin,
        best_before,
    }
}

fn gtin_of(digits: &str) -> Option<String> {
    Gtin::parse(digits, "barcode")
        .ok()
        .map(|g| g.as_str().to_string())
}

/// The GTIN and date in a GS1 element string ("(01)…(17)…" encoded with
/// group separators) or a GS1 Digital Link URL.
pub fn gs1(text: &str) -> (Option<String>, Option<String>) {
    if let Some(at) = text.find("/01/") {
        let digits: String = text[at + 4..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        let date = ["17=", "15=", "/17/", "/15/"].iter().find_map(|key| {
            let at = text.find(key)?;
            let v: String = text[at + key.len()..].chars().take(6).collect();
            gs1_date(&v)
        });
        return (gtin_of(&digits), date);
    }
    let mut rest = text
        .trim_start_matches("]d2")
        .trim_start_matches("]Q3")
        .trim_start_matches("]C1")
        .trim_start_matches('\u{1d}');
    let (mut gtin, mut date) = (None, None);
    while rest.len() >= 2 {
        let ai = &rest[..2];
        let fixed = match ai {
            "00" => Some(18),
            "01" | "02" => Some(14),
            "11" | "12" | "13" | "15" | "16" | "17" => Some(6),
            "20" => Some(2),
            _ => None,
        };
        let (value, next) = match fixed {
            Some(n) if rest.len() >= 2 + n && rest.is_char_boundary(2 + n) => {
                (&rest[2..2 + n], &rest[2 + n..])
            }
            Some(_) => return (gtin, date),
            None => {
                // A variable-length element runs to a separator: nothing
                // after it that we need is recoverable without the AI
                // table, so stop at the first one we do not know.
                match rest.find('\u{1d}') {
                    Some(gs) => (&rest[..gs], &rest[gs..]),
                    None => return (gtin, date),
                }
            }
        };
        match ai {
            "01" | "02" if gtin.is_none() => gtin = gtin_of(value),
            "17" | "15" if date.is_none() || ai == "15" => {
                date = gs1_date(value).or(date);
            }
            _ => {}
        }
        rest = next.trim_start_matches('\u{1d}');
        if fixed.is_none() {
            return (gtin, date);
        }
    }
    (gtin, date)
}

/// A GS1 date, YYMMDD, as YYYY-MM-DD: the century that puts it within 50
/// years of now; day 00 means the month's last day.
pub fn gs1_date(yymmdd: &str) -> Option<String> {
    if yymmdd.len() != 6 || !yymmdd.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| yymmdd[r].parse::<i32>().ok();
    let (yy, mm, dd) = (n(0..2)?, n(2..4)?, n(4..6)?);
    if !(1..=12).contains(&mm) {
        return None;
    }
    let this_year = time::OffsetDateTime::now_utc().year();
    let mut year = this_year / 100 * 100 + yy;
    if year - this_year > 50 {
        year -= 100;
    } else if this_year - year > 49 {
        year += 100;
    }
    let month = time::Month::try_from(mm as u8).ok()?;
    let last = month.length(year);
    let day = if dd == 0 { last } else { dd as u8 };
    if day > last {
        return None;
    }
    Some(format!("{year:04}-{mm:02}-{day:02}"))
}

/// The image turned by `degrees` (counter-clockwise) about its centre, on
/// a canvas large enough to hold all of it, the corners white.
pub fn rotate(gray: &GrayImage, degrees: f32) -> GrayImage {
    let (w, h) = (gray.width() as f32, gray.height() as f32);
    let (sin, cos) = degrees.to_radians().sin_cos();
    let nw = (w * cos.abs() + h * sin.abs()).ceil() as u32;
    let nh = (w * sin.abs() + h * cos.abs()).ceil() as u32;
    let (cx, cy) = (w / 2.0, h / 2.0);
    let (ncx, ncy) = (nw as f32 / 2.0, nh as f32 / 2.0);
    GrayImage::from_fn(nw, nh, |x, y| {
        let (dx, dy) = (x as f32 - ncx, y as f32 - ncy);
        let sx = cos * dx - sin * dy + cx;
        let sy = sin * dx + cos * dy + cy;
        if sx < 0.0 || sy < 0.0 || sx >= w - 1.0 || sy >= h - 1.0 {
            return Luma([255]);
        }
        let (x0, y0) = (sx as u32, sy as u32);
        let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
        let p = |x, y| gray.get_pixel(x, y).0[0] as f32;
        let top = p(x0, y0) * (1.0 - fx) + p(x0 + 1, y0) * fx;
        let bottom = p(x0, y0 + 1) * (1.0 - fx) + p(x0 + 1, y0 + 1) * fx;
        Luma([(top * (1.0 - fy) + bottom * fy).round() as u8])
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use image::imageops;
    use rxing::Writer;

    /// A barcode drawn by rxing's writer at `module` pixels per module,
    /// with a quiet zone.
    pub(crate) fn symbol(format: BarcodeFormat, contents: &str, module: u32) -> GrayImage {
        let matrix = rxing::MultiFormatWriter
            .encode(contents, &format, 0, 0)
            .expect("encodable");
        let (mw, mh) = (matrix.getWidth(), matrix.getHeight());
        // 1D symbols come out one row high; give them a bar height.
        let rows = if mh == 1 { 60 } else { mh };
        let quiet = 10;
        GrayImage::from_fn(
            (mw + 2 * quiet) * module,
            (rows + 2 * quiet) * module,
            |x, y| {
                let (mx, my) = (x / module, y / module);
                let inside = mx >= quiet && mx < mw + quiet && my >= quiet && my < rows + quiet;
                let black = inside && matrix.get(mx - quiet, if mh == 1 { 0 } else { my - quiet });
                Luma([if black { 0 } else { 255 }])
            },
        )
    }

    /// A cluttered scene: noise, grey blocks and stripes, with symbols
    /// pasted at the given places.
    pub(crate) fn scene(w: u32, h: u32, symbols: &[(&GrayImage, u32, u32)]) -> GrayImage {
        let mut seed = 0x2545_F491_u32;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        let mut img = GrayImage::from_fn(w, h, |x, y| {
            let stripes = if (x / 37 + y / 53) % 3 == 0 { 60 } else { 170 };
            Luma([stripes])
        });
        for _ in 0..40 {
            let (bx, by) = (rand() % w, rand() % h);
            let (bw, bh) = (20 + rand() % 120, 20 + rand() % 120);
            let shade = (rand() % 256) as u8;
            for y in by..(by + bh).min(h) {
                for x in bx..(bx + bw).min(w) {
                    img.put_pixel(x, y, Luma([shade]));
                }
            }
        }
        for p in img.pixels_mut() {
            let n = (rand() % 31) as i32 - 15;
            p.0[0] = (p.0[0] as i32 + n).clamp(0, 255) as u8;
        }
        for (s, x, y) in symbols {
            imageops::overlay(&mut img, *s, *x as i64, *y as i64);
        }
        img
    }

    fn jpeg_roundtrip(gray: &GrayImage, quality: u8) -> GrayImage {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
            .encode_image(gray)
            .unwrap();
        image::load_from_memory(&out).unwrap().to_luma8()
    }

    fn gtins(found: &[Found]) -> Vec<String> {
        let mut v: Vec<String> = found.iter().filter_map(|f| f.gtin.clone()).collect();
        v.sort();
        v
    }

    #[test]
    fn ean_13_upright_blurred_and_compressed() {
        let s = symbol(BarcodeFormat::EAN_13, "4006381333931", 3);
        let img = jpeg_roundtrip(
            &imageops::blur(&scene(1400, 1000, &[(&s, 300, 200)]), 1.2),
            60,
        );
        let found = read(&img);
        assert_eq!(gtins(&found), vec!["04006381333931"], "{found:?}");
        assert_eq!(found[0].format, "EAN-13");
    }

    #[test]
    fn upc_a_turned_sideways_and_tilted() {
        let s = symbol(BarcodeFormat::UPC_A, "036000291452", 3);
        for angle in [90.0, 40.0, -30.0] {
            let turned = rotate(&s, angle);
            let img = jpeg_roundtrip(&scene(1400, 1100, &[(&turned, 250, 150)]), 75);
            let found = read(&img);
            assert_eq!(
                gtins(&found),
                vec!["00036000291452"],
                "at {angle}°: {found:?}"
            );
        }
    }

    #[test]
    fn several_symbols_in_one_cluttered_photo() {
        let a = symbol(BarcodeFormat::EAN_13, "4006381333931", 3);
        let b = symbol(BarcodeFormat::UPC_A, "036000291452", 3);
        let q = symbol(
            BarcodeFormat::QR_CODE,
            "https://id.gs1.org/01/09506000134352?17=271231",
            6,
        );
        let img = jpeg_roundtrip(
            &scene(1600, 1200, &[(&a, 60, 80), (&b, 60, 700), (&q, 1000, 300)]),
            80,
        );
        let found = read(&img);
        assert_eq!(
            gtins(&found),
            vec!["00036000291452", "04006381333931", "09506000134352"],
            "{found:?}"
        );
        let qr = found.iter().find(|f| f.format == "QR code").unwrap();
        assert_eq!(qr.best_before.as_deref(), Some("2027-12-31"));
    }

    #[test]
    fn identical_items_are_each_counted() {
        let a = symbol(BarcodeFormat::EAN_13, "4006381333931", 3);
        let tilted = rotate(&a, 15.0);
        let img = jpeg_roundtrip(
            &scene(
                1600,
                1200,
                &[(&a, 40, 40), (&a, 40, 640), (&tilted, 820, 300)],
            ),
            80,
        );
        let found = read(&img);
        assert_eq!(gtins(&found), vec!["04006381333931"; 3], "{found:?}");
    }

    #[test]
    fn a_photo_without_barcodes_finds_nothing() {
        assert!(read(&scene(800, 600, &[])).is_empty());
    }

    #[test]
    fn gs1_element_strings_give_gtin_and_date() {
        assert_eq!(
            gs1("]d20109506000134352\u{1d}17271130\u{1d}10ABC123"),
            (Some("09506000134352".into()), Some("2027-11-30".into()))
        );
        assert_eq!(
            gs1("010950600013435215270200"),
            (Some("09506000134352".into()), Some("2027-02-28".into()))
        );
        assert_eq!(gs1("hello"), (None, None));
        assert_eq!(gs1_date("271301"), None);
        assert_eq!(gs1_date("240230"), None);
    }

    #[test]
    fn upc_e_expands_to_its_upc_a() {
        // Worked examples from the UPC-E zero-suppression rules.
        assert_eq!(upc_e_to_a("01234565").as_deref(), Some("012345000065"));
        assert_eq!(upc_e_to_a("01234133").as_deref(), Some("012300000413"));
        assert_eq!(upc_e_to_a("0654321x"), None);
    }
}
