//! HTTP plumbing around the app: cross-site request forgery protection,
//! server-function error statuses, health and readiness.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

use app::error::AppError;
use app::state::AppState;

/// Refuses state-changing requests that a browser sent from another site.
///
/// Browsers send `Origin` on every cross-origin request and on same-origin
/// POSTs; it must name this host. Without `Origin`, `Sec-Fetch-Site` (sent
/// by all current browsers) must not say `cross-site`. Requests with
/// neither come from scripts, which cannot carry a victim's cookie. Together
/// with `SameSite=Lax` session cookies this is OWASP's recommended defence.
pub async fn csrf_guard(
    State(public_origin): State<std::sync::Arc<String>>,
    req: Request,
    next: Next,
) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    if let Err(reason) = same_site(req.headers(), &public_origin) {
        tracing::warn!(%reason, path = %req.uri().path(), "cross-site request refused");
        return AppError::Forbidden(
            "This request came from another site and was refused. Reload the page and try again."
                .into(),
        )
        .into_response();
    }
    next.run(req).await
}

/// `scheme://host[:port]` of the configured public URL.
pub fn public_origin(public_url: &str) -> String {
    match public_url.split_once("://") {
        Some((scheme, rest)) => {
            format!("{scheme}://{}", rest.split('/').next().unwrap_or_default())
        }
        None => public_url.to_string(),
    }
    .to_ascii_lowercase()
}

fn same_site(headers: &HeaderMap, public_origin: &str) -> Result<(), String> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin
            .to_str()
            .map_err(|_| "unreadable Origin".to_string())?;
        // Behind a proxy that rewrites Host, the public URL is the origin.
        if origin
            .trim_end_matches('/')
            .eq_ignore_ascii_case(public_origin)
        {
            return Ok(());
        }
        let origin_host = origin
            .split_once("://")
            .map(|(_, rest)| rest.trim_end_matches('/'));
        return match (origin_host, host) {
            (Some(o), Some(h)) if o.eq_ignore_ascii_case(h) => Ok(()),
            _ => Err(format!(
                "Origin {origin} does not match Host {}",
                host.unwrap_or("(none)")
            )),
        };
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some("cross-site") | Some("same-site") => Err("Sec-Fetch-Site says cross-site".into()),
        _ => Ok(()),
    }
}

/// Server functions answer every error with 500; this gives each the status
/// its `AppError` calls for (422 for bad input, 403, 404, …), so clients and
/// logs see client errors as client errors.
pub async fn server_fn_status(req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    if !is_api || res.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = match to_bytes(body, 1 << 20).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR, "response too large").into_response(),
    };
    if let Ok(err) = serde_json::from_slice::<AppError>(&bytes) {
        if let Ok(status) = StatusCode::from_u16(err.status()) {
            parts.status = status;
        }
        if let AppError::TooManyRequests {
            retry_after_secs, ..
        }
        | AppError::Busy {
            retry_after_secs, ..
        } = err
        {
            if let Ok(v) = retry_after_secs.to_string().parse() {
                parts.headers.insert(header::RETRY_AFTER, v);
            }
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// How long readiness waits for the photo store.
const STORE_READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(3);

/// The database answers and its schema is current, and the photo store
/// answers: ready for traffic. The message broker and Redis are reported
/// but do not take the replica out of service: writes go on without the
/// broker (events wait in the table for the relay), without Redis each
/// replica throttles and limits on its own, and without the read replica
/// reports read the primary.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let store = tokio::time::timeout(STORE_READY_WITHIN, state.photos.store.ready()).await;
    if !matches!(store, Ok(Ok(()))) {
        tracing::warn!(outcome = ?store, "readiness: photo store unreachable");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unavailable", "reason": "photo store unreachable"})),
        )
            .into_response();
    }
    if let Err(e) = state.db.ping().await {
        tracing::warn!(error = %e, "readiness: database unreachable");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unavailable", "reason": "database unreachable"})),
        )
            .into_response();
    }
    match state.db.pending_migrations().await {
        Ok(0) => {
            let events = match state.bus.broker() {
                None => "in-process",
                Some(true) => "rabbitmq",
                Some(false) => "broker unreachable; events wait in the table",
            };
            let limits = match &state.cluster {
                None => "this replica",
                Some(c) if c.ping().await => "redis",
                Some(_) => "redis unreachable; each replica counts alone",
            };
            let replica = match state.db.replica() {
                None => "none",
                Some((health, _)) => health.describe(),
            };
            Json(serde_json::json!({
                "status": "ready", "events": events, "limits": limits, "replica": replica,
            }))
            .into_response()
        }
        Ok(n) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unavailable", "reason": format!("{n} migrations not applied")})),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: cannot read migrations");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "unavailable", "reason": "cannot read migration state"})),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn same_origin_posts_pass_and_foreign_ones_do_not() {
        let public = public_origin("https://pantry.college.example/larder");
        assert_eq!(public, "https://pantry.college.example");
        let check = |pairs: &[(&str, &str)]| same_site(&headers(pairs), &public);
        assert!(check(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000")
        ])
        .is_ok());
        assert!(check(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "https://evil.example")
        ])
        .is_err());
        assert!(check(&[("host", "127.0.0.1:3000"), ("origin", "null")]).is_err());
        assert!(check(&[
            ("host", "10.0.0.5:3000"),
            ("origin", "https://pantry.college.example")
        ])
        .is_ok());
        assert!(check(&[("host", "h"), ("sec-fetch-site", "cross-site")]).is_err());
        assert!(check(&[("host", "h"), ("sec-fetch-site", "same-origin")]).is_ok());
        assert!(check(&[("host", "h")]).is_ok());
    }
}
