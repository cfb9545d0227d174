//! Delivery of committed events to the consumers registered in code.
//!
//! A consumer sees every event once, in `seq` order. It applies an event
//! inside a transaction that also advances its checkpoint, so a consumer
//! that keeps its state in the database applies each event exactly once,
//! even across a crash. A consumer whose state lives in memory (a cache, a
//! live feed) starts at the head of the log when the process starts: there
//! is nothing of it to catch up.
//!
//! An event a consumer fails on is retried with exponential backoff; after
//! `max_attempts` it is parked in `dead_letters` with the error, the
//! checkpoint moves past it, and the consumer goes on. Parked events can be
//! listed and retried from the admin page.
//!
//! [`EventBus`] is the seam for another transport: a RabbitMQ bus would
//! relay the table to an exchange and call the same [`Consumer::handle`]
//! from its queue workers.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use super::store::{self, Event};
use crate::db::{now_ms, Db, Tx};
use crate::ids::DeadLetterId;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a consumer keeps what it builds from events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// In the database, written through the delivery transaction: resumes
    /// from its checkpoint after a restart.
    Durable,
    /// In memory: starts at the head of the log on every start.
    Ephemeral,
}

/// Something that reacts to events. `handle` must be idempotent: an event
/// may be delivered again if the process dies before the checkpoint
/// commits (for durable consumers the checkpoint shares the transaction,
/// so their writes and the checkpoint commit or vanish together).
pub trait Consumer: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn durability(&self) -> Durability;
    fn handle<'a>(&'a self, event: &'a Event, tx: &'a mut Tx) -> BoxFuture<'a, Result<(), String>>;

    /// Handles a run of events in one go. A consumer that writes may do
    /// it in fewer statements than one per event; an error sends delivery
    /// back to one event at a time, so it must leave nothing half-done
    /// that the transaction's rollback would not undo.
    fn handle_batch<'a>(
        &'a self,
        events: &'a [Event],
        tx: &'a mut Tx,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            for event in events {
                self.handle(event, tx).await?;
            }
            Ok(())
        })
    }
}

/// A delivery transaction: a durable consumer's writes share it with its
/// checkpoint (on SQLite it takes the write lock up front); an ephemeral
/// consumer writes nothing, so it gets a plain one that takes no lock.
async fn delivery_tx(db: &Db, consumer: &dyn Consumer) -> Result<Tx, String> {
    match consumer.durability() {
        Durability::Durable => db.begin().await,
        Durability::Ephemeral => db.pool().begin().await,
    }
    .map_err(|e| e.to_string())
}

/// Saves a durable consumer's checkpoint in its delivery transaction (an
/// ephemeral consumer starts at the head every time: nothing to save).
async fn save_position(tx: &mut Tx, consumer: &dyn Consumer, seq: i64) -> Result<(), String> {
    if consumer.durability() == Durability::Ephemeral {
        return Ok(());
    }
    store::save_checkpoint(tx, consumer.name(), seq)
        .await
        .map_err(|e| e.to_string())
}

/// How hard delivery tries before parking an event.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            first_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self, attempt: u32) -> Duration {
        self.first_backoff
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(self.max_backoff)
    }
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct ConsumerStats {
    pub delivered: AtomicU64,
    pub failures: AtomicU64,
    pub parked: AtomicU64,
    pub position: AtomicI64,
}

/// The transport between the event table and the consumers.
pub trait EventBus: Send + Sync + 'static {
    /// Called after a transaction that appended events has committed, so
    /// delivery starts without waiting for the next poll.
    fn committed(&self);
    /// The registered consumers, by name.
    fn consumers(&self) -> &[Arc<dyn Consumer>];
    fn stats(&self, consumer: &str) -> Option<Arc<ConsumerStats>>;
    fn policy(&self) -> &RetryPolicy;
    /// Starts delivery; the tasks end when `shutdown` turns true.
    fn start(self: Arc<Self>, db: Db, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>>;
}

