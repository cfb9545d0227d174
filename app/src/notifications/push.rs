//! Web Push: notifications sent to the phones and browsers people turned
//! push on in.
//!
//! - VAPID (RFC 8292): one P-256 key pair per instance, made on first
//!   start and kept in the database, so every process signs alike.
//! - Payloads are encrypted per RFC 8291 (aes128gcm) by `web-push-native`,
//!   on RustCrypto's P-256, HKDF and AES-GCM. (The better-known `web-push`
//!   crate encrypts only through OpenSSL's C library.)
//! - The notifier queues one push per subscription beside the notification
//!   it writes, in the same transaction and keyed by both, so an event
//!   delivered twice never pushes twice. A worker sends the queue: network
//!   errors, 429 and 5xx are tried again with doubling waits; a push
//!   service answering 404 or 410 has forgotten the subscription, which is
//!   removed.
//! - Push endpoints come from browsers but are stored from requests, so
//!   they go through the same outbound checks as supplier catalogs (http or
//!   https, public addresses unless allowed).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use sqlx::Row as _;
use web_push_native::jwt_simple::algorithms::{ECDSAP256PublicKeyLike, ES256KeyPair};
use web_push_native::{p256, Auth, WebPushBuilder};

use crate::auth::service::Caller;
use crate::db::{Db, Tx};
use crate::error::{AppError, AppResult};
use crate::purchasing::feed::{check_url, FetchSettings};
use crate::state::AppState;
use crate::tasks::Supervisor;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Attempts at one push before it is given up.
const MOST_ATTEMPTS: i64 = 6;
/// Pushes one pass of the worker sends.
const PER_PASS: i64 = 50;
/// How long a push may wait for the push service.
const SEND_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a push service keeps a push for an offline device.
const TTL: Duration = Duration::from_secs(24 * 3600);

/// The instance's VAPID key pair.
#[derive(Clone)]
pub struct Vapid {
    key: Arc<ES256KeyPair>,
    /// The public key as browsers take it (`applicationServerKey`): the
    /// uncompressed point, base64url.
    pub public: String,
}

fn public_of(key: &ES256KeyPair) -> String {
    B64.encode(key.public_key().public_key().to_bytes_uncompressed())
}

/// The key pair, made and stored the first time it is asked for (two
/// processes asking at once keep the first one stored).
pub async fn vapid(db: &Db) -> AppResult<Vapid> {
    let stored: Option<String> =
        sqlx::query_scalar("select private_key from vapid_keys where id = 1")
            .fetch_optional(db.pool())
            .await?;
    let secret = match stored {
        Some(s) => s,
        None => {
            let key = ES256KeyPair::generate();
            sqlx::query(
                "insert into vapid_keys (id, private_key, public_key, created_at) values (1, $1, $2, $3) \
                 on conflict (id) do nothing",
            )
            .bind(B64.encode(key.to_bytes()))
            .bind(public_of(&key))
            .bind(crate::db::now_ms())
            .execute(db.pool())
            .await?;
            sqlx::query_scalar("select private_key from vapid_keys where id = 1")
                .fetch_one(db.pool())
                .await?
        }
    };
    let bytes = B64.decode(secret).map_err(|e| {
        AppError::internal(&std::io::Error::other(format!("stored VAPID key: {e}")))
    })?;
    let key = ES256KeyPair::from_bytes(&bytes).map_err(|e| {
        AppError::internal(&std::io::Error::other(format!("stored VAPID key: {e}")))
    })?;
    Ok(Vapid {
        public: public_of(&key),
        key: Arc::new(key),
    })
}

/// Keeps a browser's subscription for the caller (the same endpoint again
/// replaces its keys, and moves to whoever signed in there last).
pub async fn subscribe(
    state: &AppState,
    caller: &Caller,
    endpoint: &str,
    p256dh: &str,
    auth: &str,
) -> AppResult<()> {
    let url = check_url(endpoint, &state.settings.supplier_fetch.allowed_networks)
        .map_err(|m| AppError::invalid("endpoint", m))?;
    let key = B64
        .decode(p256dh.trim().trim_end_matches('='))
        .ok()
        .filter(|k| p256::PublicKey::from_sec1_bytes(k).is_ok())
        .ok_or_else(|| {
            AppError::invalid("p256dh", "The browser's key is not a P-256 public key.")
        })?;
    let secret = B64
        .decode(auth.trim().trim_end_matches('='))
        .ok()
        .filter(|a| a.len() == 16)
        .ok_or_else(|| AppError::invalid("auth", "The browser's secret is not 16 bytes."))?;
    // The session it is made in (none through an API key).
    let session = crate::request::cookie(crate::auth::service::SESSION_COOKIE)
        .map(|token| crate::auth::service::token_hash(&token));
    sqlx::query(
        "insert into push_subscriptions (id, user_id, endpoint, p256dh, auth, created_at, session_hash) \
         values ($1, $2, $3, $4, $5, $6, $7) on conflict (endpoint) do update set \
         user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth, \
         session_hash = excluded.session_hash",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(caller.me.id.as_str())
    .bind(url.as_str())
    .bind(B64.encode(key))
    .bind(B64.encode(secret))
    .bind(state.clock.now_ms())
    .bind(session)
    .execute(state.db.pool())
    .await?;
    Ok(())
}

/// Forgets the subscriptions made in a session that was signed out of.
pub async fn forget_session(db: &Db, session_hash: &str) -> AppResult<()> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "delete from push_deliveries where subscription_id in \
         (select id from push_subscriptions where session_hash = $1)",
    )
    .bind(session_hash)
    .execute(&mut *tx)
    .await?;
    sqlx::query("delete from push_subscriptions where session_hash = $1")
        .bind(session_hash)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Forgets the caller's subscription at this endpoint (push turned off).
