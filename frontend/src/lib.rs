//! The WebAssembly entry: hydrates the page the server rendered.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    app::hydrate();
}

/// Larder's photo optimizer, as the intake page runs it, callable from
/// JavaScript: `bench/optimizer.sh` measures it beside other libraries on
/// the same photos in the same browser. Resolves to the optimized JPEG.
#[wasm_bindgen(js_name = optimizePhoto)]
pub async fn optimize_photo(
    file: web_sys::Blob,
    longest_edge: u32,
    quality: f64,
    budget_bytes: f64,
) -> Result<web_sys::Blob, JsValue> {
    let settings = app::photos::optimize::Settings {
        longest_edge,
        quality,
        budget_bytes,
        ..Default::default()
    };
    app::photos::optimize::optimize(&file, "photo", settings)
        .await
        .map(|o| o.blob)
        .map_err(|e| JsValue::from_str(&e))
}
