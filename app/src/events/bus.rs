//! Delivery of committed events to the consumers registered in code.
//!
//! A consumer sees every event once, in `seq` order. It applies an event
//! inside a transaction that also advances its checkpoint, so a consumer
//! that keeps its state in the database applies each event exactly once,
//! even across a crash. A consumer whose state lives in memory (a cache, a
//! live feed) starts at the head of the log when the process starts: there
//! is nothing of it to catch up.
//!
//! Consumers share their reads: the bus keeps the tail of the log it last
//! read in memory, and a consumer at a position the tail covers is served
//! from it, so one commit costs one read of the event table, not one per
//! consumer. Only a consumer that writes opens a transaction for a
//! delivery; one that may lag a little ([`Consumer::linger`]) waits a
//! moment after a wake-up, so it writes fewer, larger batches.
//!
//! An event a consumer fails on is retried with exponential backoff; after
//! `max_attempts` it is parked in `dead_letters` with the error, the
//! checkpoint moves past it, and the consumer goes on. Parked events can be
//! listed and retried from the admin page.
//!
//! [`EventBus`] is the seam for another transport: the RabbitMQ bus
//! ([`super::rabbit`]) relays the table to an exchange and calls the same
//! [`Consumer::handle_batch`] from its queue workers.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument as _;

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use super::domain::DomainEvent;
use super::store::{self, Event};
use crate::db::{now_ms, Backend, Db, Tx};
use crate::ids::DeadLetterId;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Events read at a time.
pub(super) const READ_LIMIT: usize = 500;

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
    fn handle<'a>(
        &'a self,
        event: &'a Event,
        delivery: &'a mut Delivery,
    ) -> BoxFuture<'a, Result<(), String>>;

    /// Handles a run of events in one go. A consumer that writes may do
    /// it in fewer statements than one per event; an error sends delivery
    /// back to one event at a time, so it must leave nothing half-done
    /// that the transaction's rollback would not undo.
    fn handle_batch<'a>(
        &'a self,
        events: &'a [Event],
        delivery: &'a mut Delivery,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            for event in events {
                self.handle(event, delivery).await?;
            }
            Ok(())
        })
    }

    /// How long delivery waits after a wake-up before reading, so a run of
    /// commits arrives as one batch: for a consumer whose readers can be a
    /// moment behind and whose writes compete with the movement writer.
    fn linger(&self) -> Duration {
        Duration::ZERO
    }
}

/// One delivery: the transaction a consumer writes in, begun the first
/// time it asks for it (on SQLite with the write lock taken up front), so
/// a consumer that keeps its state in memory costs the database nothing.
pub struct Delivery {
    db: Db,
    tx: Option<Tx>,
}

impl Delivery {
    pub(super) fn new(db: &Db) -> Self {
        Self {
            db: db.clone(),
            tx: None,
        }
    }

    /// The delivery's transaction, begun now if it was not yet.
    pub async fn tx(&mut self) -> Result<&mut Tx, String> {
        if self.tx.is_none() {
            self.tx = Some(self.db.begin().await.map_err(|e| e.to_string())?);
        }
        Ok(self.tx.as_mut().expect("begun above"))
    }

    /// Saves a durable consumer's checkpoint with its writes, and commits
    /// whatever was written. An ephemeral consumer starts at the head every
    /// time: nothing to save.
    pub(super) async fn finish(mut self, consumer: &dyn Consumer, seq: i64) -> Result<(), String> {
        if consumer.durability() == Durability::Durable {
            let tx = self.tx().await?;
            store::save_checkpoint(tx, consumer.name(), seq)
                .await
                .map_err(|e| e.to_string())?;
        }
        match self.tx {
            Some(tx) => tx.commit().await.map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }
}

/// How many events the bus keeps in memory for consumers to share.
const TAIL_EVENTS: usize = 2_000;

/// Every committed event with `from < seq <= to`, in order: the part of
/// the log the bus read last.
struct Tail {
    from: i64,
    to: i64,
    events: std::collections::VecDeque<Event>,
}

impl Tail {
    fn after(&self, position: i64, limit: usize) -> Vec<Event> {
        self.events
            .iter()
            .filter(|e| e.seq > position)
            .take(limit)
            .cloned()
            .collect()
    }

