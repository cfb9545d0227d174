//! Signing in and the sessions it opens: the throttle on failed attempts,
//! the sign-in records the audit log reads, session cookies, and the
//! hourly purge of expired sessions.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::Row as _;

use super::model::*;
use super::service::{random_token, token_hash, verify_password, SESSION_COOKIE};
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::state::{AppState, Settings};

/// Failed sign-ins, per account and per client address. In memory: a
/// restart forgets, and each replica counts its own; a shared store (Redis)
/// takes over when Larder runs on several machines.
///
/// An account is never locked: after a few free failures each further
/// attempt must wait a delay that doubles per failure, up to
/// [`Self::MAX_DELAY`]. Guessing stays slow, and an attacker who knows
/// someone's email can keep them waiting seconds, not shut them out. An
/// address gets [`Self::PER_ADDRESS`] failures a window, which bounds how
/// many accounts one client can try.
///
/// `governor` (the usual rate limiter) was considered: its quotas are fixed
/// rates (GCRA), and a delay that grows with consecutive failures and
/// resets on success is not one; this is a few lines of state instead.
#[derive(Default)]
pub struct SignInThrottle {
    accounts: Mutex<HashMap<String, Backoff>>,
    addresses: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// An account's run of failures.
#[derive(Clone, Copy)]
struct Backoff {
    failures: u32,
    /// Before this, a new attempt is refused.
    next: Instant,
    last: Instant,
}

impl SignInThrottle {
    pub const WINDOW: Duration = Duration::from_secs(15 * 60);
    /// Failures in a row an account gets before attempts are delayed.
    pub const FREE_FAILURES: u32 = 5;
    pub const FIRST_DELAY: Duration = Duration::from_secs(1);
    pub const MAX_DELAY: Duration = Duration::from_secs(30);
    pub const PER_ADDRESS: usize = 30;
    /// Entries kept before old ones are swept.
    const SWEEP_AT: usize = 50_000;

    /// The wait after `failures` consecutive failures: none until the
    /// free ones are used up, then one second, doubling, capped.
    pub fn delay(failures: u32) -> Duration {
        match failures.checked_sub(Self::FREE_FAILURES) {
            None => Duration::ZERO,
            Some(extra) => Self::FIRST_DELAY
                .saturating_mul(1u32 << extra.min(16))
                .min(Self::MAX_DELAY),
        }
    }

    /// Counts a sign-in attempt for the account and the address, or
    /// refuses it with the time to wait. The attempt counts as a failure
    /// before the (slow) password check, so a burst of parallel guesses
    /// cannot slip past; [`Self::succeeded`] takes it back.
    fn attempt(&self, account: &str, address: Option<&str>) -> Result<(), Duration> {
        let now = Instant::now();
        let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        let mut addresses = self.addresses.lock().unwrap_or_else(|e| e.into_inner());
        if accounts.len() > Self::SWEEP_AT {
            accounts.retain(|_, b| now.duration_since(b.last) < Self::WINDOW);
        }
        if addresses.len() > Self::SWEEP_AT {
            addresses.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.duration_since(*t) < Self::WINDOW)
            });
        }
        // A run of failures older than the window is forgotten.
        let backoff = accounts
            .get(account)
            .copied()
            .filter(|b| now.duration_since(b.last) < Self::WINDOW);
        let mut wait = backoff.map_or(Duration::ZERO, |b| b.next.saturating_duration_since(now));
        if let Some(q) = address.and_then(|a| addresses.get_mut(a)) {
            while q
                .front()
                .is_some_and(|t| now.duration_since(*t) >= Self::WINDOW)
            {
                q.pop_front();
            }
            if q.len() >= Self::PER_ADDRESS {
                let oldest = q[q.len() - Self::PER_ADDRESS];
                wait = wait.max(Self::WINDOW.saturating_sub(now.duration_since(oldest)));
            }
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        let failures = backoff.map_or(0, |b| b.failures).saturating_add(1);
        accounts.insert(
            account.to_string(),
            Backoff {
                failures,
                next: now + Self::delay(failures),
                last: now,
            },
        );
        if let Some(a) = address {
            let q = addresses.entry(a.to_string()).or_default();
            q.push_back(now);
            if q.len() > Self::PER_ADDRESS {
                q.pop_front();
            }
        }
        Ok(())
    }

    /// A correct password: the account's failures are forgotten, and the
    /// attempt no longer counts against the client's address.
    fn succeeded(&self, account: &str, address: Option<&str>) {
        self.accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(account);
        if let Some(a) = address {
            if let Some(q) = self
                .addresses
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_mut(a)
            {
                q.pop_back();
            }
        }
    }
}

