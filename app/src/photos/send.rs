//! Sending an optimized photo to the server as a request body (intake
//! photos, post photos, avatars), and telling a refusal from no
//! connection.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Why a photo was not stored.
pub enum Sent {
    /// No connection (or a proxy that cannot reach the server): try again
    /// later.
    Offline,
    /// The server said no, and why.
    Refused(String),
}

async fn text(response: &web_sys::Response) -> String {
    match response.text() {
        Ok(p) => JsFuture::from(p)
            .await
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// POSTs `blob` to `url`; the stored photo's answer (201) as JSON text.
/// `name` starts a refusal's message.
pub async fn post_picture(url: &str, name: &str, blob: &web_sys::Blob) -> Result<String, Sent> {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(blob);
    let headers = web_sys::Headers::new().map_err(|_| Sent::Offline)?;
    let _ = headers.set("content-type", &blob.type_());
    init.set_headers(&headers);
    let request = web_sys::Request::new_with_str_and_init(url, &init)
        .map_err(|_| Sent::Refused(format!("{name}: the browser could not send it.")))?;
    let window = web_sys::window().ok_or(Sent::Offline)?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(|_| Sent::Offline)?
        .unchecked_into();
    if response.status() == 201 {
        return Ok(text(&response).await);
    }
    if matches!(response.status(), 502..=504) {
        return Err(Sent::Offline);
    }
    let body = text(&response).await;
    Err(Sent::Refused(
        serde_json::from_str::<crate::error::AppError>(&body)
            .map(|e| format!("{name}: {e}"))
            .unwrap_or_else(|_| format!("{name}: the upload failed ({}).", response.status())),
    ))
}
