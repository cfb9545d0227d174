//! Single sign-on: OpenID Connect's authorization-code flow with PKCE
//! against an Amazon Cognito user pool's hosted UI (Google as its identity
//! provider), configured by `LARDER_COGNITO_*`.
//!
//! - `GET /auth/sso` starts a sign-in: a random `state` (kept hashed in
//!   `oidc_logins` and in a cookie of this browser, so a callback from
//!   another browser is refused), a `nonce` and a PKCE verifier, then the
//!   redirect to the pool's `/oauth2/authorize`.
//! - `GET /auth/callback` takes the code back once: the state must match
//!   the cookie and still be open (it is deleted as it is used), the code
//!   is exchanged at `/oauth2/token` with the verifier, and the ID token is
//!   verified in full: RS256 signature against the pool's JWKS (cached,
//!   fetched again when a token names an unknown key, at most once a
//!   minute), issuer, audience, expiry with a minute's leeway,
//!   `token_use = id` and the nonce.
//! - The account: the one already linked to the token's subject; else the
//!   one with the verified email (linked now); else a new one when an
//!   invitation for that email is open (accepted by this sign-in) or open
//!   sign-up is on. `cognito:groups` can grant roles through a mapping.
//!
//! Crates: `oauth2` for PKCE, the state and the code exchange;
//! `jsonwebtoken` (pure-Rust RSA) for the token's signature and claims.
//! Nothing here does its own cryptography.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use sqlx::Row as _;

use super::model::*;
use super::service::token_hash;
use super::sessions::{create_session_via, record_sign_in, SignInMethod};
use crate::error::AppResult;
use crate::ids::{MembershipId, UserId};
use crate::state::AppState;

/// The cookie that binds a sign-in under way to this browser.
pub const STATE_COOKIE: &str = "larder_sso";
/// How long a sign-in may take between leaving and coming back.
const LOGIN_TTL_MS: i64 = 10 * 60 * 1000;
/// A token a few seconds past its expiry (clock drift) still counts.
const LEEWAY_SECS: u64 = 60;
/// The JWKS is fetched again for an unknown key at most this often.
const JWKS_REFRESH: Duration = Duration::from_secs(60);

/// A `cognito:groups` group that grants a role at a place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRole {
    pub group: String,
    pub scope_kind: ScopeKind,
    pub scope_id: String,
    pub role: Role,
}

impl GroupRole {
    /// `LARDER_COGNITO_GROUP_ROLES`: `group=kind:id:role`, comma-separated
    /// (`pantry-staff=pantry:0193…:staff, coordinators=organization:0193…:manager`).
    pub fn parse_list(raw: &str) -> Result<Vec<Self>, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|entry| {
                let bad = || format!("“{entry}” is not group=kind:id:role");
                let (group, target) = entry.split_once('=').ok_or_else(bad)?;
                let mut parts = target.trim().splitn(3, ':');
                let (kind, id, role) = (
                    parts.next().ok_or_else(bad)?,
                    parts.next().ok_or_else(bad)?,
                    parts.next().ok_or_else(bad)?,
                );
                Ok(Self {
                    group: group.trim().to_string(),
                    scope_kind: ScopeKind::parse(kind, "group").map_err(|e| e.to_string())?,
                    scope_id: id.trim().to_string(),
                    role: Role::parse(role, "group").map_err(|e| e.to_string())?,
                })
            })
            .collect()
    }
}

/// Where the pool is and who Larder is to it.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The hosted UI, `https://<domain>.auth.<region>.amazoncognito.com`.
    pub hosted_ui: String,
    /// `https://cognito-idp.<region>.amazonaws.com/<user pool id>`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// This Larder's `/auth/callback`, as registered with the app client.
    pub redirect_url: String,
    /// Where the pool sends the browser after its own sign-out.
    pub sign_out_url: String,
    /// `identity_provider` on the authorize request (`Google`), so the
    /// pool goes straight to Google; empty shows the pool's own page.
    pub identity_provider: Option<String>,
    pub group_roles: Vec<GroupRole>,
    /// The button's words: "Sign in with Google".
    pub button_label: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