    fn extend(&mut self, read: &[Event]) {
        if let Some(last) = read.last() {
            self.to = self.to.max(last.seq);
        }
        self.events.extend(read.iter().cloned());
        while self.events.len() > TAIL_EVENTS {
            if let Some(dropped) = self.events.pop_front() {
                self.from = dropped.seq;
            }
        }
    }
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
    /// Whether the message broker is reachable now; `None` when events
    /// travel in-process.
    fn broker(&self) -> Option<bool> {
        None
    }
    /// How the relay to the broker is doing, when there is one.
    fn relay(&self) -> Option<&super::rabbit::RelayStats> {
        None
    }
    /// Starts delivery under `tasks`; the tasks end when `shutdown` turns true.
    fn start(
        self: Arc<Self>,
        db: Db,
        tasks: &crate::tasks::Supervisor,
        shutdown: watch::Receiver<bool>,
    ) -> Vec<JoinHandle<()>>;
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
    /// Held while reading the log, so consumers woken together read it
    /// once between them.
    tail: tokio::sync::Mutex<Option<Tail>>,
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
            tail: tokio::sync::Mutex::new(None),
        }
    }

    /// Up to `limit` events after `position`: from the shared tail when it
    /// covers the position, else from the table (extending the tail when
    /// the read starts where it ends).
    async fn events_after(
        &self,
        db: &Db,
        position: i64,
        limit: usize,
    ) -> Result<Vec<Event>, sqlx::Error> {
        let mut tail = self.tail.lock().await;
        match tail.as_mut() {
            Some(t) if t.from <= position && position < t.to => Ok(t.after(position, limit)),
            Some(t) if position < t.from => {
                // Far behind (catching up after a restart): straight from
                // the table, leaving the tail to those at the head.
                drop(tail);
                store::read_after(db.pool(), position, limit as i64).await
            }
            _ => {
                let read = store::read_after(db.pool(), position, limit as i64).await?;
                match tail.as_mut() {
                    Some(t) if t.to == position => t.extend(&read),
                    _ => {
                        let mut fresh = Tail {
                            from: position,
                            to: position,
                            events: Default::default(),
                        };
                        fresh.extend(&read);
                        *tail = Some(fresh);
                    }
                }
                Ok(read)
            }
        }
    }

    /// Starts one supervised delivery task per consumer. A task that
    /// panics is logged and started again from its checkpoint.
    fn spawn_all(
        self: &Arc<Self>,
        db: Db,
        tasks: &crate::tasks::Supervisor,
        shutdown: watch::Receiver<bool>,
    ) -> Vec<JoinHandle<()>> {
        self.consumers
            .iter()
            .map(|consumer| {
                let bus = self.clone();
                let consumer = consumer.clone();
                let db = db.clone();
                let stop = shutdown.clone();
                tasks.spawn(consumer.name(), shutdown.clone(), move || {
                    bus.clone()
                        .deliver(db.clone(), consumer.clone(), stop.clone())
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
        // Whether the last read may have left events behind it.
        let mut more = true;
        loop {
            if *shutdown.borrow() {
                return;
            }
            if !more {
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(self.poll) => {}
                    _ = shutdown.changed() => return,
                }
                let linger = consumer.linger();
                if !linger.is_zero() && wait_or_stop(&mut shutdown, linger).await {
                    return;
                }
            }
            let batch = match self.events_after(&db, position, READ_LIMIT).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(consumer = name, error = %e, "could not read events; retrying");
                    if wait_or_stop(&mut shutdown, Duration::from_secs(1)).await {
                        return;
                    }
                    more = true;
                    continue;
                }
            };
            // A short read reached the head; a commit since then has left
            // a wake-up behind, so waiting for one misses nothing.
            more = batch.len() == READ_LIMIT;
            if batch.is_empty() {
                continue;
            }
            match deliver_batch(&db, consumer.as_ref(), &batch).await {
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
                        deliver_one(
                            &self.policy,
                            &db,
                            consumer.as_ref(),
                            event,
                            &stats,
                            &mut shutdown,
                        )
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
}

/// Hands a run of events to the consumer in one delivery. A durable
/// consumer's checkpoint is read (locked) first: what another process
/// running the same consumer applied already is skipped, so two replicas
/// on one database never apply an event twice.
pub(super) async fn deliver_batch(
    db: &Db,
    consumer: &dyn Consumer,
    batch: &[Event],
) -> Result<(), String> {
    let mut delivery = Delivery::new(db);
    if consumer.durability() == Durability::Durable {
        let done = checkpoint_locked(&mut delivery, db.backend(), consumer.name()).await?;
        let from = batch.partition_point(|e| e.seq <= done);
        if from == batch.len() {
            return Ok(());
        }
        return deliver_in(delivery, consumer, &batch[from..]).await;
    }
    deliver_in(delivery, consumer, batch).await
}

/// A durable consumer's checkpoint, read in its delivery's transaction and
/// (on PostgreSQL) locked there, so a replica taking over the queue waits
/// for the one before to commit and then sees what it applied. (SQLite's
/// transactions already take the write lock when they begin.)
pub(super) async fn checkpoint_locked(
    delivery: &mut Delivery,
    backend: Backend,
    consumer: &str,
) -> Result<i64, String> {
    let sql = match backend {
        Backend::Postgres => {
            "select last_seq from consumer_checkpoints where consumer = $1 for update"
        }
        Backend::Sqlite => "select last_seq from consumer_checkpoints where consumer = $1",
    };
    let tx = delivery.tx().await?;
    let seq: Option<i64> = sqlx::query_scalar(sql)
        .bind(consumer)
        .fetch_optional(&mut **tx)
        .await
        .map_err(|e| e.to_string())?;
    Ok(seq.unwrap_or(0))
}

/// Hands a run of events to the consumer in the delivery given (which
/// may have begun its transaction already) and finishes it.
pub(super) async fn deliver_in(
    mut delivery: Delivery,
    consumer: &dyn Consumer,
    batch: &[Event],
) -> Result<(), String> {
    async {
        consumer.handle_batch(batch, &mut delivery).await?;
        let last = batch.last().map(|e| e.seq).unwrap_or(0);
        delivery.finish(consumer, last).await
    }
    .instrument(delivery_span(consumer, batch))
    .await
}

async fn try_one(db: &Db, consumer: &dyn Consumer, event: &Event) -> Result<(), String> {
    let mut delivery = Delivery::new(db);
    async {
        // One at a time is where a batch goes after an error, including a
        // commit whose answer was lost (the database restarted under it)
        // although it went through: what the checkpoint already covers is
        // not applied again.
        if consumer.durability() == Durability::Durable
            && checkpoint_locked(&mut delivery, db.backend(), consumer.name()).await? >= event.seq
        {
            return Ok(());
        }
        consumer.handle(event, &mut delivery).await?;
        delivery.finish(consumer, event.seq).await
    }
    .instrument(delivery_span(consumer, std::slice::from_ref(event)))
    .await
}

/// The span a delivery runs in: it continues the trace of the request that
/// appended the (first) event, and links the others' (see
/// [`super::trace`]).
fn delivery_span(consumer: &dyn Consumer, batch: &[Event]) -> tracing::Span {
    let first = batch.first();
    let span = tracing::info_span!(
        "deliver",
        consumer = consumer.name(),
        events = batch.len(),
        seq = first.map(|e| e.seq).unwrap_or(0),
        event_type = first.map(|e| e.event_type.as_str()).unwrap_or(""),
    );
    super::trace::continue_in(
        &span,
        batch.iter().filter_map(|e| e.trace_parent.as_deref()),
    );
    span
}

/// Delivers one event, retrying with backoff, and parks it when the
/// attempts run out.
pub(super) async fn deliver_one(
    policy: &RetryPolicy,
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
        match try_one(db, consumer, event).await {
            Ok(()) => {
                stats.delivered.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(error) => {
                stats.failures.fetch_add(1, Ordering::Relaxed);
                if attempt >= policy.max_attempts && db.ping().await.is_err() {
                    // The database is away (restarting, failing over): not
                    // the event's fault. Wait for it, then start counting
                    // again, so an outage parks nothing.
                    tracing::warn!(consumer = name, seq = event.seq, %error, "the database does not answer; holding the event until it does");
                    if wait_or_stop(shutdown, Duration::from_secs(1)).await {
                        return;
                    }
                    attempt = 0;
                    continue;
                }
                if attempt >= policy.max_attempts {
                    tracing::error!(consumer = name, seq = event.seq, event_type = %event.event_type, %error, attempts = attempt, "parking an event the consumer keeps failing on");
                    loop {
                        match park(db, name, event, attempt, &error).await {
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
                if wait_or_stop(shutdown, policy.backoff(attempt)).await {
                    return;
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
    let mut delivery = Delivery::new(db);
    consumer.handle(event, &mut delivery).await?;
    let now = now_ms();
    let tx = delivery.tx().await?;
    sqlx::query("update dead_letters set resolved_at = $1, retried_at = $1, attempts = attempts + 1 where id = $2")
        .bind(now)
        .bind(dead_letter.as_str())
        .execute(&mut **tx)
        .await
        .map_err(|e| e.to_string())?;
    tell(
        tx,
        db.backend(),
        event,
        DomainEvent::ParkedEventDelivered(Parked::of(consumer.name(), event)),
    )
    .await
    .map_err(|e| e.to_string())?;
    match delivery.tx {
        Some(tx) => tx.commit().await.map_err(|e| e.to_string()),
        None => Ok(()),
    }
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

    fn start(
        self: Arc<Self>,
        db: Db,
        tasks: &crate::tasks::Supervisor,
        shutdown: watch::Receiver<bool>,
    ) -> Vec<JoinHandle<()>> {
        self.spawn_all(db, tasks, shutdown)
    }
}

/// What the `EventParked` and `ParkedEventDelivered` events carry: which
/// consumer, and which event of the log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Parked {
    pub consumer: String,
    pub event_seq: i64,
    pub event_type: String,
}

impl Parked {
    fn of(consumer: &str, event: &Event) -> Self {
        Self {
            consumer: consumer.to_string(),
            event_seq: event.seq,
            event_type: event.event_type.clone(),
        }
    }
}

/// Says in the log that a parked event changed (the analyser tells the
/// organization's admins), beside the change itself. Never about an event
/// that says so itself: a consumer failing on those would park forever.
async fn tell(
    tx: &mut Tx,
    backend: crate::db::Backend,
    event: &Event,
    said: DomainEvent,
) -> crate::error::AppResult<()> {
    if matches!(
        event.event,
        Ok(DomainEvent::EventParked(_) | DomainEvent::ParkedEventDelivered(_))
    ) {
        return Ok(());
    }
    store::append(
        tx,
        backend,
        &store::NewEvent {
            event: &said,
            organization_id: &event.organization_id,
            pantry_id: event.pantry_id.as_deref(),
            actor_id: None,
            correlation_id: &event.correlation_id,
            client_ip: None,
            trace_parent: None,
            occurred_at: now_ms(),
        },
    )
    .await?;
    Ok(())
}

/// Records the parked event and moves the checkpoint past it, together,
/// with an `EventParked` event.
async fn park(
    db: &Db,
    consumer: &str,
    event: &Event,
    attempts: u32,
    error: &str,
) -> crate::error::AppResult<()> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "insert into dead_letters (id, consumer, event_seq, attempts, error, parked_at) values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(DeadLetterId::new().as_str())
    .bind(consumer)
    .bind(event.seq)
    .bind(attempts as i64)
    .bind(truncate(error, 2000))
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    tell(
        &mut tx,
        db.backend(),
        event,
        DomainEvent::EventParked(Parked::of(consumer, event)),
    )
    .await?;
    store::save_checkpoint(&mut tx, consumer, event.seq).await?;
    tx.commit().await?;
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Sleeps, or returns true early when shutdown is signalled.
pub(super) async fn wait_or_stop(shutdown: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => *shutdown.borrow(),
        _ = shutdown.changed() => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts what it is handed; durable, with no state but its checkpoint.
    struct Counting(std::sync::atomic::AtomicUsize);

    impl Consumer for Counting {
        fn name(&self) -> &'static str {
            "counting"
        }
        fn durability(&self) -> Durability {
            Durability::Durable
        }
        fn handle<'a>(
            &'a self,
            _event: &'a Event,
            _delivery: &'a mut Delivery,
        ) -> BoxFuture<'a, Result<(), String>> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Box::pin(async { Ok(()) })
        }
    }

    fn event(seq: i64) -> Event {
        Event {
            seq,
            id: crate::ids::EventId::new(),
            event_type: "Test".into(),
            version: 1,
            organization_id: "o".into(),
            pantry_id: None,
            event: Err("not decoded in this test".into()),
            actor_id: None,
            correlation_id: "c".into(),
            occurred_at: 0,
            trace_parent: None,
        }
    }

    /// A batch that failed on a commit that in fact went through is
    /// retried one event at a time: those must not be applied twice.
    #[tokio::test]
    async fn one_at_a_time_skips_what_the_checkpoint_covers() {
        let dir = tempfile_dir();
        let url = format!("sqlite://{}?mode=rwc", dir.join("t.db").display());
        let db = Db::connect(&url).await.unwrap();
        sqlx::query("insert into consumer_checkpoints (consumer, last_seq, updated_at) values ('counting', 5, 0)")
            .execute(db.pool())
            .await
            .unwrap();
        let consumer = Counting(Default::default());
        let stats = ConsumerStats::default();
        let (_stop, mut shutdown) = watch::channel(false);
        let policy = RetryPolicy::default();
        for seq in [4, 5, 6] {
            deliver_one(&policy, &db, &consumer, &event(seq), &stats, &mut shutdown).await;
        }
        assert_eq!(consumer.0.load(Ordering::Relaxed), 1, "only seq 6 was new");
        let checkpoint: i64 = sqlx::query_scalar(
            "select last_seq from consumer_checkpoints where consumer = 'counting'",
        )
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!(checkpoint, 6);
        std::fs::remove_dir_all(dir).ok();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("larder-bus-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

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
