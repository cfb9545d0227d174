//! What replicas share through Redis: the sign-in throttle, the rate
//! limits, and word that a cached caller must be forgotten.
//!
//! Each check is one Lua script, so it is atomic across replicas and one
//! round trip. Time is Redis's own (`TIME`), so replicas' clocks need not
//! agree. When Redis does not answer within a second, a replica falls back
//! to its own in-process throttle and limits (and says so in its log,
//! readiness and metrics): a Redis outage weakens the limits to what one
//! replica sees; it never refuses or fails a request.
//!
//! The rate limit is GCRA with the same quota and burst as the in-process
//! `governor` limiter. No Rust crate keeps a GCRA (or a sign-in backoff)
//! in Redis; the scripts are short and each is tested against a real
//! Redis server.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::auth::callers::CallerCache;

/// How long one Redis command may take before the replica decides alone.
const ANSWER_WITHIN: Duration = Duration::from_secs(1);

/// How to reach Redis (`LARDER_REDIS_URL`, `LARDER_REDIS_PREFIX`).
#[derive(Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis://[:password@]host:6379/0`, or `rediss://` for TLS.
    pub url: String,
    /// Put before every key and channel, so deployments can share a server.
    pub prefix: String,
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &crate::events::rabbit::redacted(&self.url))
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl RedisSettings {
    /// Checks the URL the way the client will read it.
    pub fn check(&self) -> Result<(), String> {
        redis::Client::open(self.url.as_str())
            .map(|_| ())
            .map_err(|e| format!("not a Redis URL ({e}); expected redis://host:6379/0"))
    }
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct ClusterStats {
    /// Checks Redis did not answer, decided by this replica alone.
    pub fallbacks: AtomicU64,
    /// Forget-this-caller messages received from any replica.
    pub forgets_received: AtomicU64,
}

/// The sign-in throttle: an account's failures in a row (a hash) and an
/// address's attempts in the window (a sorted set). Refuses with the wait
/// in ms, or records the attempt as a failure and answers 0.
const SIGN_IN: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local free = tonumber(ARGV[2])
local first = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
local per_address = tonumber(ARGV[5])
local member = ARGV[6]
local wait = 0
local failures = 0
local account = redis.call('HMGET', KEYS[1], 'failures', 'next', 'last')
if account[3] and now - tonumber(account[3]) < window then
  failures = tonumber(account[1])
  wait = math.max(0, tonumber(account[2]) - now)
end
if member ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
  local n = redis.call('ZCARD', KEYS[2])
  if n >= per_address then
    local oldest = redis.call('ZRANGE', KEYS[2], n - per_address, n - per_address, 'WITHSCORES')
    wait = math.max(wait, window - (now - tonumber(oldest[2])))
  end
end
if wait > 0 then
  return wait
end
failures = failures + 1
local delay = 0
if failures >= free then
  delay = math.min(first * 2 ^ math.min(failures - free, 16), cap)
end
redis.call('HSET', KEYS[1], 'failures', failures, 'next', now + delay, 'last', now)
redis.call('PEXPIRE', KEYS[1], window)
if member ~= '' then
  redis.call('ZADD', KEYS[2], now, member)
  redis.call('PEXPIRE', KEYS[2], window)
end
return 0
"#;

/// GCRA: `ARGV[1]` ms between requests at the steady rate, `ARGV[2]` the
/// burst. Answers 0 (allowed, counted) or the wait in ms.
const GCRA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then
  tat = now
end
local next_tat = tat + interval
local allowed_at = next_tat - interval * burst
if now < allowed_at then
  return math.ceil(allowed_at - now)
end
redis.call('SET', KEYS[1], next_tat, 'PX', math.ceil(next_tat - now))
return 0
"#;

pub struct Cluster {
    prefix: String,
    client: redis::Client,
    conn: ConnectionManager,
    sign_in: redis::Script,
    gcra: redis::Script,
    /// Word for the other replicas that a caller must be forgotten.
    forgets: mpsc::Sender<Forget>,
    forgets_out: std::sync::Mutex<Option<mpsc::Receiver<Forget>>>,
    pub stats: ClusterStats,
}

/// What a replica tells the others to forget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forget {
    Session(String),
    Everyone,
}

impl Forget {
    fn encode(&self) -> String {
        match self {
            Self::Session(hash) => format!("session {hash}"),
            Self::Everyone => "everyone".into(),
        }
    }