struct IdTokenField {
    id_token: String,
}
impl ExtraTokenFields for IdTokenField {}

type TokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;
type PoolClient = Client<
    BasicErrorResponse,
    TokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// The configured pool, its HTTP client and the keys it signs with.
pub struct Oidc {
    pub settings: OidcSettings,
    client: PoolClient,
    http: reqwest::Client,
    jwks: tokio::sync::Mutex<(JwkSet, Option<Instant>)>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Oidc({})", self.settings.issuer)
    }
}

/// Why a single sign-on did not sign anyone in. Each has a short code the
/// sign-in page turns into a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsoError {
    /// The state is missing, unknown, used, expired or from another browser.
    State,
    /// The pool answered the authorize request with an error.
    Provider(String),
    /// The code was refused at the token endpoint (used twice, expired).
    Code,
    Signature,
    Audience,
    Issuer,
    Expired,
    /// Wrong nonce, `token_use` not `id`, or a token that does not parse.
    Token,
    /// The email is not verified, so it links to nothing.
    Unverified,
    /// No account, no invitation, and sign-up is closed.
    NoAccount,
    /// The pool could not be reached.
    Unreachable,
    Internal,
}

impl SsoError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::State => "state",
            Self::Provider(_) => "provider",
            Self::Code => "code",
            Self::Signature => "signature",
            Self::Audience => "audience",
            Self::Issuer => "issuer",
            Self::Expired => "expired",
            Self::Token => "token",
            Self::Unverified => "unverified",
            Self::NoAccount => "no_account",
            Self::Unreachable => "unreachable",
            Self::Internal => "internal",
        }
    }
}

/// The ID token's claims Larder reads. Cognito sends `email_verified` as a
/// boolean or as the string "true".
#[derive(Debug, Deserialize)]
struct IdClaims {
    sub: String,
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
    token_use: Option<String>,
    nonce: Option<String>,
    name: Option<String>,
    #[serde(rename = "cognito:groups", default)]
    groups: Vec<String>,
}

impl IdClaims {
    fn verified_email(&self) -> Option<String> {
        let verified = match &self.email_verified {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(s)) => s == "true",
            _ => false,
        };
        self.email
            .as_deref()
            .filter(|_| verified)
            .and_then(|e| Email::parse(e, "email").ok())
            .map(|e| e.normalized())
    }
}