/// The default transport: one task per consumer, reading the event table,
/// woken by commits in this process and by a short poll (for events other
/// processes wrote).
pub struct LocalBus {
    consumers: Vec<Arc<dyn Consumer>>,
    stats: HashMap<&'static str, Arc<ConsumerStats>>,
    /// One per consumer; `notify_one` keeps a permit, so a commit that
    /// lands while a consumer is busy is not missed.
    wake: HashMap<&'static str, Arc<Notify>>,
    policy: RetryPolicy,
    poll: Duration,
}

impl LocalBus {
    pub fn new(consumers: Vec<Arc<dyn Consumer>>, policy: RetryPolicy) -> Self {
        let stats = consumers
            .iter()
            .map(|c| (c.name(), Arc::new(ConsumerStats::default())))
            .collect();
        let wake = consumers
            .iter()
            .map(|c| (c.name(), Arc::new(Notify::new())))
            .collect();
        Self {
            consumers,
            stats,
            wake,
            policy,
            poll: Duration::from_millis(250),
        }
    }

    /// Starts one supervised delivery task per consumer. A task that
    /// panics is logged and started again from its checkpoint.
    fn spawn_all(self: &Arc<Self>, db: Db, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        self.consumers
            .iter()
            .map(|consumer| {
                let bus = self.clone();
                let consumer = consumer.clone();
                let db = db.clone();
                let shutdown = shutdown.clone();
                tokio::spawn(async move {
                    loop {
                        let run = tokio::spawn(bus.clone().deliver(db.clone(), consumer.clone(), shutdown.clone()));
                        match run.await {
                            Ok(()) => return,
                            Err(e) => {
                                tracing::error!(consumer = consumer.name(), error = %e, "event consumer task died; restarting it");
                                tokio::time::sleep(Duration::from_secs(1)).await;
                            }
                        }
                    }
                })
            })
            .collect()
    }

    async fn deliver(
        self: Arc<Self>,
        db: Db,
        consumer: Arc<dyn Consumer>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let name = consumer.name();
        let stats = self.stats[name].clone();
        let wake = self.wake[name].clone();
        let mut position = loop {
            match self.starting_position(&db, consumer.as_ref()).await {
                Ok(p) => break p,
                Err(e) => {
                    tracing::warn!(consumer = name, error = %e, "could not read the checkpoint; retrying");
                    if wait_or_stop(&mut shutdown, Duration::from_secs(1)).await {
                        return;
                    }
                }
            }
        };
        stats.position.store(position, Ordering::Relaxed);
        tracing::debug!(consumer = name, position, "event consumer started");
        loop {
            if *shutdown.borrow() {
                return;
            }
            let batch = match store::read_after(db.pool(), position, 500).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(consumer = name, error = %e, "could not read events; retrying");
                    if wait_or_stop(&mut shutdown, Duration::from_secs(1)).await {
                        return;
                    }
                    continue;
                }
            };
            if batch.is_empty() {
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(self.poll) => {}
                    _ = shutdown.changed() => return,
                }
                continue;
            }
            match self.deliver_batch(&db, consumer.as_ref(), &batch).await {
                Ok(()) => {
                    position = batch.last().map(|e| e.seq).unwrap_or(position);
                    stats
                        .delivered
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    stats.position.store(position, Ordering::Relaxed);
                }
                Err(_) => {
                    // Go one by one, so the events before the bad one are
                    // delivered and the bad one is retried on its own.
                    for event in &batch {
                        if *shutdown.borrow() {
                            return;
                        }
                        self.deliver_one(&db, consumer.as_ref(), event, &stats, &mut shutdown)
                            .await;
                        position = event.seq;
                        stats.position.store(position, Ordering::Relaxed);
                    }
                }
            }
        }
    }

    async fn starting_position(
        &self,
        db: &Db,
        consumer: &dyn Consumer,
    ) -> Result<i64, sqlx::Error> {
        let saved = store::checkpoint(db.pool(), consumer.name()).await?;
        match (consumer.durability(), saved) {
            (Durability::Durable, Some(p)) => Ok(p),
            (Durability::Durable, None) => Ok(0),
            (Durability::Ephemeral, _) => store::head(db.pool()).await,
        }
    }

    async fn deliver_batch(
        &self,
        db: &Db,
        consumer: &dyn Consumer,
        batch: &[Event],
    ) -> Result<(), String> {
        let mut tx = delivery_tx(db, consumer).await?;
        consumer.handle_batch(batch, &mut tx).await?;
        let last = batch.last().map(|e| e.seq).unwrap_or(0);
        save_position(&mut tx, consumer, last).await?;
        tx.commit().await.map_err(|e| e.to_string())
    }

    async fn try_one(db: &Db, consumer: &dyn Consumer, event: &Event) -> Result<(), String> {
        let mut tx = delivery_tx(db, consumer).await?;
        consumer.handle(event, &mut tx).await?;
        save_position(&mut tx, consumer, event.seq).await?;
        tx.commit().await.map_err(|e| e.to_string())
    }

    /// Delivers one event, retrying with backoff, and parks it when the
    /// attempts run out.
    async fn deliver_one(
        &self,
        db: &Db,
        consumer: &dyn Consumer,
        event: &Event,
        stats: &ConsumerStats,
        shutdown: &mut watch::Receiver<bool>,
    ) {
        let name = consumer.name();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::try_one(db, consumer, event).await {
                Ok(()) => {
                    stats.delivered.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Err(error) => {
                    stats.failures.fetch_add(1, Ordering::Relaxed);
                    if attempt >= self.policy.max_attempts {
                        tracing::error!(consumer = name, seq = event.seq, event_type = %event.event_type, %error, attempts = attempt, "parking an event the consumer keeps failing on");
                        loop {
                            match park(db, name, event.seq, attempt, &error).await {
                                Ok(()) => break,
                                Err(e) => {
                                    tracing::error!(consumer = name, seq = event.seq, error = %e, "could not park the event; retrying");
                                    if wait_or_stop(shutdown, Duration::from_secs(1)).await {
                                        return;
                                    }
                                }
                            }
                        }
                        stats.parked.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    tracing::warn!(consumer = name, seq = event.seq, %error, attempt, "event delivery failed; will retry");
                    if wait_or_stop(shutdown, self.policy.backoff(attempt)).await {
                        return;
                    }
                }
            }
        }
    }
}

