//! Accounts, secrets and callers on the server: password hashing, the
//! first start's setup, and who is calling (a session or an API key) with
//! their roles on organizations, campuses and pantries. Signing in and
//! sessions are in `sessions`.
//!
//! Passwords are hashed with argon2id. Sessions live in the database; the
//! cookie holds a random token and the table only its SHA-256, so a copy of
//! the database does not let anyone sign in. Invitation links work the same
//! way.

use std::sync::Mutex;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row as _;

use super::model::*;
use super::sessions::{clear_session_cookie, create_session, session_cookie};
use crate::db::{self, now_ms, Db};
use crate::error::{AppError, AppResult};
use crate::ids::{OrganizationId, UserId};
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "larder_session";

// ---------------------------------------------------------------- secrets

/// 256 random bits, URL-safe: session tokens and invitation links.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps of a token.
pub(crate) fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Argon2 costs ~19 MiB and tens of milliseconds per hash by design; at
/// most this many run at once, so a burst of sign-ins queues instead of
/// exhausting memory.
fn hashing_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        tokio::sync::Semaphore::new(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        )
    })
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn hash_password(password: &NewPassword) -> AppResult<String> {
    let password = password.expose().to_owned();
    let _permit = hashing_permits()
        .acquire()
        .await
        .map_err(|e| AppError::internal(&e))?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(|e| AppError::internal(&e))?
    .map_err(|e| AppError::internal(&std::io::Error::other(e.to_string())))
}

/// Checks a password against a stored hash. Unknown accounts are checked
/// against a fixed hash so that a wrong email takes as long as a wrong
/// password and does not reveal which accounts exist.
pub(crate) async fn verify_password(stored: Option<String>, candidate: &str) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let known = stored.is_some();
    let candidate = candidate.to_owned();
    let Ok(_permit) = hashing_permits().acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || {
        let stored = stored.unwrap_or_else(|| {
            DUMMY
                .get_or_init(|| {
                    let salt = SaltString::generate(&mut OsRng);
                    Argon2::default()
                        .hash_password(b"not a real password", &salt)
                        .map(|h| h.to_string())
                        .unwrap_or_default()
                })
                .clone()
        });
        let ok = PasswordHash::new(&stored)
            .map(|h| {
                Argon2::default()
                    .verify_password(candidate.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
        known && ok
    })
    .await
    .unwrap_or(false)
}

// ------------------------------------------------------------ first start

/// Guards the one-time setup page: it opens with a code printed in the
/// server log at start-up and closes once the first account exists.
pub struct SetupGate {
    code: Mutex<Option<String>>,
}

impl SetupGate {
    /// A gate with the given code, or closed when `None`.
    pub fn new(code: Option<String>) -> Self {
        Self {
            code: Mutex::new(code),
        }
    }

    /// A fresh code people can read out and type: `ABCD-EFGH-JKLM`, from an
    /// alphabet without look-alikes (no 0/O, 1/I/L).
    pub fn generate_code() -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
        let mut bytes = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let chars: Vec<char> = bytes
            .iter()
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
            .collect();
        chars
            .chunks(4)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join("-")
    }

    pub fn is_open(&self) -> bool {
        self.code
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    fn matches(&self, given: &str) -> bool {
        let normalized: String = given
            .trim()
            .to_uppercase()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let guard = self.code.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_deref() {
            // Compare every byte so timing does not tell how much was right.
            Some(code) if code.len() == normalized.len() => {
                code.bytes()
                    .zip(normalized.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
            }
            _ => false,
        }
    }

    fn close(&self) {
        *self.code.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn user_count(db: &Db) -> AppResult<i64> {
    Ok(sqlx::query_scalar("select count(*) from users")
        .fetch_one(db.pool())
        .await?)
}

/// Creates the first account, which becomes the site admin, and signs it in.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn complete_setup(
    state: &AppState,
    code: &str,
    name: &str,
    email: &str,
    password: &str,
) -> AppResult<String> {
    if !state.setup.is_open() {
        return Err(AppError::Forbidden(
            "This Larder is already set up. Sign in instead.".into(),
        ));
    }
    if code.trim().is_empty() {
        return Err(AppError::invalid(
            "code",
            "Enter the setup code from the server log.",
        ));
    }
    if !state.setup.matches(code) {
        return Err(AppError::invalid(
            "code",
            "That setup code is not right. Copy it from the server log, where it was printed at start-up.",
        ));
    }
    let name = DisplayName::parse(name, "name")?;
    let email = Email::parse(email, "email")?;
    let password = NewPassword::parse(password, "password")?;
    let user_id = create_first_admin(&state.db, &name, &email, &password).await?;
    state.setup.close();
    create_session(&state.db, &user_id, &state.settings).await
}

/// Creates the site admin if no account exists yet; used by the setup page
/// and by the first-admin settings given at start-up.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_first_admin(
    db: &Db,
    name: &DisplayName,
    email: &Email,
    password: &NewPassword,
) -> AppResult<UserId> {
    let hash = hash_password(password).await?;
    let mut tx = db.begin().await?;
    let existing: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&mut *tx)
        .await?;
    if existing > 0 {
        return Err(AppError::Forbidden(
            "This Larder is already set up. Sign in instead.".into(),
        ));
    }
    let id = UserId::new();
    // A unique index allows one site admin: of two setups racing past the
    // count above (possible on PostgreSQL), the second fails here.
    let already_set_up =
        || AppError::Forbidden("This Larder is already set up. Sign in instead.".into());
    insert_user(&mut tx, &id, name, email, &hash, true)
        .await
        .map_err(|e| match e {
            AppError::Conflict { .. } => already_set_up(),
            other => other,
        })?;
    tx.commit().await.map_err(|e| {
        if db::is_unique_violation(&e) {
            already_set_up()
        } else {
            e.into()
        }
    })?;
    tracing::info!(user_id = %id, "first admin created");
    Ok(id)
}

pub(crate) async fn insert_user(
    tx: &mut db::Tx,
    id: &UserId,
    name: &DisplayName,
    email: &Email,
    hash: &str,
    site_admin: bool,
) -> AppResult<()> {
    sqlx::query(
        "insert into users (id, email, email_key, display_name, password_hash, is_site_admin, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id.as_str())
    .bind(email.as_str())
    .bind(email.normalized())
    .bind(name.as_str())
    .bind(hash)
    .bind(site_admin as i64)
    .bind(now_ms())
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        if db::is_unique_violation(&e) {
            AppError::conflict("email", "An account with that email already exists. Sign in instead.")
        } else {
            e.into()
        }
    })?;
    Ok(())
}