impl Oidc {
    pub fn new(settings: OidcSettings) -> Result<Self, String> {
        let base = settings.hosted_ui.trim_end_matches('/');
        let mut client = Client::new(ClientId::new(settings.client_id.clone()))
            .set_auth_uri(
                AuthUrl::new(format!("{base}/oauth2/authorize")).map_err(|e| e.to_string())?,
            )
            .set_token_uri(
                TokenUrl::new(format!("{base}/oauth2/token")).map_err(|e| e.to_string())?,
            )
            .set_redirect_uri(
                RedirectUrl::new(settings.redirect_url.clone()).map_err(|e| e.to_string())?,
            );
        if let Some(secret) = &settings.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.clone()));
        }
        // No redirects: the token endpoint answers directly, and following
        // one would let a compromised endpoint point the client elsewhere.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            settings,
            client,
            http,
            jwks: tokio::sync::Mutex::new((JwkSet { keys: Vec::new() }, None)),
        })
    }

    /// The pool's logout endpoint, which ends its session and comes back.
    pub fn logout_url(&self) -> String {
        let mut url = reqwest::Url::parse(&format!(
            "{}/logout",
            self.settings.hosted_ui.trim_end_matches('/')
        ))
        .expect("the hosted UI URL was checked at start-up");
        url.query_pairs_mut()
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("logout_uri", &self.settings.sign_out_url);
        url.to_string()
    }

    /// The key `kid` signs with: from the cached JWKS, or fetched again
    /// when it is not there and the last fetch is a minute old.
    async fn key(&self, kid: &str) -> Result<DecodingKey, SsoError> {
        let mut cached = self.jwks.lock().await;
        if cached.0.find(kid).is_none() && cached.1.is_none_or(|at| at.elapsed() >= JWKS_REFRESH) {
            let url = format!(
                "{}/.well-known/jwks.json",
                self.settings.issuer.trim_end_matches('/')
            );
            let fetched = async {
                self.http
                    .get(&url)
                    .send()
                    .await?
                    .error_for_status()?
                    .json::<JwkSet>()
                    .await
            }
            .await;
            cached.1 = Some(Instant::now());
            match fetched {
                Ok(set) => cached.0 = set,
                Err(e) => {
                    tracing::warn!(error = %e, %url, "could not fetch the pool's signing keys");
                    return Err(SsoError::Unreachable);
                }
            }
        }
        let jwk = cached.0.find(kid).ok_or(SsoError::Signature)?;
        DecodingKey::from_jwk(jwk).map_err(|_| SsoError::Signature)
    }

    /// Verifies an ID token: signature, issuer, audience, expiry,
    /// `token_use` and nonce.
    async fn verify(&self, id_token: &str, nonce: &str) -> Result<IdClaims, SsoError> {
        let header = jsonwebtoken::decode_header(id_token).map_err(|_| SsoError::Token)?;
        if header.alg != Algorithm::RS256 {
            return Err(SsoError::Signature);
        }
        let kid = header.kid.ok_or(SsoError::Signature)?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[self.settings.issuer.as_str()]);
        validation.set_audience(&[self.settings.client_id.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        let data = jsonwebtoken::decode::<IdClaims>(id_token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::InvalidSignature => SsoError::Signature,
                ErrorKind::InvalidAudience => SsoError::Audience,
                ErrorKind::InvalidIssuer => SsoError::Issuer,
                ErrorKind::ExpiredSignature => SsoError::Expired,
                _ => SsoError::Token,
            }
        })?;
        let claims = data.claims;
        if claims.token_use.as_deref() != Some("id") {
            return Err(SsoError::Token);
        }
        // Compared in constant time: the nonce is a secret of this sign-in.
        let given = claims.nonce.as_deref().unwrap_or_default();
        let same = given.len() == nonce.len()
            && given
                .bytes()
                .zip(nonce.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return Err(SsoError::Token);
        }
        Ok(claims)
    }
}