    fn decode(s: &str) -> Option<Self> {
        match s.split_once(' ') {
            Some(("session", hash)) if !hash.is_empty() => Some(Self::Session(hash.into())),
            None if s == "everyone" => Some(Self::Everyone),
            _ => None,
        }
    }
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

impl Cluster {
    /// Connects lazily: a replica starts while Redis is down, and uses it
    /// from the moment it answers.
    pub fn new(settings: &RedisSettings) -> Result<Self, String> {
        let client = redis::Client::open(settings.url.as_str()).map_err(|e| e.to_string())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(ANSWER_WITHIN))
            .set_response_timeout(Some(ANSWER_WITHIN))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| e.to_string())?;
        let (forgets, out) = mpsc::channel(1024);
        Ok(Self {
            prefix: settings.prefix.clone(),
            client,
            conn,
            sign_in: redis::Script::new(SIGN_IN),
            gcra: redis::Script::new(GCRA),
            forgets,
            forgets_out: std::sync::Mutex::new(Some(out)),
            stats: Default::default(),
        })
    }

    fn key(&self, parts: &[&str]) -> String {
        format!("{}{}", self.prefix, parts.join(":"))
    }

    /// Redis answers `PING` within a second.
    pub async fn ping(&self) -> bool {
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("PING");
        let ping = cmd.query_async::<String>(&mut conn);
        matches!(tokio::time::timeout(ANSWER_WITHIN, ping).await, Ok(Ok(_)))
    }

    /// Runs a script; `None` (counted, logged) when Redis does not answer.
    async fn run(&self, invocation: redis::ScriptInvocation<'_>, what: &str) -> Option<u64> {
        let mut conn = self.conn.clone();
        match tokio::time::timeout(ANSWER_WITHIN, invocation.invoke_async::<u64>(&mut conn)).await {
            Ok(Ok(wait)) => Some(wait),
            outcome => {
                self.stats.fallbacks.fetch_add(1, Ordering::Relaxed);
                let error = match outcome {
                    Ok(Err(e)) => e.to_string(),
                    _ => "no answer within a second".into(),
                };
                tracing::warn!(%error, check = what, "Redis unavailable; this replica decides alone");
                None
            }
        }
    }

    /// A sign-in attempt, counted as a failure until [`Self::sign_in_succeeded`]:
    /// `Some(Ok)` go on, `Some(Err(wait))` refused, `None` Redis is away.
    pub async fn sign_in_attempt(
        &self,
        account: &str,
        address: Option<&str>,
        attempt: &str,
    ) -> Option<Result<(), Duration>> {
        use crate::auth::sessions::SignInThrottle as T;
        let mut script = self.sign_in.prepare_invoke();
        script
            .key(self.key(&["sign-in", "account", account]))
            .key(self.key(&["sign-in", "address", address.unwrap_or("")]))
            .arg(ms(T::WINDOW))
            .arg(T::FREE_FAILURES)
            .arg(ms(T::FIRST_DELAY))
            .arg(ms(T::MAX_DELAY))
            .arg(T::PER_ADDRESS)
            .arg(if address.is_some() { attempt } else { "" });
        let wait = self.run(script, "sign-in throttle").await?;
        Some(match wait {
            0 => Ok(()),
            ms => Err(Duration::from_millis(ms)),
        })
    }

    /// A correct password: the account's failures are forgotten, and the
    /// attempt no longer counts against the address.
    pub async fn sign_in_succeeded(&self, account: &str, address: Option<&str>, attempt: &str) {
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.del(self.key(&["sign-in", "account", account]));
        if let Some(a) = address {
            pipe.zrem(self.key(&["sign-in", "address", a]), attempt);
        }
        let done = tokio::time::timeout(ANSWER_WITHIN, pipe.query_async::<()>(&mut conn)).await;
        if !matches!(done, Ok(Ok(()))) {
            self.stats.fallbacks.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                "Redis unavailable; a successful sign-in's failures stay counted until they expire"
            );
        }
    }

    /// One request against a quota of `per_minute` (burst the same), for
    /// the limit called `limit` and the caller `who`: `Some(Ok)` allowed,
    /// `Some(Err(wait))` over the limit, `None` Redis is away.
    pub async fn rate_limit(
        &self,
        limit: &str,
        who: &str,
        per_minute: u32,
    ) -> Option<Result<(), Duration>> {
        let interval = 60_000.0 / f64::from(per_minute.max(1));
        let mut script = self.gcra.prepare_invoke();
        script
            .key(self.key(&["rate", limit, who]))
            .arg(interval)
            .arg(per_minute);
        let wait = self.run(script, "rate limit").await?;
        Some(match wait {
            0 => Ok(()),
            ms => Err(Duration::from_millis(ms)),
        })
    }

    /// Tells every replica (this one too) to forget a cached caller.
    pub fn forget(&self, what: Forget) {
        if self.forgets.try_send(what).is_err() {
            tracing::warn!("too many caller changes queued for Redis; other replicas see them within the cache's lifetime");
        }
    }

    /// Publishes this replica's forget messages and applies everyone's,
    /// reconnecting to Redis as needed, until shutdown.
    pub fn start(
        self: &Arc<Self>,
        callers: Arc<CallerCache>,
        tasks: &crate::tasks::Supervisor,
        shutdown: watch::Receiver<bool>,
    ) -> Vec<JoinHandle<()>> {
        let channel = self.key(&["callers"]);
        let mut handles = Vec::new();
        let out = self
            .forgets_out
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(out) = out {
            let (cluster, channel, stop) = (self.clone(), channel.clone(), shutdown.clone());
            let out = Arc::new(tokio::sync::Mutex::new(out));
            handles.push(tasks.spawn("redis-publisher", shutdown.clone(), move || {
                publish(cluster.clone(), channel.clone(), out.clone(), stop.clone())
            }));
        }
        let (cluster, stop) = (self.clone(), shutdown.clone());
        handles.push(tasks.spawn("redis-subscriber", shutdown, move || {
            subscribe(
                cluster.clone(),
                channel.clone(),
                callers.clone(),
                stop.clone(),
            )
        }));
        handles
    }
}

