//! Photo analysis throughput, run by `bench/photos.sh` (which writes the
//! figures into docs/BENCHMARKS.md). Not a test: it measures.
//!
//! A set of photos as the browser uploads them (1600 × 1200 JPEG) is made
//! here: a cluttered table, one to three barcodes (EAN-13, UPC-A, QR) at
//! varied tilts, and a printed date label on most. Each photo goes through
//! the worker's stages one after another, as the analysis worker runs
//! them: decoding to grey, barcodes (rxing), printed dates (Tesseract).
//! Reported per stage: mean and p95 time, photos per second for one
//! worker, and what was found against what was planted.
//!
//! Environment: LARDER_BENCH_PHOTOS (24), LARDER_BENCH_DUMP (a directory:
//! write the photos there too).

use std::time::Instant;

use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
use image::{GrayImage, Luma, Rgb, RgbImage};
use rxing::Writer;

struct Planted {
    jpeg: Vec<u8>,
    gtins: Vec<String>,
    date: Option<String>,
}

fn symbol(format: rxing::BarcodeFormat, contents: &str, module: u32) -> GrayImage {
    let m = rxing::MultiFormatWriter
        .encode(contents, &format, 0, 0)
        .unwrap();
    let (w, h) = (m.getWidth(), m.getHeight());
    let rows = if h == 1 { 60 } else { h };
    let q = 10;
    GrayImage::from_fn((w + 2 * q) * module, (rows + 2 * q) * module, |x, y| {
        let (mx, my) = (x / module, y / module);
        let inside = mx >= q && mx < w + q && my >= q && my < rows + q;
        let black = inside && m.get(mx - q, if h == 1 { 0 } else { my - q });
        Luma([if black { 0 } else { 255 }])
    })
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn print(img: &mut RgbImage, font: &FontVec, text: &str, x: f32, y: f32, px: f32) {
    let scaled = font.as_scaled(PxScale::from(px));
    let mut pen = x;
    for c in text.chars() {
        let id = font.glyph_id(c);
        let glyph = id.with_scale_and_position(px, ab_glyph::point(pen, y + scaled.ascent()));
        if let Some(outline) = font.outline_glyph(glyph) {
            let b = outline.px_bounds();
            outline.draw(|gx, gy, cov| {
                let (px_, py) = (b.min.x as u32 + gx, b.min.y as u32 + gy);
                if px_ < img.width() && py < img.height() {
                    for ch in &mut img.get_pixel_mut(px_, py).0 {
                        *ch = (*ch as f32 * (1.0 - cov)) as u8;
                    }
                }
            });
        }
        pen += scaled.h_advance(id);
    }
}

/// GTIN-13s with valid check digits, from a seed.
fn gtin13(rng: &mut Rng) -> String {
    let body: String = (0..12)
        .map(|_| char::from(b'0' + rng.below(10) as u8))
        .collect();
    let sum: u32 = body
        .bytes()
        .enumerate()
        .map(|(i, b)| (b - b'0') as u32 * if i % 2 == 1 { 3 } else { 1 })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

fn photos(n: usize) -> Vec<Planted> {
    let font = FontVec::try_from_vec(
        std::fs::read("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
            .expect("fonts-dejavu-core (bench/photos.sh installs it)"),
    )
    .unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let months = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    (0..n)
        .map(|i| {
            let mut img = RgbImage::from_fn(1600, 1200, |x, y| {
                let v = if (x / 53 + y / 37) % 3 == 0 { 80 } else { 170 };
                Rgb([v, (v as u32 * 9 / 10) as u8, v / 2])
            });
            for _ in 0..30 {
                let (bx, by, bw, bh) = (
                    rng.below(1500),
                    rng.below(1100),
                    20 + rng.below(200),
                    20 + rng.below(200),
                );
                let shade = rng.below(256) as u8;
                for y in by..(by + bh).min(1200) {
                    for x in bx..(bx + bw).min(1600) {
                        img.put_pixel(x as u32, y as u32, Rgb([shade, shade, shade / 2]));
                    }
                }
            }
            let mut gtins = Vec::new();
            let count = 1 + i % 3;
            for k in 0..count {
                let g = gtin13(&mut rng);
                let sym = match k {
                    2 => symbol(
                        rxing::BarcodeFormat::QR_CODE,
                        &format!("https://id.gs1.org/01/0{g}"),
                        5,
                    ),
                    _ => symbol(rxing::BarcodeFormat::EAN_13, &g, 3),
                };
                let angle = [0.0, 12.0, -20.0, 90.0, 45.0][(i + k) % 5];
                let sym = app::photos::barcodes::rotate(&sym, angle);
                let (x, y) = ([40, 860, 430][k] as i64, [60, 120, 640][k] as i64);
                let rgb = image::DynamicImage::ImageLuma8(sym).to_rgb8();
                image::imageops::overlay(&mut img, &rgb, x, y);
                gtins.push(format!("0{g}"));
            }
            let date = (i % 4 != 3).then(|| {
                let (d, m, y) = (
                    1 + rng.below(28),
                    rng.below(12) as usize,
                    2027 + rng.below(3),
                );
                for y0 in 980..1150 {
                    for x0 in 900..1560 {
                        img.put_pixel(x0, y0, Rgb([238, 238, 232]));
                    }
                }
                print(&mut img, &font, "BEST BEFORE", 930.0, 995.0, 48.0);
                print(
                    &mut img,
                    &font,
                    &format!("{d:02} {} {y}", months[m]),
                    930.0,
                    1065.0,
                    48.0,
                );
                format!("{y}-{:02}-{d:02}", m + 1)
            });
            let mut jpeg = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
                .encode_image(&img)
                .unwrap();
            Planted { jpeg, gtins, date }
        })
        .collect()
}

fn stats(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mean = ms.iter().sum::<f64>() / ms.len() as f64;
    let p95 = ms[((ms.len() as f64 - 1.0) * 0.95).round() as usize];
    (mean, p95)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    if std::env::args().any(|a| a == "--bench") && std::env::var("LARDER_BENCH_RUN").is_err() {
        eprintln!("photos bench: set LARDER_BENCH_RUN=1 (bench/photos.sh does)");
        return;
    }
    let n: usize = std::env::var("LARDER_BENCH_PHOTOS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    eprintln!("making {n} photos…");
    let set = photos(n);
    if let Ok(dir) = std::env::var("LARDER_BENCH_DUMP") {
        // For looking at the photos (and trying readers on them) by hand.
        std::fs::create_dir_all(&dir).unwrap();
        for (i, p) in set.iter().enumerate() {
            std::fs::write(format!("{dir}/photo-{:02}.jpg", i + 1), &p.jpeg).unwrap();
        }
    }
    let mean_kb = set.iter().map(|p| p.jpeg.len()).sum::<usize>() as f64 / n as f64 / 1024.0;
    let model = vision::Model::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../models/efficientnet-lite0.safetensors"),
    )
    .expect("the item matching model (scripts/setup-test.sh fetches it)");
    // A full matching set to rank against: as many confirmed photos as a
    // pantry keeps, each a unit vector.
    let mut rng = 0x9e3779b97f4a7c15u64;
    let examples: Vec<(String, Vec<f32>)> = (0..app::photos::items::MATCHING_SET)
        .map(|i| {
            let v: Vec<f32> = (0..vision::FEATURES)
                .map(|_| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    (rng >> 40) as f32
                })
                .collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            (
                format!("product-{}", i % 300),
                v.iter().map(|x| x / norm).collect(),
            )
        })
        .collect();
    let (mut decode, mut codes, mut dates, mut items) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut planted_codes, mut found_codes, mut wrong_codes) = (0, 0, 0);
    let (mut planted_dates, mut found_dates, mut wrong_dates) = (0, 0, 0);
    let today = time::OffsetDateTime::now_utc().date();
    for (i, p) in set.iter().enumerate() {
        let t = Instant::now();
        let (gray, colour) = app::photos::analysis::decode(&p.jpeg).unwrap();
        decode.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let found = app::photos::barcodes::read(&gray);
        codes.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let read = app::photos::dates::read_dates(&colour, today)
            .await
            .expect("tesseract runs");
        dates.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let looked = app::photos::items::look(&model, &colour);
        let ranked = app::photos::items::rank(&looked.features, &examples);
        assert!(!ranked.is_empty());
        items.push(t.elapsed().as_secs_f64() * 1000.0);
        planted_codes += p.gtins.len();
        // Each planted symbol can be found once: a second find of it is
        // an extra count, as a misread is.
        let mut unfound = p.gtins.clone();
        let mut wrong = Vec::new();
        for f in &found {
            match f
                .gtin
                .as_ref()
                .and_then(|g| unfound.iter().position(|u| u == g))
            {
                Some(at) => {
                    unfound.swap_remove(at);
                    found_codes += 1;
                }
                None => {
                    wrong_codes += 1;
                    wrong.push(format!("{} {}", f.format, f.text));
                }
            }
        }
        if let Some(d) = &p.date {
            planted_dates += 1;
            match read.first() {
                Some(r) if &r.date == d => found_dates += 1,
                Some(_) => wrong_dates += 1,
                None => {}
            }
        } else if !read.is_empty() {
            wrong_dates += 1;
        }
        eprintln!(
            "photo {}: {} of {} barcodes (wrong or extra: {:?}), date {:?} read {:?}",
            i + 1,
            found.len() - wrong.len(),
            p.gtins.len(),
            wrong,
            p.date,
            read.first().map(|r| &r.date)
        );
    }
    let rows = [
        ("decoding (to 2 MP, grey and colour)", decode),
        ("barcodes (rxing)", codes),
        ("printed dates (Tesseract)", dates),
        (
            "items (EfficientNet-Lite0, ranked against 2,000 confirmed photos)",
            items,
        ),
    ];
    let total: Vec<f64> = (0..n).map(|i| rows.iter().map(|r| r.1[i]).sum()).collect();
    println!("### Analysis of {n} photos of 1600 × 1200 (JPEG, {mean_kb:.0} KB on average), one worker\n");
    println!("| stage | mean | p95 | photos per second |");
    println!("|---|---:|---:|---:|");
    for (name, ms) in rows
        .iter()
        .map(|(n, v)| (*n, v.clone()))
        .chain([("all stages", total)])
    {
        let (mean, p95) = stats(ms);
        println!(
            "| {name} | {mean:.0} ms | {p95:.0} ms | {:.2} |",
            1000.0 / mean
        );
    }
    println!(
        "\nFound: {found_codes} of {planted_codes} planted barcodes ({wrong_codes} wrong or extra); {found_dates} of {planted_dates} planted dates ({wrong_dates} wrong or extra)."
    );
}