/// Starts a sign-in: returns where to send the browser and the state to
/// keep in its cookie.
pub async fn begin(
    state: &AppState,
    oidc: &Oidc,
    next: Option<&str>,
) -> AppResult<(String, String)> {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let nonce = super::service::random_token();
    let mut request = oidc
        .client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("openid".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .add_extra_param("nonce", &nonce)
        .set_pkce_challenge(challenge);
    if let Some(idp) = &oidc.settings.identity_provider {
        request = request.add_extra_param("identity_provider", idp);
    }
    let (url, csrf) = request.url();
    let now = state.clock.now_ms();
    sqlx::query("delete from oidc_logins where created_at < $1")
        .bind(now - LOGIN_TTL_MS)
        .execute(state.db.pool())
        .await?;
    sqlx::query(
        "insert into oidc_logins (state_hash, nonce, verifier, next, created_at) values ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash(csrf.secret()))
    .bind(&nonce)
    .bind(verifier.secret())
    .bind(next.filter(|n| n.starts_with('/') && !n.starts_with("//")))
    .bind(now)
    .execute(state.db.pool())
    .await?;
    Ok((url.to_string(), csrf.secret().clone()))
}

/// What a finished sign-in gives: the session token and where to go.
pub struct Finished {
    pub session: String,
    pub next: String,
}

/// Finishes a sign-in from the callback's parameters and the browser's
/// state cookie.
pub async fn finish(
    state: &AppState,
    oidc: &Oidc,
    params: &std::collections::HashMap<String, String>,
    cookie_state: Option<&str>,
    origin: &super::sessions::Origin,
) -> Result<Finished, SsoError> {
    let internal = |e: crate::error::AppError| {
        tracing::warn!(error = %e, "single sign-on failed on our side");
        SsoError::Internal
    };
    let given = params.get("state").map(String::as_str).unwrap_or_default();
    // Taken (deleted) first, whatever happens next: a state works once.
    let login = sqlx::query(
        "delete from oidc_logins where state_hash = $1 and created_at > $2 returning nonce, verifier, next",
    )
    .bind(token_hash(given))
    .bind(state.clock.now_ms() - LOGIN_TTL_MS)
    .fetch_optional(state.db.pool())
    .await
    .map_err(|e| internal(e.into()))?;
    let bound = cookie_state.is_some_and(|c| !given.is_empty() && c == given);
    let (Some(login), true) = (login, bound) else {
        return Err(SsoError::State);
    };
    if let Some(error) = params.get("error") {
        return Err(SsoError::Provider(error.chars().take(100).collect()));
    }
    let code = params.get("code").ok_or(SsoError::Code)?;
    let nonce: String = login.try_get("nonce").map_err(|e| internal(e.into()))?;
    let verifier: String = login.try_get("verifier").map_err(|e| internal(e.into()))?;
    let next: Option<String> = login.try_get("next").map_err(|e| internal(e.into()))?;
    let token = oidc
        .client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&oidc.http)
        .await
        .map_err(|e| {
            use oauth2::RequestTokenError;
            match e {
                RequestTokenError::ServerResponse(r) => {
                    tracing::info!(error = ?r.error(), "the pool refused the code");
                    SsoError::Code
                }
                other => {
                    tracing::warn!(error = %other, "the code exchange failed");
                    SsoError::Unreachable
                }
            }
        })?;
    let claims = oidc.verify(&token.extra_fields().id_token, &nonce).await?;
    let user = account_for(state, oidc, &claims).await?;
    apply_groups(state, oidc, &user, &claims.groups)
        .await
        .map_err(internal)?;
    let email = claims.email.clone().unwrap_or_default().to_lowercase();
    record_sign_in(
        &state.db,
        &state.settings,
        Some(user.as_str()),
        &email,
        SignInMethod::Oidc,
        true,
        origin,
    )
    .await;
    let session = create_session_via(
        &state.db,
        &user,
        &state.settings,
        SignInMethod::Oidc,
        origin,
    )
    .await
    .map_err(internal)?;
    Ok(Finished {
        session,
        next: next.unwrap_or_else(|| "/".into()),
    })
}

/// The account the verified claims sign in to, linking or creating it.
async fn account_for(state: &AppState, oidc: &Oidc, claims: &IdClaims) -> Result<UserId, SsoError> {
    let internal = |e: crate::error::AppError| {
        tracing::warn!(error = %e, "single sign-on failed on our side");
        SsoError::Internal
    };
    let issuer = oidc.settings.issuer.as_str();
    let linked: Option<String> = sqlx::query_scalar(
        "select i.user_id from oidc_identities i join users u on u.id = i.user_id \
         where i.issuer = $1 and i.subject = $2 and u.disabled_at is null",
    )
    .bind(issuer)
    .bind(&claims.sub)
    .fetch_optional(state.db.pool())
    .await
    .map_err(|e| internal(e.into()))?;
    if let Some(id) = linked {
        return Ok(UserId::from_stored(id));
    }
    let email = claims.verified_email().ok_or(SsoError::Unverified)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await.map_err(|e| internal(e.into()))?;
    let existing: Option<(String, Option<i64>)> =
        sqlx::query_as("select id, disabled_at from users where email_key = $1")
            .bind(&email)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| internal(e.into()))?;
    let user = match existing {
        Some((_, Some(_))) => return Err(SsoError::NoAccount),
        Some((id, None)) => {
            let user = UserId::from_stored(id);
            super::invitations::accept_open_for_email(
                &mut tx,
                state.db.backend(),
                &email,
                &user,
                now,
            )
            .await
            .map_err(internal)?;
            user
        }
        None => {
            let open: i64 = sqlx::query_scalar(
                "select count(*) from invitations where email_key = $1 and accepted_at is null \
                 and revoked_at is null and expires_at > $2",
            )
            .bind(&email)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| internal(e.into()))?;
            if open == 0 && !state.settings.open_signup {
                return Err(SsoError::NoAccount);
            }
            let user = UserId::new();
            let shown = claims
                .name
                .as_deref()
                .and_then(|n| DisplayName::parse(n, "name").ok())
                .or_else(|| {
                    DisplayName::parse(email.split('@').next().unwrap_or("member"), "name").ok()
                })
                .ok_or(SsoError::Token)?;
            let address = Email::parse(claims.email.as_deref().unwrap_or(&email), "email")
                .map_err(|_| SsoError::Unverified)?;
            // No password: "!" is no argon2 hash, so no password matches it
            // (an admin's reset link can give the account one).
            super::service::insert_user(&mut tx, &user, &shown, &address, "!", false)
                .await
                .map_err(internal)?;
            super::invitations::accept_open_for_email(
                &mut tx,
                state.db.backend(),
                &email,
                &user,
                now,
            )
            .await
            .map_err(internal)?;
            user
        }
    };
    sqlx::query(
        "insert into oidc_identities (issuer, subject, user_id, email, created_at) values ($1, $2, $3, $4, $5)",
    )
    .bind(issuer)
    .bind(&claims.sub)
    .bind(user.as_str())
    .bind(&email)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| internal(e.into()))?;
    tx.commit().await.map_err(|e| internal(e.into()))?;
    state.callers.forget_all();
    state.bus.committed();
    Ok(user)
}

