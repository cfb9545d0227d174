//! A test OpenID Connect issuer on loopback that speaks what a Cognito user
//! pool's hosted UI does: `/oauth2/authorize` (approves at once and
//! redirects back with a code), `/oauth2/token` (code + PKCE verifier +
//! client secret → ID token, each code once), `/pool/.well-known/jwks.json`
//! and `/logout`. Its keys are the fixtures in `tests/fixtures/oidc`. A test
//! sets [`Behaviour`] to make it misbehave: sign with a stranger's key,
//! for another audience, already expired, and so on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "larder-test-client";
pub const CLIENT_SECRET: &str = "larder-test-secret";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/oidc");

/// Who signs in, and how the issuer should misbehave.
#[derive(Debug, Clone)]
pub struct Behaviour {
    pub sub: String,
    pub email: String,
    pub email_verified: bool,
    pub name: String,
    pub groups: Vec<String>,
    /// Sign with the key that is not in the JWKS (under the JWKS's kid).
    pub stranger_key: bool,
    /// The kid in the token's header.
    pub kid: String,
    pub audience: String,
    /// Seconds from now the token expires (negative: already expired).
    pub expires_in: i64,
    pub token_use: String,
    /// Replaces the nonce the authorize request carried.
    pub nonce: Option<String>,
}

impl Behaviour {
    pub fn person(sub: &str, email: &str) -> Self {
        Self {
            sub: sub.into(),
            email: email.into(),
            email_verified: true,
            name: "Gia Google".into(),
            groups: Vec::new(),
            stranger_key: false,
            kid: "test-key-1".into(),
            audience: CLIENT_ID.into(),
            expires_in: 3600,
            token_use: "id".into(),
            nonce: None,
        }
    }
}

struct Grant {
    nonce: String,
    challenge: String,
    used: bool,
}

#[derive(Clone)]
struct Shared {
    base: String,
    behaviour: Arc<Mutex<Behaviour>>,
    codes: Arc<Mutex<HashMap<String, Grant>>>,
    jwks_fetches: Arc<Mutex<u32>>,
}

pub struct Issuer {
    pub base: String,
    behaviour: Arc<Mutex<Behaviour>>,
    jwks_fetches: Arc<Mutex<u32>>,
}

impl Issuer {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shared = Shared {
            base: base.clone(),
            behaviour: Arc::new(Mutex::new(Behaviour::person(
                "sub-1",
                "someone@college.example",
            ))),
            codes: Arc::default(),
            jwks_fetches: Arc::default(),
        };
        let app = Router::new()
            .route("/oauth2/authorize", get(authorize))
            .route("/oauth2/token", post(token))
            .route("/pool/.well-known/jwks.json", get(jwks))
            .route("/logout", get(|| async { "signed out of the pool" }))
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            base,
            behaviour: shared.behaviour,
            jwks_fetches: shared.jwks_fetches,
        }
    }

    /// The server's `LARDER_COGNITO_*` for this issuer.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("LARDER_COGNITO_CLIENT_ID", CLIENT_ID.into()),
            ("LARDER_COGNITO_CLIENT_SECRET", CLIENT_SECRET.into()),
            ("LARDER_COGNITO_DOMAIN", self.base.clone()),
            ("LARDER_COGNITO_ISSUER", format!("{}/pool", self.base)),
        ]
    }

    pub fn behave(&self, b: Behaviour) {
        *self.behaviour.lock().unwrap() = b;
    }

    pub fn jwks_fetches(&self) -> u32 {
        *self.jwks_fetches.lock().unwrap()
    }
}

async fn authorize(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let need = |k: &str| q.get(k).cloned().unwrap_or_default();
    if need("client_id") != CLIENT_ID
        || need("response_type") != "code"
        || need("code_challenge_method") != "S256"
        || !need("scope").split(' ').any(|s| s == "openid")
    {
        return (StatusCode::BAD_REQUEST, "bad authorize request").into_response();
    }
    let code = format!("code-{}", uuid_like());
    s.codes.lock().unwrap().insert(
        code.clone(),
        Grant {
            nonce: need("nonce"),
            challenge: need("code_challenge"),
            used: false,
        },
    );
    let mut url = reqwest::Url::parse(&need("redirect_uri")).unwrap();
    url.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &need("state"));
    Redirect::to(url.as_str()).into_response()
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    format!(
        "{:x}{:x}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn oauth_error(code: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": code }))).into_response()
}

async fn token(
    State(s): State<Shared>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    // The client authenticates with HTTP Basic, as Cognito's app clients do.
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    if f.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return oauth_error("unsupported_grant_type");
    }
    let code = f.get("code").cloned().unwrap_or_default();
    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
    let nonce = {
        let mut codes = s.codes.lock().unwrap();
        let Some(grant) = codes.get_mut(&code) else {
            return oauth_error("invalid_grant");
        };
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.as_bytes()));
        if grant.used || challenge != grant.challenge {
            return oauth_error("invalid_grant");
        }
        grant.used = true;
        grant.nonce.clone()
    };
    let b = s.behaviour.lock().unwrap().clone();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({
        "sub": b.sub,
        "email": b.email,
        "email_verified": if b.email_verified { "true" } else { "false" },
        "name": b.name,
        "cognito:groups": b.groups,
        "iss": format!("{}/pool", s.base),
        "aud": b.audience,
        "token_use": b.token_use,
        "nonce": b.nonce.unwrap_or(nonce),
        "auth_time": now,
        "iat": now,
        "exp": now + b.expires_in,
    });
    let pem = std::fs::read(format!(
        "{FIXTURES}/{}.pem",
        if b.stranger_key {
            "stranger"
        } else {
            "signing"
        }
    ))
    .unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(b.kid);
    let id_token =
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(&pem).unwrap()).unwrap();
    Json(json!({
        "access_token": "not-used-by-larder",
        "token_type": "Bearer",
        "expires_in": 3600,
        "id_token": id_token,
    }))
    .into_response()
}

async fn jwks(State(s): State<Shared>) -> Json<Value> {
    *s.jwks_fetches.lock().unwrap() += 1;
    let text = std::fs::read_to_string(format!("{FIXTURES}/jwks.json")).unwrap();
    Json(serde_json::from_str(&text).unwrap())
}