pub async fn unsubscribe(state: &AppState, caller: &Caller, endpoint: &str) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "delete from push_deliveries where subscription_id in \
         (select id from push_subscriptions where endpoint = $1 and user_id = $2)",
    )
    .bind(stored_endpoint(endpoint))
    .bind(caller.me.id.as_str())
    .execute(&mut *tx)
    .await?;
    sqlx::query("delete from push_subscriptions where endpoint = $1 and user_id = $2")
        .bind(stored_endpoint(endpoint))
        .bind(caller.me.id.as_str())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// An endpoint as [`subscribe`] stores it (parsed and written again).
fn stored_endpoint(endpoint: &str) -> String {
    reqwest::Url::parse(endpoint.trim())
        .map(String::from)
        .unwrap_or_else(|_| endpoint.trim().to_string())
}

/// Whether the caller gets pushes at this endpoint.
pub async fn is_subscribed(state: &AppState, caller: &Caller, endpoint: &str) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "select count(*) from push_subscriptions where endpoint = $1 and user_id = $2",
    )
    .bind(stored_endpoint(endpoint))
    .bind(caller.me.id.as_str())
    .fetch_one(state.db.pool())
    .await?;
    Ok(n > 0)
}

/// How many browsers the caller gets pushes in.
pub async fn subscriptions(state: &AppState, caller: &Caller) -> AppResult<i64> {
    Ok(
        sqlx::query_scalar("select count(*) from push_subscriptions where user_id = $1")
            .bind(caller.me.id.as_str())
            .fetch_one(state.db.pool())
            .await?,
    )
}

/// Queues a push to each of the person's browsers, in the notifier's
/// transaction; once per (browser, event).
pub(super) async fn queue(
    tx: &mut Tx,
    person: &str,
    source: &str,
    payload: &serde_json::Value,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into push_deliveries (subscription_id, source, payload, status, attempts, next_at) \
         select s.id, $1, $2, 'waiting', 0, $3 from push_subscriptions s where s.user_id = $4 \
         on conflict (subscription_id, source) do nothing",
    )
    .bind(source)
    .bind(payload.to_string())
    .bind(now)
    .bind(person)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What became of one push.
enum Sent {
    Delivered,
    /// The push service forgot the subscription (404, 410).
    Gone,
    /// Worth another try (network, 429, 5xx), with why.
    Again(String),
    /// Refused for good (another 4xx, a bad stored key).
    Refused(String),
}

async fn send(
    client: &reqwest::Client,
    vapid: &Vapid,
    subject: &str,
    endpoint: &str,
    p256dh: &str,
    auth: &str,
    payload: &str,
) -> Sent {
    let parts = (|| {
        let uri: http::Uri = endpoint.parse().ok()?;
        let key = p256::PublicKey::from_sec1_bytes(&B64.decode(p256dh).ok()?).ok()?;
        let auth = B64.decode(auth).ok().filter(|a| a.len() == 16)?;
        Some((uri, key, Auth::clone_from_slice(&auth)))
    })();
    let Some((uri, key, auth)) = parts else {
        return Sent::Refused("the stored subscription does not read".into());
    };
    let request = match WebPushBuilder::new(uri, key, auth)
        .with_valid_duration(TTL)
        .with_vapid(&vapid.key, subject)
        .build(payload.as_bytes().to_vec())
    {
        Ok(r) => r,
        Err(e) => return Sent::Refused(format!("could not be encrypted ({e})")),
    };
    let (head, body) = request.into_parts();
    let mut out = client.post(endpoint).body(body);
    for (name, value) in head.headers.iter() {
        out = out.header(name.as_str(), value.as_bytes());
    }
    match out.send().await {
        Ok(r) if r.status().is_success() => Sent::Delivered,
        Ok(r) if r.status().as_u16() == 404 || r.status().as_u16() == 410 => Sent::Gone,
        Ok(r) if r.status().is_server_error() || r.status().as_u16() == 429 => {
            Sent::Again(format!("the push service answered {}", r.status()))
        }
        Ok(r) => Sent::Refused(format!("the push service answered {}", r.status())),
        Err(e) => Sent::Again(format!("the push service could not be reached ({e})")),
    }
}