/// Grants the roles the person's `cognito:groups` map to, never lowering
/// one they hold.
async fn apply_groups(
    state: &AppState,
    oidc: &Oidc,
    user: &UserId,
    groups: &[String],
) -> AppResult<()> {
    let grants: Vec<&GroupRole> = oidc
        .settings
        .group_roles
        .iter()
        .filter(|g| groups.contains(&g.group))
        .collect();
    if grants.is_empty() {
        return Ok(());
    }
    for g in grants {
        let Ok((place, _)) =
            crate::org::service::resolve_scope(&state.db, g.scope_kind, &g.scope_id).await
        else {
            tracing::warn!(group = %g.group, "a group maps to a place that does not exist");
            continue;
        };
        let held: Option<String> = sqlx::query_scalar(
            "select role from memberships where user_id = $1 and scope_kind = $2 and scope_id = $3",
        )
        .bind(user.as_str())
        .bind(g.scope_kind.as_str())
        .bind(&g.scope_id)
        .fetch_optional(state.db.pool())
        .await?;
        if held.is_some_and(|r| Role::parse(&r, "role").is_ok_and(|r| r >= g.role)) {
            continue;
        }
        sqlx::query(
            "insert into memberships (id, user_id, organization_id, scope_kind, scope_id, role, granted_by, created_at) \
             values ($1, $2, $3, $4, $5, $6, null, $7) \
             on conflict (user_id, scope_kind, scope_id) do update set role = excluded.role",
        )
        .bind(MembershipId::new().as_str())
        .bind(user.as_str())
        .bind(&place.organization_id)
        .bind(g.scope_kind.as_str())
        .bind(&g.scope_id)
        .bind(g.role.as_str())
        .bind(state.clock.now_ms())
        .execute(state.db.pool())
        .await?;
    }
    state.callers.forget_all();
    Ok(())
}

/// The configured pool, if any.
pub fn configured(state: &AppState) -> Option<Arc<Oidc>> {
    state.settings.oidc.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_mappings_parse_and_refuse_nonsense() {
        let g = GroupRole::parse_list("staff=pantry:p1:staff, leads = organization:o1:manager")
            .unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[1].group, "leads");
        assert_eq!(g[1].role, Role::Manager);
        assert_eq!(g[0].scope_kind, ScopeKind::Pantry);
        assert!(GroupRole::parse_list("staff=pantry:p1").is_err());
        assert!(GroupRole::parse_list("staff=shop:p1:staff").is_err());
        assert!(GroupRole::parse_list("staff=pantry:p1:owner").is_err());
        assert!(GroupRole::parse_list("").unwrap().is_empty());
    }

    #[test]
    fn every_error_has_its_own_sentence() {
        let codes = [
            "state",
            "provider",
            "code",
            "signature",
            "audience",
            "issuer",
            "expired",
            "token",
            "unverified",
            "no_account",
            "unreachable",
        ];
        let mut seen = std::collections::HashSet::new();
        for c in codes {
            assert!(seen.insert(super::super::model::sso_message(c)), "{c}");
        }
    }
}
