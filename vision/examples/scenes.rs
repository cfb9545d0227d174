//! Prototype: similarities between generated product photos.
use image::{Rgb, RgbImage};
fn rng(seed: &mut u64) -> u32 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    (*seed >> 16) as u32
}
#[derive(Clone, Copy)]
enum Pattern {
    Circles,
    Stripes,
}
fn scene(
    colour: [u8; 3],
    pattern: Pattern,
    seed: u64,
    place: (f32, f32, f32),
    light: i32,
) -> RgbImage {
    let (w, h) = (640u32, 480u32);
    let mut s = seed.max(1);
    let mut img = RgbImage::from_pixel(w, h, Rgb([200, 195, 185]));
    // Clutter: muted rectangles.
    for _ in 0..25 {
        let (x, y) = (rng(&mut s) % w, rng(&mut s) % h);
        let (rw, rh) = (20 + rng(&mut s) % 120, 20 + rng(&mut s) % 120);
        let c = [
            90 + (rng(&mut s) % 100) as u8,
            90 + (rng(&mut s) % 100) as u8,
            90 + (rng(&mut s) % 100) as u8,
        ];
        for yy in y..(y + rh).min(h) {
            for xx in x..(x + rw).min(w) {
                img.put_pixel(xx, yy, Rgb(c));
            }
        }
    }
    let (cx, cy, size) = place;
    let (bw, bh) = (size * 0.7, size);
    let (x0, y0) = (cx * w as f32 - bw / 2.0, cy * h as f32 - bh / 2.0);
    for yy in 0..h {
        for xx in 0..w {
            let (u, v) = ((xx as f32 - x0) / bw, (yy as f32 - y0) / bh);
            if !(0.0..1.0).contains(&u) || !(0.0..1.0).contains(&v) {
                continue;
            }
            let mark = match pattern {
                Pattern::Circles => {
                    let (a, b) = ((u * 3.0).fract() - 0.5, (v * 4.0).fract() - 0.5);
                    a * a + b * b < 0.09
                }
                Pattern::Stripes => ((u + v) * 6.0).fract() < 0.45,
            };
            let px = if mark { [245, 240, 230] } else { colour };
            img.put_pixel(xx, yy, Rgb(px));
        }
    }
    for p in img.pixels_mut() {
        for c in p.0.iter_mut() {
            *c = (*c as i32 + light).clamp(0, 255) as u8;
        }
    }
    img
}
fn main() {
    let model = vision::Model::load(std::path::Path::new(
        "models/efficientnet-lite0.safetensors",
    ))
    .unwrap();
    let feat = |img: &RgbImage| {
        let small = image::imageops::resize(img, 299, 224, image::imageops::FilterType::Triangle);
        let o = model.run(&vision::Rgb {
            width: 299,
            height: 224,
            pixels: small.as_raw(),
        });
        (o.features, vision::top_classes(&o.classes, 2))
    };
    let red = [190, 40, 35];
    let blue = [40, 70, 170];
    let products = [
        ("red circles", red, Pattern::Circles),
        ("red stripes", red, Pattern::Stripes),
        ("blue circles", blue, Pattern::Circles),
    ];
    let refs: Vec<_> = products
        .iter()
        .enumerate()
        .map(|(i, (_, c, p))| feat(&scene(*c, *p, 11 + i as u64, (0.5, 0.5, 300.0), 0)))
        .collect();
    for (i, (name, c, p)) in products.iter().enumerate() {
        let again = scene(*c, *p, 99 + i as u64, (0.4, 0.55, 260.0), -25);
        let (f, top) = feat(&again);
        let sims: Vec<String> = refs
            .iter()
            .map(|r| format!("{:.3}", vision::similarity(&f, &r.0)))
            .collect();
        println!("{name} again: {sims:?} top {top:?}");
    }
    let clutter = scene(red, Pattern::Circles, 5, (2.0, 2.0, 10.0), 0);
    let (f, _) = feat(&clutter);
    println!(
        "no product: {:?}",
        refs.iter()
            .map(|r| format!("{:.3}", vision::similarity(&f, &r.0)))
            .collect::<Vec<_>>()
    );
}
