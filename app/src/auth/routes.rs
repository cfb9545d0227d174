//! The auth module's plain HTTP handlers: the two ends of single sign-on,
//! which are browser redirects rather than server functions.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use http::HeaderMap;

use super::oidc::{self, STATE_COOKIE};
use super::{service, sessions};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/sso", get(start))
        .route("/auth/callback", get(callback))
        .route("/organizations/{id}/audit.csv", get(audit_csv))
}

/// `GET /organizations/{id}/audit.csv?from=&to=&kind=&person=`: the audit
/// log of that filter, for the organization's admins.
async fn audit_csv(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let caller = service::caller_from_headers(&state, &headers).await?;
        let org: crate::ids::OrganizationId = id.parse()?;
        let get = |k: &str| q.get(k).cloned().unwrap_or_default();
        let query = super::audit::AuditQuery {
            from: get("from"),
            to: get("to"),
            kind: get("kind"),
            person: get("person"),
            before: None,
        };
        super::audit::audit_csv(&state, &caller, &org, &query).await
    }
    .await;
    match result {
        Ok((name, body)) => (
            [
                (
                    http::header::CONTENT_TYPE,
                    "text/csv; charset=utf-8".to_string(),
                ),
                (
                    http::header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
            ],
            body,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// The cookie holding a sign-in's state for the ten minutes it may take;
/// `Lax`, so it comes back with the identity provider's redirect.
fn state_cookie(value: &str, max_age: i64, secure: bool) -> String {
    format!(
        "{STATE_COOKIE}={value}; Path=/auth; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

fn back_to_sign_in(code: &str) -> String {
    format!("/sign-in?sso={code}")
}

/// `GET /auth/sso?next=/path`: off to the pool's sign-in.
async fn start(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(oidc) = oidc::configured(&state) else {
        return Redirect::to("/sign-in").into_response();
    };
    match oidc::begin(&state, &oidc, q.get("next").map(String::as_str)).await {
        Ok((url, csrf)) => (
            [(
                http::header::SET_COOKIE,
                state_cookie(&csrf, 600, state.settings.secure_cookies),
            )],
            Redirect::to(&url),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "could not start single sign-on");
            Redirect::to(&back_to_sign_in("internal")).into_response()
        }
    }
}

/// `GET /auth/callback?code=…&state=…`: signed in, or back to the sign-in
/// page with the reason.
async fn callback(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
) -> Response {
    let Some(oidc) = oidc::configured(&state) else {
        return Redirect::to("/sign-in").into_response();
    };
    let cookie = crate::request::cookie_from_headers(&headers, STATE_COOKIE);
    let clear = state_cookie("", 0, state.settings.secure_cookies);
    let origin = sessions::Origin::of(peer.map(|p| p.0 .0.ip()), &headers, &state.settings);
    match oidc::finish(&state, &oidc, &q, cookie.as_deref(), &origin).await {
        Ok(done) => {
            let mut res = Redirect::to(&done.next).into_response();
            let h = res.headers_mut();
            for c in [
                sessions::session_cookie(&done.session, &state.settings),
                clear,
            ] {
                if let Ok(v) = c.parse() {
                    h.append(http::header::SET_COOKIE, v);
                }
            }
            res
        }
        Err(e) => {
            tracing::info!(reason = e.code(), "single sign-on refused");
            (
                [(http::header::SET_COOKIE, clear)],
                Redirect::to(&back_to_sign_in(e.code())),
            )
                .into_response()
        }
    }
}