async fn publish(
    cluster: Arc<Cluster>,
    channel: String,
    out: Arc<tokio::sync::Mutex<mpsc::Receiver<Forget>>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut out = out.lock().await;
    loop {
        let what = tokio::select! {
            w = out.recv() => match w { Some(w) => w, None => return },
            _ = shutdown.changed() => return,
        };
        let mut conn = cluster.conn.clone();
        let sent = tokio::time::timeout(
            ANSWER_WITHIN,
            redis::cmd("PUBLISH")
                .arg(&channel)
                .arg(what.encode())
                .query_async::<i64>(&mut conn),
        )
        .await;
        if !matches!(sent, Ok(Ok(_))) {
            cluster.stats.fallbacks.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("could not tell the other replicas to forget a caller; they will within the cache's lifetime");
        }
    }
}

async fn subscribe(
    cluster: Arc<Cluster>,
    channel: String,
    callers: Arc<CallerCache>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let session = async {
            let mut pubsub = cluster
                .client
                .get_async_pubsub()
                .await
                .map_err(|e| e.to_string())?;
            pubsub
                .subscribe(&channel)
                .await
                .map_err(|e| e.to_string())?;
            // Whatever changed while unsubscribed went unheard: forget all.
            callers.forget_all_here();
            let mut messages = pubsub.on_message();
            while let Some(message) = messages.next().await {
                let Ok(text) = message.get_payload::<String>() else {
                    continue;
                };
                cluster
                    .stats
                    .forgets_received
                    .fetch_add(1, Ordering::Relaxed);
                match Forget::decode(&text) {
                    Some(Forget::Session(hash)) => callers.forget_here(&hash),
                    Some(Forget::Everyone) => callers.forget_all_here(),
                    None => {
                        tracing::warn!(message = %text, "unknown message on the callers channel")
                    }
                }
            }
            Err::<(), String>("the subscription ended".into())
        };
        tokio::select! {
            ended = session => {
                if let Err(e) = ended {
                    tracing::warn!(error = %e, "Redis subscription lost; resubscribing");
                }
            }
            _ = shutdown.changed() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.changed() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forget_messages_read_back() {
        for f in [Forget::Session("abc123".into()), Forget::Everyone] {
            assert_eq!(Forget::decode(&f.encode()), Some(f));
        }
        assert_eq!(Forget::decode("session "), None);
        assert_eq!(Forget::decode("nonsense"), None);
    }

    #[test]
    fn the_url_is_checked_and_its_password_kept_out_of_logs() {
        let s = RedisSettings {
            url: "redis://:hunter2@cache:6379/0".into(),
            prefix: "larder:".into(),
        };
        assert!(s.check().is_ok());
        assert!(!format!("{s:?}").contains("hunter2"));
        let bad = RedisSettings {
            url: "http://cache".into(),
            prefix: "larder:".into(),
        };
        assert!(bad.check().is_err());
    }
}