/// Creates an account without an invitation, when the instance allows it
/// (`LARDER_OPEN_SIGNUP`). The account holds no membership until someone
/// invites it somewhere.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn sign_up(
    state: &AppState,
    name: &str,
    email: &str,
    password: &str,
) -> AppResult<String> {
    if !state.settings.open_signup {
        return Err(AppError::Forbidden(
            "Sign-up is closed on this Larder. Ask an admin for an invitation.".into(),
        ));
    }
    if state.setup.is_open() {
        return Err(AppError::Forbidden(
            "This Larder is not set up yet: its first account comes from the setup page.".into(),
        ));
    }
    let name = DisplayName::parse(name, "name")?;
    let email = Email::parse(email, "email")?;
    let password = NewPassword::parse(password, "password")?;
    let hash = hash_password(&password).await?;
    let id = UserId::new();
    let mut tx = state.db.begin().await?;
    insert_user(&mut tx, &id, &name, &email, &hash, false).await?;
    tx.commit().await?;
    tracing::info!(user_id = %id, "account created by open sign-up");
    create_session(&state.db, &id, &state.settings).await
}

// ---------------------------------------------------------------- callers

/// A membership as access checks need it.
#[derive(Debug, Clone)]
pub struct Grant {
    pub organization_id: OrganizationId,
    /// For a pantry grant, the campus the pantry is on.
    pub campus_id: Option<String>,
    pub scope_kind: ScopeKind,
    pub scope_id: String,
    pub role: Role,
}

/// Where something sits: every check walks up from a pantry to its campus
/// and organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub organization_id: String,
    pub campus_id: Option<String>,
    pub pantry_id: Option<String>,
}

/// The signed-in person and their memberships, loaded once per request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The person; for an API key, the admin who made it.
    pub me: Me,
    pub grants: Vec<Grant>,
    /// Set when the request came with an API key rather than a session.
    pub key: Option<crate::ids::ApiKeyId>,
}

impl Caller {
    /// The strongest role the caller holds at a place, through it or any
    /// place above it.
    pub fn role_at(&self, place: &Place) -> Option<Role> {
        self.grants
            .iter()
            .filter(|g| {
                g.organization_id.as_str() == place.organization_id
                    && match g.scope_kind {
                        ScopeKind::Organization => g.scope_id == place.organization_id,
                        ScopeKind::Campus => {
                            place.campus_id.as_deref() == Some(g.scope_id.as_str())
                        }
                        ScopeKind::Pantry => {
                            place.pantry_id.as_deref() == Some(g.scope_id.as_str())
                        }
                    }
            })
            .map(|g| g.role)
            .max()
    }

    /// Whether the caller holds any membership in the organization, at any
    /// level: enough to see its name, not its other places.
    pub fn belongs_to(&self, organization: &str) -> bool {
        self.grants
            .iter()
            .any(|g| g.organization_id.as_str() == organization)
    }

