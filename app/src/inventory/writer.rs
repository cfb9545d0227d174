//! The movement writer: one task that writes stock movements in batches.
//!
//! Requests check their input and access on their own, then queue the
//! movement here. The writer takes whatever is queued (up to
//! [`MAX_BATCH`]) and writes it in one transaction of four round trips
//! (`batch.rs`), so a batch costs one commit and one hand-over of SQLite's
//! write lock instead of one per movement, and movements never wait on
//! each other's row locks inside this process. A refused movement (not
//! enough stock) leaves the rest of its batch to go on. Any other failure
//! rolls the batch back and writes each of its movements in a transaction
//! of its own, so one bad movement cannot sink the others. Each request
//! gets its own outcome only after its batch has committed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::batch;
use super::cache::StockCache;
use super::service::{Actor, Command, Written};
use crate::db::{Conn, Db};
use crate::error::{AppError, AppResult};
use crate::events::bus::EventBus;
use sqlx::Connection as _;

/// The most movements one transaction takes.
pub const MAX_BATCH: usize = 128;

struct Job {
    command: Command,
    actor: Actor,
    reply: oneshot::Sender<AppResult<Written>>,
}

/// One writer task per shard. SQLite has one write lock, so one shard.
/// PostgreSQL runs shards side by side, each owning a slice of the
/// pantries, so their batches do not wait on each other's row locks
/// (only a transfer touches two pantries, and it locks in one order); a
/// statement's network round trip then overlaps another shard's.
#[derive(Clone)]
pub struct MovementWriter {
    shards: Vec<mpsc::Sender<Job>>,
    stats: Arc<WriterStats>,
}

/// What the writer has done, for `/metrics`: how big its batches are and
/// how long they take is what the write path's throughput is made of.
#[derive(Default)]
pub struct WriterStats {
    /// Transactions, each a batch (a failed batch's one-by-one retries
    /// count as batches of one).
    pub batches: AtomicU64,
    /// Commands written in them.
    pub commands: AtomicU64,
    /// Batches that failed as a whole (rolled back, then retried one by
    /// one).
    pub failed: AtomicU64,
    /// Time spent writing batches, in microseconds.
    pub busy_micros: AtomicU64,
}

impl MovementWriter {
    /// Starts the writer tasks (inside the Tokio runtime).
    pub fn start(db: Db, cache: Arc<StockCache>, bus: Arc<dyn EventBus>) -> Self {
        let count = match db.backend() {
            crate::db::Backend::Sqlite => 1,
            crate::db::Backend::Postgres => 4,
        };
        let stats = Arc::new(WriterStats::default());
        let shards = (0..count)
            .map(|_| {
                let (sender, receiver) = mpsc::channel(4 * MAX_BATCH);
                tokio::spawn(run(
                    db.clone(),
                    cache.clone(),
                    bus.clone(),
                    stats.clone(),
                    receiver,
                ));
                sender
            })
            .collect();
        Self { shards, stats }
    }

    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    fn shard(&self, command: &Command) -> &mpsc::Sender<Job> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        command.shard_key().hash(&mut h);
        &self.shards[(h.finish() as usize) % self.shards.len()]
    }

    pub(super) async fn submit(&self, command: Command, actor: Actor) -> AppResult<Written> {
        let (reply, outcome) = oneshot::channel();
        let gone = || AppError::internal(&std::io::Error::other("the movement writer stopped"));
        self.shard(&command)
            .clone()
            .send(Job {
                command,
                actor,
                reply,
            })
            .await
            .map_err(|_| gone())?;
        outcome.await.map_err(|_| gone())?
    }
}

async fn run(
    db: Db,
    cache: Arc<StockCache>,
    bus: Arc<dyn EventBus>,
    stats: Arc<WriterStats>,
    mut receiver: mpsc::Receiver<Job>,
) {
    // The writer's own connection, kept between batches; closed (and so
    // rolled back) when a batch fails, and opened again for the next.
    let mut conn: Option<Conn> = None;
    while let Some(first) = receiver.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        // Each batch in a task of its own: a panic loses that batch (its
        // callers get an error, and the connection it held is dropped,
        // which rolls its transaction back) but never the writer.
        let batch = tokio::spawn(write_and_reply(
            db.clone(),
            conn.take(),
            cache.clone(),
            bus.clone(),
            stats.clone(),
            jobs,
        ));
        match batch.await {
            Ok(kept) => conn = kept,
            Err(error) => {
                tracing::error!(%error, "a movement batch panicked; the writer goes on")
            }
        }
    }
}

async fn write_and_reply(
    db: Db,
    conn: Option<Conn>,
    cache: Arc<StockCache>,
    bus: Arc<dyn EventBus>,
    stats: Arc<WriterStats>,
    jobs: Vec<Job>,
) -> Option<Conn> {
    let (mut conn, outcomes) = write_batch(&db, &stats, conn, &jobs).await;
    let outcomes = match outcomes {
        Ok(outcomes) => outcomes,
        Err(error) => {
            tracing::warn!(%error, movements = jobs.len(), "a movement batch failed; writing its movements one by one");
            stats.failed.fetch_add(1, Ordering::Relaxed);
            let mut outcomes = Vec::with_capacity(jobs.len());
            for job in &jobs {
                let (kept, outcome) =
                    write_batch(&db, &stats, conn, std::slice::from_ref(job)).await;
                conn = kept;
                outcomes.push(outcome.and_then(|mut o| {
                    o.pop().unwrap_or_else(|| {
                        Err(AppError::internal(&std::io::Error::other(
                            "the batch answered no outcome",
                        )))
                    })
                }));
            }
            outcomes
        }
    };
    let mut touched: Vec<String> = Vec::new();
    for (job, outcome) in jobs.iter().zip(&outcomes) {
        if outcome.is_ok() {
            touched.extend(job.command.pantries());
        }
    }
    touched.sort();
    touched.dedup();
    // This process's cache forgets at once, so everyone reads their
    // own writes; the bus tells the consumers (and other processes).
    for p in &touched {
        cache.invalidate_pantry(p);
    }
    if !touched.is_empty() {
        bus.committed();
    }
    for (job, outcome) in jobs.into_iter().zip(outcomes) {
        let _ = job.reply.send(outcome);
    }
    conn
}

/// The jobs in one transaction on the writer's connection (opened if
/// there is none). `Err` means nothing was written; the connection is then
/// closed, which rolls back whatever the transaction had begun.
async fn write_batch(
    db: &Db,
    stats: &WriterStats,
    conn: Option<Conn>,
    jobs: &[Job],
) -> (Option<Conn>, Result<Vec<AppResult<Written>>, AppError>) {
    let started = std::time::Instant::now();
    let mut conn = match conn {
        Some(conn) => conn,
        None => match db.connect_one().await {
            Ok(conn) => conn,
            Err(e) => return (None, Err(e.into())),
        },
    };
    let mut commands: Vec<(&Command, &Actor)> = Vec::with_capacity(jobs.len());
    for job in jobs {
        commands.push((&job.command, &job.actor));
    }
    let written = match batch::write(&mut conn, db.backend(), &commands).await {
        Ok(outcomes) => (Some(conn), Ok(outcomes)),
        Err(e) => {
            let _ = conn.close().await;
            (None, Err(e))
        }
    };
    stats.batches.fetch_add(1, Ordering::Relaxed);
    stats
        .commands
        .fetch_add(jobs.len() as u64, Ordering::Relaxed);
    stats
        .busy_micros
        .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    written
}
