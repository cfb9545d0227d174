//! A PostgreSQL read replica for heavy reads (reports, history, exports).
//!
//! Writes, and every read that must see the caller's own write, stay on the
//! primary. Heavy reads ask [`super::Db::reads`], which answers the replica's
//! pool while the replica is reachable and no further behind than the
//! configured lag, and the primary's otherwise, so a replica that falls
//! behind or goes away costs freshness for at most one watch interval and
//! never an answer. A watcher measures the lag every [`WATCH_EVERY`].

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

/// How often the watcher measures the replica.
const WATCH_EVERY: Duration = Duration::from_millis(500);
/// How long one measurement may take before the replica counts as away.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// The replica's lag in seconds: zero when it has replayed everything it
/// received (an idle primary sends nothing, so the last replayed
/// transaction's age says nothing then), else the age of the last replayed
/// transaction. A server that is not in recovery (a primary given as the
/// replica) is never behind itself.
const LAG_SQL: &str = "select case \
     when not pg_is_in_recovery() then 0::float8 \
     when pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() then 0::float8 \
     else coalesce(extract(epoch from now() - pg_last_xact_replay_timestamp()), 0)::float8 end";

/// Where the replica stands, as the watcher last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaHealth {
    /// Not measured yet: reads stay on the primary until the first answer.
    Unknown = 0,
    /// Answering and within the allowed lag: heavy reads go to it.
    InUse = 1,
    /// Answering but further behind than allowed: reads on the primary.
    Lagging = 2,
    /// Not answering: reads on the primary.
    Unreachable = 3,
}

impl ReplicaHealth {
    fn from_u8(n: u8) -> Self {
        match n {
            1 => Self::InUse,
            2 => Self::Lagging,
            3 => Self::Unreachable,
            _ => Self::Unknown,
        }
    }

    /// For `/readyz`.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Unknown => "not measured yet; reads on the primary",
            Self::InUse => "in use",
            Self::Lagging => "lagging; reads on the primary",
            Self::Unreachable => "unreachable; reads on the primary",
        }
    }
}

pub(super) struct Replica {
    pool: AnyPool,
    max_lag: Duration,
    health: AtomicU8,
    /// The last measured lag, in milliseconds.
    lag_ms: AtomicU64,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica")
            .field("health", &self.health())
            .field("lag", &self.lag())
            .finish()
    }
}

impl Replica {
    /// A pool on the replica, connected lazily: a replica that is down when
    /// the server starts is only marked unreachable, never fatal.
    pub(super) fn open(url: &str, max_lag: Duration) -> Result<Self, sqlx::Error> {
        let pool = AnyPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(ANSWER_WITHIN)
            .test_before_acquire(false)
            .connect_lazy(url)?;
        Ok(Self {
            pool,
            max_lag,
            health: AtomicU8::new(ReplicaHealth::Unknown as u8),
            lag_ms: AtomicU64::new(0),
        })
    }

    pub(super) fn pool_if_usable(&self) -> Option<&AnyPool> {
        (self.health() == ReplicaHealth::InUse).then_some(&self.pool)
    }

    pub(super) fn health(&self) -> ReplicaHealth {
        ReplicaHealth::from_u8(self.health.load(Ordering::Relaxed))
    }

    pub(super) fn lag(&self) -> Duration {
        Duration::from_millis(self.lag_ms.load(Ordering::Relaxed))
    }

    /// Measures once and records what it saw.
    pub(super) async fn measure(&self) -> ReplicaHealth {
        let answer = tokio::time::timeout(
            ANSWER_WITHIN,
            sqlx::query_scalar::<_, f64>(LAG_SQL).fetch_one(&self.pool),
        )
        .await;
        let health = match answer {
            Ok(Ok(seconds)) => {
                let lag = Duration::from_secs_f64(seconds.max(0.0));
                self.lag_ms.store(lag.as_millis() as u64, Ordering::Relaxed);
                if lag <= self.max_lag {
                    ReplicaHealth::InUse
                } else {
                    ReplicaHealth::Lagging
                }
            }
            Ok(Err(error)) => {
                tracing::debug!(%error, "read replica did not answer");
                ReplicaHealth::Unreachable
            }
            Err(_) => ReplicaHealth::Unreachable,
        };
        let before = self.health.swap(health as u8, Ordering::Relaxed);
        if before != health as u8 {
            match health {
                ReplicaHealth::InUse => tracing::info!("read replica in use for heavy reads"),
                other => tracing::warn!(
                    lag_ms = self.lag_ms.load(Ordering::Relaxed),
                    "read replica {}",
                    other.describe()
                ),
            }
        }
        health
    }

    /// Measures every [`WATCH_EVERY`] until `shutdown` turns true.
    pub(super) async fn watch(&self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            self.measure().await;
            tokio::select! {
                _ = tokio::time::sleep(WATCH_EVERY) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }
}