    /// Whether the caller holds a membership somewhere inside `place`
    /// (a pantry on this campus, any place in this organization), and so
    /// knows it exists even without a role on it.
    fn sees_inside(&self, place: &Place) -> bool {
        match (&place.campus_id, &place.pantry_id) {
            (None, _) => self.belongs_to(&place.organization_id),
            (Some(campus), None) => self
                .grants
                .iter()
                .any(|g| g.campus_id.as_ref() == Some(campus)),
            (Some(_), Some(_)) => false,
        }
    }

    /// Refuses unless the caller holds at least `needed` at `place`. A
    /// caller who cannot see the place at all is told it does not exist,
    /// so ids of other tenants cannot be probed.
    pub fn require(&self, place: &Place, needed: Role, what: &str) -> AppResult<Role> {
        match self.role_at(place) {
            Some(r) if r >= needed => Ok(r),
            Some(_) => Err(AppError::forbidden()),
            None if self.sees_inside(place) => Err(AppError::forbidden()),
            None => Err(AppError::not_found(what)),
        }
    }
}

pub enum SessionState {
    Missing,
    Expired,
    Active(Caller),
}

/// Resolves the session cookie of the current request.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn session_state(state: &AppState) -> AppResult<SessionState> {
    let Some(token) = crate::request::cookie(SESSION_COOKIE) else {
        return Ok(SessionState::Missing);
    };
    session_state_for_token(state, &token).await
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn session_state_for_token(state: &AppState, token: &str) -> AppResult<SessionState> {
    let hash = token_hash(token);
    if let Some(caller) = state.callers.get(&hash, state.clock.now_ms()) {
        return Ok(SessionState::Active(caller));
    }
    let generation = state.callers.generation();
    let row = sqlx::query(
        "select s.expires_at, s.last_seen_at, u.id, u.email, u.display_name, u.is_site_admin \
         from sessions s join users u on u.id = s.user_id \
         where s.token_hash = $1 and u.disabled_at is null",
    )
    .bind(&hash)
    .fetch_optional(state.db.pool())
    .await?;
    let Some(row) = row else {
        return Ok(SessionState::Missing);
    };
    let now = state.clock.now_ms();
    let expires_at: i64 = row.try_get("expires_at")?;
    if expires_at <= now {
        sqlx::query("delete from sessions where token_hash = $1")
            .bind(&hash)
            .execute(state.db.pool())
            .await?;
        state.callers.forget(&hash);
        return Ok(SessionState::Expired);
    }
    // Sliding expiry, written at most once a minute per session (the
    // caller cache's few seconds do not get in its way).
    let last_seen: i64 = row.try_get("last_seen_at")?;
    let mut expires_at = expires_at;
    if now - last_seen > 60_000 {
        expires_at = now + state.settings.session_ttl.as_millis() as i64;
        sqlx::query("update sessions set last_seen_at = $1, expires_at = $2 where token_hash = $3")
            .bind(now)
            .bind(expires_at)
            .bind(&hash)
            .execute(state.db.pool())
            .await?;
        // The cookie's lifetime slides with the session's.
        crate::request::append_response_header(
            http::header::SET_COOKIE,
            &session_cookie(token, &state.settings),
        );
    }
    let me = Me {
        id: UserId::from_stored(row.try_get("id")?),
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        is_site_admin: row.try_get::<i64, _>("is_site_admin")? != 0,
    };
    let grants = load_grants(&state.db, &me.id).await?;
    let caller = Caller {
        me,
        grants,
        key: None,
    };
    state.callers.keep(&hash, &caller, expires_at, generation);
    Ok(SessionState::Active(caller))
}

async fn load_grants(db: &Db, user: &UserId) -> AppResult<Vec<Grant>> {
    let rows = sqlx::query(
        "select m.organization_id, m.scope_kind, m.scope_id, m.role, p.campus_id from memberships m \
         join organizations o on o.id = m.organization_id \
         left join pantries p on m.scope_kind = 'pantry' and p.id = m.scope_id \
         where m.user_id = $1 and o.archived_at is null",
    )
    .bind(user.as_str())
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Grant {
                organization_id: OrganizationId::from_stored(r.try_get("organization_id")?),
                campus_id: r.try_get("campus_id")?,
                scope_kind: ScopeKind::parse(&r.try_get::<String, _>("scope_kind")?, "scope_kind")?,
                scope_id: r.try_get("scope_id")?,
                role: Role::parse(&r.try_get::<String, _>("role")?, "role")?,
            })
        })
        .collect()
}

/// The signed-in caller, or a 401 that says why.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn require_caller(state: &AppState) -> AppResult<Caller> {
    match session_state(state).await? {
        SessionState::Active(c) => Ok(c),
        SessionState::Expired => {
            crate::request::append_response_header(
                http::header::SET_COOKIE,
                &clear_session_cookie(&state.settings),
            );
            Err(AppError::Unauthenticated(
                "Your session has expired. Please sign in again.".into(),
            ))
        }
        SessionState::Missing => Err(AppError::sign_in_required()),
    }
}