/// Sends what is due; returns how many were delivered.
pub async fn send_due(
    state: &AppState,
    client: &reqwest::Client,
    vapid: &Vapid,
) -> AppResult<usize> {
    let now = state.clock.now_ms();
    let due = sqlx::query(
        "select d.subscription_id, d.source, d.payload, d.attempts, d.next_at, s.endpoint, s.p256dh, s.auth \
         from push_deliveries d join push_subscriptions s on s.id = d.subscription_id \
         where d.status = 'waiting' and d.next_at <= $1 order by d.next_at limit $2",
    )
    .bind(now)
    .bind(PER_PASS)
    .fetch_all(state.db.pool())
    .await?;
    let subject = state.settings.public_url.clone();
    let first = state.settings.push_retry;
    let mut delivered = 0;
    for row in due {
        let subscription: String = row.try_get("subscription_id")?;
        let source: String = row.try_get("source")?;
        let attempts: i64 = row.try_get("attempts")?;
        let next_at: i64 = row.try_get("next_at")?;
        // Claimed by moving it past the send's timeout: another process
        // looking now skips it.
        let claimed = sqlx::query(
            "update push_deliveries set next_at = $1 where subscription_id = $2 and source = $3 and next_at = $4",
        )
        .bind(now + SEND_TIMEOUT.as_millis() as i64 * 2)
        .bind(&subscription)
        .bind(&source)
        .bind(next_at)
        .execute(state.db.pool())
        .await?
        .rows_affected();
        if claimed != 1 {
            continue;
        }
        let outcome = send(
            client,
            vapid,
            &subject,
            &row.try_get::<String, _>("endpoint")?,
            &row.try_get::<String, _>("p256dh")?,
            &row.try_get::<String, _>("auth")?,
            &row.try_get::<String, _>("payload")?,
        )
        .await;
        let done = |status: &'static str| {
            sqlx::query(
                "update push_deliveries set status = $1, next_at = $2 where subscription_id = $3 and source = $4",
            )
            .bind(status)
            .bind(now)
        };
        match outcome {
            Sent::Delivered => {
                delivered += 1;
                done("sent")
                    .bind(&subscription)
                    .bind(&source)
                    .execute(state.db.pool())
                    .await?;
            }
            Sent::Gone => {
                tracing::info!(subscription = %subscription, "the push service forgot a subscription; removing it");
                sqlx::query("delete from push_deliveries where subscription_id = $1")
                    .bind(&subscription)
                    .execute(state.db.pool())
                    .await?;
                sqlx::query("delete from push_subscriptions where id = $1")
                    .bind(&subscription)
                    .execute(state.db.pool())
                    .await?;
            }
            Sent::Again(why) if attempts + 1 < MOST_ATTEMPTS => {
                let wait = first.as_millis() as i64 * (1 << attempts.min(16));
                tracing::warn!(subscription = %subscription, error = %why, retry_in_ms = wait, "a push failed; trying again");
                sqlx::query(
                    "update push_deliveries set attempts = $1, next_at = $2, last_error = $3 \
                     where subscription_id = $4 and source = $5",
                )
                .bind(attempts + 1)
                .bind(state.clock.now_ms() + wait)
                .bind(&why)
                .bind(&subscription)
                .bind(&source)
                .execute(state.db.pool())
                .await?;
            }
            Sent::Again(why) | Sent::Refused(why) => {
                tracing::warn!(subscription = %subscription, error = %why, "a push was given up");
                done("failed")
                    .bind(&subscription)
                    .bind(&source)
                    .execute(state.db.pool())
                    .await?;
            }
        }
    }
    sqlx::query("delete from push_deliveries where status <> 'waiting' and next_at < $1")
        .bind(now - KEEP_DONE.as_millis() as i64)
        .execute(state.db.pool())
        .await?;
    Ok(delivered)
}

/// How long sent and failed pushes are remembered.
const KEEP_DONE: Duration = Duration::from_secs(30 * 24 * 3600);

/// The HTTP client pushes go out with: the outbound checks of supplier
/// catalogs, no redirects (a push service answers where it is asked).
pub fn client(settings: &FetchSettings) -> Result<reqwest::Client, String> {
    crate::purchasing::feed::outbound_client(settings, SEND_TIMEOUT, false)
}

/// Starts the push worker: every second it sends what is due (new pushes
/// and retries).
pub fn start(
    supervisor: &Supervisor,
    state: AppState,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let shutdown = stop.clone();
    supervisor.spawn("push-sender", shutdown, move || {
        let (state, mut stop) = (state.clone(), stop.clone());
        async move {
            let client = match client(&state.settings.supplier_fetch) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "no pushes will be sent");
                    return;
                }
            };
            let vapid = loop {
                match vapid(&state.db).await {
                    Ok(v) => break v,
                    Err(e) => {
                        tracing::warn!(error = %e, "no VAPID key yet; trying again");
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                }
            };
            loop {
                if let Err(e) = send_due(&state, &client, &vapid).await {
                    tracing::warn!(error = %e, "could not send pushes; trying again");
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => return,
                }
                if *stop.borrow() {
                    return;
                }
            }
        }
    })
}
