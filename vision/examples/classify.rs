//! Prints the top classes and the time for each photo given:
//! `cargo run -p vision --release --example classify -- MODEL PHOTO...`
use image::imageops::FilterType;
fn main() {
    let mut args = std::env::args().skip(1);
    let model =
        vision::Model::load(std::path::Path::new(&args.next().expect("model path"))).unwrap();
    for path in args {
        let photo = image::open(&path).unwrap();
        let scale = 224.0 / photo.width().min(photo.height()) as f32;
        let p = photo
            .resize_exact(
                (photo.width() as f32 * scale) as u32,
                (photo.height() as f32 * scale) as u32,
                FilterType::Triangle,
            )
            .to_rgb8();
        let start = std::time::Instant::now();
        let out = model.run(&vision::Rgb {
            width: p.width() as usize,
            height: p.height() as usize,
            pixels: p.as_raw(),
        });
        println!(
            "{path} {}×{} {:?} {:?}",
            p.width(),
            p.height(),
            start.elapsed(),
            vision::top_classes(&out.classes, 5)
        );
    }
}