/// The caller of a plain Axum handler (outside server functions): an API
/// key sent as `Authorization: Bearer`, else the session cookie.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn caller_from_headers(state: &AppState, headers: &http::HeaderMap) -> AppResult<Caller> {
    if let Some(key) = super::keys::bearer(headers) {
        return super::keys::caller_for_key(state, key).await;
    }
    let token = crate::request::cookie_from_headers(headers, SESSION_COOKIE)
        .ok_or_else(AppError::sign_in_required)?;
    match session_state_for_token(state, &token).await? {
        SessionState::Active(c) => Ok(c),
        SessionState::Expired => Err(AppError::Unauthenticated(
            "Your session has expired. Please sign in again.".into(),
        )),
        SessionState::Missing => Err(AppError::sign_in_required()),
    }
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn optional_caller(state: &AppState) -> AppResult<Option<Caller>> {
    Ok(match session_state(state).await? {
        SessionState::Active(c) => Some(c),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(kind: ScopeKind, id: &str, role: Role) -> Grant {
        Grant {
            organization_id: OrganizationId::from_stored("o1".into()),
            campus_id: (kind == ScopeKind::Pantry).then(|| "c1".to_string()),
            scope_kind: kind,
            scope_id: id.into(),
            role,
        }
    }

    fn caller(grants: Vec<Grant>) -> Caller {
        Caller {
            me: Me {
                id: UserId::from_stored("u".into()),
                email: "u@example.org".into(),
                display_name: "U".into(),
                is_site_admin: false,
            },
            grants,
            key: None,
        }
    }

    fn pantry(campus: &str, pantry: &str) -> Place {
        Place {
            organization_id: "o1".into(),
            campus_id: Some(campus.into()),
            pantry_id: Some(pantry.into()),
        }
    }

    #[test]
    fn roles_flow_down_from_organization_and_campus() {
        let c = caller(vec![
            grant(ScopeKind::Organization, "o1", Role::Viewer),
            grant(ScopeKind::Campus, "c1", Role::Manager),
        ]);
        assert_eq!(c.role_at(&pantry("c1", "p1")), Some(Role::Manager));
        assert_eq!(c.role_at(&pantry("c2", "p2")), Some(Role::Viewer));
    }

    #[test]
    fn a_pantry_membership_does_not_reach_sibling_pantries() {
        let c = caller(vec![grant(ScopeKind::Pantry, "p1", Role::Staff)]);
        assert_eq!(c.role_at(&pantry("c1", "p1")), Some(Role::Staff));
        assert_eq!(c.role_at(&pantry("c1", "p2")), None);
        assert!(matches!(
            c.require(&pantry("c1", "p2"), Role::Viewer, "pantry"),
            Err(AppError::NotFound(_))
        ));
        assert!(matches!(
            c.require(&pantry("c1", "p1"), Role::Manager, "pantry"),
            Err(AppError::Forbidden(_))
        ));
    }

    #[test]
    fn places_above_a_membership_are_forbidden_not_hidden() {
        let c = caller(vec![grant(ScopeKind::Pantry, "p1", Role::Staff)]);
        let campus = Place {
            pantry_id: None,
            ..pantry("c1", "p1")
        };
        assert!(matches!(
            c.require(&campus, Role::Manager, "campus"),
            Err(AppError::Forbidden(_))
        ));
        let other_campus = Place {
            pantry_id: None,
            ..pantry("c2", "p9")
        };
        assert!(matches!(
            c.require(&other_campus, Role::Viewer, "campus"),
            Err(AppError::NotFound(_))
        ));
        let org = Place {
            campus_id: None,
            pantry_id: None,
            ..pantry("c1", "p1")
        };
        assert!(matches!(
            c.require(&org, Role::Admin, "organization"),
            Err(AppError::Forbidden(_))
        ));
    }

    #[test]
    fn memberships_of_another_organization_grant_nothing() {
        let c = caller(vec![grant(ScopeKind::Organization, "o1", Role::Admin)]);
        let elsewhere = Place {
            organization_id: "o2".into(),
            campus_id: None,
            pantry_id: None,
        };
        assert_eq!(c.role_at(&elsewhere), None);
    }

    #[test]
    fn setup_codes_are_readable_and_compared_loosely() {
        let code = SetupGate::generate_code();
        assert_eq!(code.len(), 14);
        let gate = SetupGate::new(Some(code.clone()));
        assert!(gate.matches(&code.to_lowercase()));
        assert!(gate.matches(&format!(" {code} ")));
        assert!(!gate.matches("AAAA-BBBB-CCCC"));
        gate.close();
        assert!(!gate.matches(&code));
    }

    #[test]
    fn tokens_are_random_and_only_their_hash_is_kept() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }
}
