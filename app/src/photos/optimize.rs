//! Photo optimization in the browser, before upload: the browser's own
//! decoder reads the file (applying its Exif orientation once, as it
//! draws), its high-quality resampler brings the longest edge down to the
//! configured size, and a canvas re-encodes it as JPEG within a byte
//! budget. What leaves the phone is pixels only: no Exif, so no GPS.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::js_sys;
use web_sys::{Blob, HtmlCanvasElement, ImageBitmap, ImageBitmapOptions};

/// How photos are optimized.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub longest_edge: u32,
    /// JPEG quality to start from, 0–1.
    pub quality: f64,
    /// Lower the quality (down to `min_quality`) until the photo fits.
    pub budget_bytes: f64,
    pub min_quality: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            longest_edge: 1600,
            quality: 0.82,
            budget_bytes: 600.0 * 1024.0,
            min_quality: 0.5,
        }
    }
}

/// An optimized photo, ready to upload.
pub struct Optimized {
    pub blob: Blob,
    pub width: u32,
    pub height: u32,
    pub original_bytes: f64,
}

fn js_error(e: wasm_bindgen::JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "unknown error".into())
}

async fn bitmap(
    window: &web_sys::Window,
    source: &wasm_bindgen::JsValue,
    options: &ImageBitmapOptions,
) -> Result<ImageBitmap, wasm_bindgen::JsValue> {
    let promise = if let Some(blob) = source.dyn_ref::<Blob>() {
        window.create_image_bitmap_with_blob_and_image_bitmap_options(blob, options)?
    } else {
        let bitmap: &ImageBitmap = source.unchecked_ref();
        window.create_image_bitmap_with_image_bitmap_and_image_bitmap_options(bitmap, options)?
    };
    Ok(JsFuture::from(promise).await?.unchecked_into())
}

/// The longest edge at most `edge`, the proportions kept.
pub fn fit(width: u32, height: u32, edge: u32) -> (u32, u32) {
    let longest = width.max(height);
    if longest <= edge || longest == 0 {
        return (width, height);
    }
    let scale = edge as f64 / longest as f64;
    (
        ((width as f64 * scale).round() as u32).max(1),
        ((height as f64 * scale).round() as u32).max(1),
    )
}

/// Optimizes one picked or photographed file.
pub async fn optimize(file: &Blob, name: &str, s: Settings) -> Result<Optimized, String> {
    let kind = file.type_();
    if kind == "image/svg+xml" || (!kind.is_empty() && !kind.starts_with("image/")) {
        return Err(format!(
            "“{name}” is not a photo ({}). Larder takes JPEG and PNG photos.",
            if kind.is_empty() {
                "unknown type".to_string()
            } else {
                kind
            }
        ));
    }
    let window = web_sys::window().ok_or("no window")?;
    let options = ImageBitmapOptions::new();
    options.set_image_orientation(web_sys::ImageOrientation::FromImage);
    let full = bitmap(&window, file.as_ref(), &options)
        .await
        .map_err(|e| {
            format!(
                "“{name}” could not be read as a photo ({}). Larder takes JPEG and PNG photos.",
                js_error(e)
            )
        })?;
    let (width, height) = fit(full.width(), full.height(), s.longest_edge);
    let resized = if (width, height) == (full.width(), full.height()) {
        full
    } else {
        let options = ImageBitmapOptions::new();
        options.set_resize_width(width);
        options.set_resize_height(height);
        options.set_resize_quality(web_sys::ResizeQuality::High);
        let small = bitmap(&window, full.as_ref(), &options)
            .await
            .map_err(|e| format!("“{name}” could not be resized ({})", js_error(e)))?;
        full.close();
        small
    };
    let document = window.document().ok_or("no document")?;
    let canvas: HtmlCanvasElement = document
        .create_element("canvas")
        .map_err(js_error)?
        .unchecked_into();
    canvas.set_width(width);
    canvas.set_height(height);
    let ctx: web_sys::CanvasRenderingContext2d = canvas
        .get_context("2d")
        .map_err(js_error)?
        .ok_or("no 2D canvas")?
        .unchecked_into();
    // A transparent PNG would turn black as JPEG: white behind it.
    ctx.set_fill_style_str("#fff");
    ctx.fill_rect(0.0, 0.0, width as f64, height as f64);
    ctx.draw_image_with_image_bitmap(&resized, 0.0, 0.0)
        .map_err(js_error)?;
    resized.close();
    let mut quality = s.quality;
    loop {
        let blob = to_blob(&canvas, quality).await?;
        if blob.size() <= s.budget_bytes || quality - 0.1 < s.min_quality - 1e-9 {
            return Ok(Optimized {
                blob,
                width,
                height,
                original_bytes: file.size(),
            });
        }
        quality -= 0.1;
    }
}

async fn to_blob(canvas: &HtmlCanvasElement, quality: f64) -> Result<Blob, String> {
    let mut failed = None;
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let done =
            wasm_bindgen::closure::Closure::once_into_js(move |blob: wasm_bindgen::JsValue| {
                let _ = resolve.call1(&wasm_bindgen::JsValue::NULL, &blob);
            });
        if let Err(e) = canvas.to_blob_with_type_and_encoder_options(
            done.unchecked_ref(),
            "image/jpeg",
            &quality.into(),
        ) {
            failed = Some(js_error(e));
        }
    });
    if let Some(e) = failed {
        return Err(format!("the browser could not encode the photo ({e})"));
    }
    let blob = JsFuture::from(promise).await.map_err(js_error)?;
    blob.dyn_into::<Blob>()
        .map_err(|_| "the browser could not encode the photo".to_string())
}