/// Counts an attempt on the throttle every replica shares (Redis), or on
/// this replica's own when there is none or it does not answer.
async fn throttle_attempt(
    state: &AppState,
    account: &str,
    address: Option<&str>,
    attempt: &str,
) -> Result<(), Duration> {
    if let Some(cluster) = &state.cluster {
        if let Some(outcome) = cluster.sign_in_attempt(account, address, attempt).await {
            return outcome;
        }
    }
    state.throttle.attempt(account, address)
}

async fn throttle_succeeded(state: &AppState, account: &str, address: Option<&str>, attempt: &str) {
    if let Some(cluster) = &state.cluster {
        cluster.sign_in_succeeded(account, address, attempt).await;
    }
    state.throttle.succeeded(account, address);
}

/// Checks an email and password and opens a session; returns its token.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn sign_in(
    state: &AppState,
    email: &str,
    password: &str,
    client: Option<std::net::IpAddr>,
) -> AppResult<String> {
    let email = Email::parse(email, "email")?;
    if password.is_empty() {
        return Err(AppError::invalid("password", "Enter your password."));
    }
    let account = email.normalized().to_string();
    let address = client.map(|ip| ip.to_string());
    // One id per attempt, so a success takes back exactly this one.
    let attempt = uuid::Uuid::new_v4().simple().to_string();
    if let Err(wait) = throttle_attempt(state, &account, address.as_deref(), &attempt).await {
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        let message = if secs < 60 {
            format!(
                "Too many failed sign-in attempts. Try again in {secs} second{}.",
                if secs == 1 { "" } else { "s" }
            )
        } else {
            let minutes = secs.div_ceil(60);
            format!(
                "Too many failed sign-in attempts from this address. Try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            )
        };
        return Err(AppError::TooManyRequests {
            message,
            retry_after_secs: secs,
        });
    }
    let row = sqlx::query(
        "select id, password_hash from users where email_key = $1 and disabled_at is null",
    )
    .bind(email.normalized())
    .fetch_optional(state.db.pool())
    .await?;
    let (id, hash) = match row {
        Some(r) => (
            Some(r.try_get::<String, _>("id")?),
            Some(r.try_get::<String, _>("password_hash")?),
        ),
        None => (None, None),
    };
    let Some(id) = id else {
        verify_password(None, password).await;
        record_sign_in(
            &state.db,
            &state.settings,
            None,
            &account,
            SignInMethod::Password,
            false,
            &Origin::current(&state.settings),
        )
        .await;
        tracing::info!(email = %email.normalized(), "failed sign-in: no such account");
        return Err(AppError::invalid(
            "password",
            "That email and password do not match an account.",
        ));
    };
    if !verify_password(hash, password).await {
        record_sign_in(
            &state.db,
            &state.settings,
            Some(&id),
            &account,
            SignInMethod::Password,
            false,
            &Origin::current(&state.settings),
        )
        .await;
        tracing::info!(email = %email.normalized(), "failed sign-in");
        return Err(AppError::invalid(
            "password",
            "That email and password do not match an account.",
        ));
    }
    throttle_succeeded(state, &account, address.as_deref(), &attempt).await;
    record_sign_in(
        &state.db,
        &state.settings,
        Some(&id),
        &account,
        SignInMethod::Password,
        true,
        &Origin::current(&state.settings),
    )
    .await;
    let id = UserId::from_stored(id);
    create_session(&state.db, &id, &state.settings).await
}

/// Expired sessions, deleted every hour by one process.
pub const PURGE_SESSIONS: crate::tasks::Periodic = crate::tasks::Periodic {
    name: "purge-expired-sessions",
    period: Duration::from_secs(3600),
    lease: Duration::from_secs(600),
};

/// Deletes the sessions that expired by `now`; returns how many.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn purge_expired_sessions(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("delete from sessions where expires_at <= $1")
        .bind(now)
        .execute(db.pool())
        .await?
        .rows_affected())
}