/// Runs a parked event through its consumer again (from the admin page),
/// marking it resolved in the same transaction when it goes through.
pub async fn retry_parked(
    db: &Db,
    consumer: &dyn Consumer,
    event: &Event,
    dead_letter: &DeadLetterId,
) -> Result<(), String> {
    let mut tx = db.begin().await.map_err(|e| e.to_string())?;
    consumer.handle(event, &mut tx).await?;
    let now = now_ms();
    sqlx::query("update dead_letters set resolved_at = $1, retried_at = $1, attempts = attempts + 1 where id = $2")
        .bind(now)
        .bind(dead_letter.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())
}

impl EventBus for LocalBus {
    fn committed(&self) {
        for w in self.wake.values() {
            w.notify_one();
        }
    }

    fn consumers(&self) -> &[Arc<dyn Consumer>] {
        &self.consumers
    }

    fn stats(&self, consumer: &str) -> Option<Arc<ConsumerStats>> {
        self.stats.get(consumer).cloned()
    }

    fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    fn start(self: Arc<Self>, db: Db, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        self.spawn_all(db, shutdown)
    }
}

/// Records the parked event and moves the checkpoint past it, together.
async fn park(
    db: &Db,
    consumer: &str,
    seq: i64,
    attempts: u32,
    error: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "insert into dead_letters (id, consumer, event_seq, attempts, error, parked_at) values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(DeadLetterId::new().as_str())
    .bind(consumer)
    .bind(seq)
    .bind(attempts as i64)
    .bind(truncate(error, 2000))
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    store::save_checkpoint(&mut tx, consumer, seq).await?;
    tx.commit().await
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Sleeps, or returns true early when shutdown is signalled.
async fn wait_or_stop(shutdown: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => *shutdown.borrow(),
        _ = shutdown.changed() => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            max_attempts: 10,
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
        };
        let waits: Vec<u128> = (1..=6).map(|a| p.backoff(a).as_millis()).collect();
        assert_eq!(waits, vec![100, 200, 400, 800, 1000, 1000]);
    }
}