/// Schedules [`purge_expired_sessions`] (checked every minute).
pub fn purge_sessions_job(
    state: &AppState,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let (db, clock) = (state.db.clone(), state.clock.clone());
    crate::tasks::schedule(
        &state.tasks,
        state.db.clone(),
        state.clock.clone(),
        PURGE_SESSIONS,
        state.settings.job_check,
        shutdown,
        move || {
            let (db, clock) = (db.clone(), clock.clone());
            async move {
                let purged = purge_expired_sessions(&db, clock.now_ms()).await?;
                if purged > 0 {
                    tracing::info!(purged, "expired sessions deleted");
                }
                Ok::<(), sqlx::Error>(())
            }
        },
    )
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_session(db: &Db, user: &UserId, settings: &Settings) -> AppResult<String> {
    create_session_via(
        db,
        user,
        settings,
        SignInMethod::Password,
        &Origin::current(settings),
    )
    .await
}

/// Opens a session that began with `method`.
pub async fn create_session_via(
    db: &Db,
    user: &UserId,
    settings: &Settings,
    method: SignInMethod,
    origin: &Origin,
) -> AppResult<String> {
    let token = random_token();
    let now = settings.clock.now_ms();
    sqlx::query(
        "insert into sessions (token_hash, user_id, created_at, expires_at, last_seen_at, client_ip, user_agent, method) \
         values ($1, $2, $3, $4, $3, $5, $6, $7)",
    )
    .bind(token_hash(&token))
    .bind(user.as_str())
    .bind(now)
    .bind(now + settings.session_ttl.as_millis() as i64)
    .bind(origin.ip.as_deref())
    .bind(origin.user_agent.as_deref())
    .bind(method.as_str())
    .execute(db.pool())
    .await?;
    Ok(token)
}

/// Where a request came from, for the session list and the sign-in
/// records: the client's address (through trusted proxies only) and its
/// browser.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Origin {
    /// The request a server function serves.
    pub fn current(settings: &Settings) -> Self {
        Self {
            ip: crate::request::client_ip(&settings.trusted_proxies).map(|ip| ip.to_string()),
            user_agent: crate::request::user_agent(),
        }
    }

    /// A plain handler's request: its peer and headers.
    pub fn of(
        peer: Option<std::net::IpAddr>,
        headers: &http::HeaderMap,
        settings: &Settings,
    ) -> Self {
        Self {
            ip: peer.map(|p| {
                crate::request::client_ip_from(p, headers, &settings.trusted_proxies).to_string()
            }),
            user_agent: headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|ua| ua.chars().take(300).collect()),
        }
    }
}

/// How someone signed in, for the sign-in records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMethod {
    Password,
    Oidc,
    ResetLink,
}

impl SignInMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Oidc => "oidc",
            Self::ResetLink => "reset_link",
        }
    }
}

/// Records a sign-in attempt for the audit log. A failure to record is
/// logged, never turned into a failed sign-in.
pub async fn record_sign_in(
    db: &Db,
    settings: &Settings,
    user: Option<&str>,
    email: &str,
    method: SignInMethod,
    succeeded: bool,
    origin: &Origin,
) {
    let result = sqlx::query(
        "insert into sign_ins (id, user_id, email, method, succeeded, client_ip, user_agent, at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(user)
    .bind(email.chars().take(254).collect::<String>())
    .bind(method.as_str())
    .bind(i64::from(succeeded))
    .bind(origin.ip.as_deref())
    .bind(origin.user_agent.as_deref())
    .bind(settings.clock.now_ms())
    .execute(db.pool())
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not record a sign-in");
    }
}

#[tracing::instrument(level = "debug", skip_all)]
/// Ends a session (and the push subscriptions made in it); returns how it
/// had been opened (`password`, `oidc`, …).
pub async fn end_session(state: &AppState, token: &str) -> AppResult<Option<String>> {
    let hash = token_hash(token);
    let method: Option<Option<String>> =
        sqlx::query_scalar("delete from sessions where token_hash = $1 returning method")
            .bind(&hash)
            .fetch_optional(state.db.pool())
            .await?;
    state.callers.forget(&hash);
    crate::notifications::push::forget_session(&state.db, &hash).await?;
    Ok(method.flatten())
}

/// The `Set-Cookie` value that carries a session.
pub fn session_cookie(token: &str, settings: &Settings) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        settings.session_ttl.as_secs(),
        if settings.secure_cookies {
            "; Secure"
        } else {
            ""
        }
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_session_cookie(settings: &Settings) -> String {
    format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        if settings.secure_cookies {
            "; Secure"
        } else {
            ""
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_delayed_more_each_failure_but_never_locked() {
        assert_eq!(SignInThrottle::delay(4), Duration::ZERO);
        assert_eq!(SignInThrottle::delay(5), Duration::from_secs(1));
        assert_eq!(SignInThrottle::delay(7), Duration::from_secs(4));
        assert_eq!(SignInThrottle::delay(40), SignInThrottle::MAX_DELAY);
        assert_eq!(SignInThrottle::delay(u32::MAX), SignInThrottle::MAX_DELAY);
        let t = SignInThrottle::default();
        for _ in 0..5 {
            assert!(t.attempt("a", Some("ip1")).is_ok());
        }
        // The sixth comes too soon, from any address.
        let wait = t.attempt("a", Some("ip2")).unwrap_err();
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        // Other accounts are not held up.
        assert!(t.attempt("b", Some("ip1")).is_ok());
        t.succeeded("a", Some("ip1"));
        assert!(t.attempt("a", Some("ip1")).is_ok());
    }

    #[test]
    fn an_address_is_limited_across_accounts() {
        let t = SignInThrottle::default();
        for i in 0..SignInThrottle::PER_ADDRESS {
            assert!(t.attempt(&format!("user{i}"), Some("ip")).is_ok());
        }
        let wait = t.attempt("another", Some("ip")).unwrap_err();
        assert!(wait > Duration::from_secs(14 * 60));
        assert!(t.attempt("another", Some("elsewhere")).is_ok());
    }
}
