//! The movement writer: one task that writes stock movements in batches.
//!
//! Requests check their input and access on their own, then queue the
//! movement here. The writer takes whatever is queued (up to
//! [`MAX_BATCH`]) and writes it in one transaction (`batch.rs`), so a
//! batch costs one commit and one hand-over of SQLite's write lock instead
//! of one per movement, and movements never wait on each other's row locks
//! inside this process. A refused movement (not enough stock) leaves the
//! rest of its batch to go on. Any other failure rolls the batch back and
//! writes each of its movements in a transaction of its own, so one bad
//! movement cannot sink the others. Each request gets its own outcome only
//! after its batch has committed.
//!
//! A batch needs two round trips, its read and its writes with the
//! commit, or one when the writer remembers every row it touches from its
//! own earlier batches (see [`batch::Memory`]). (Sending the next batch's
//! read along with a commit saves one too, but the next batch then starts
//! with fewer movements; measured, that lost more than it saved.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::FutureExt as _;
use tokio::sync::{mpsc, oneshot};

use super::batch;
use super::cache::StockCache;
use super::service::{Actor, Command, Written};
use crate::clock::Clock;
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
    /// Batches decided from the writer's memory of the rows, in one
    /// round trip.
    pub remembered: AtomicU64,
    /// Batches whose memory turned out stale (another writer had changed
    /// a row), read and written again.
    pub stale: AtomicU64,
    /// Time spent writing batches, in microseconds.
    pub busy_micros: AtomicU64,
}

impl WriterStats {
    fn count(&self, way: batch::Way) {
        match way {
            batch::Way::Remembered => &self.remembered,
            batch::Way::Stale => &self.stale,
            batch::Way::Read => return,
        }
        .fetch_add(1, Ordering::Relaxed);
    }
}

impl MovementWriter {
    /// Starts the writer tasks (inside the Tokio runtime).
    /// `clock` dates every movement and its events.
    pub fn start(
        db: Db,
        cache: Arc<StockCache>,
        bus: Arc<dyn EventBus>,
        clock: Arc<dyn Clock>,
    ) -> Self {
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
                    clock.clone(),
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

/// Takes what is queued after `first`, up to a batch.
fn gather(first: Job, receiver: &mut mpsc::Receiver<Job>) -> Vec<Job> {
    let mut jobs = vec![first];
    while jobs.len() < MAX_BATCH {
        match receiver.try_recv() {
            Ok(job) => jobs.push(job),
            Err(_) => break,
        }
    }
    jobs
}

async fn run(
    db: Db,
    clock: Arc<dyn Clock>,
    cache: Arc<StockCache>,
    bus: Arc<dyn EventBus>,
    stats: Arc<WriterStats>,
    mut receiver: mpsc::Receiver<Job>,
) {
    // The writer's own connection, kept between batches; closed (and so
    // rolled back) when a batch fails, and opened again for the next.
    let mut conn: Option<Conn> = None;
    let mut memory = batch::Memory::default();
    while let Some(first) = receiver.recv().await {
        let jobs = gather(first, &mut receiver);
        // A panic loses this batch (its callers get an error, and the
        // connection is dropped, which rolls its transaction back) but
        // never the writer.
        let now = clock.now_ms();
        let step = std::panic::AssertUnwindSafe(write_batch(
            &db,
            &stats,
            &mut conn,
            &mut memory,
            jobs,
            now,
        ))
        .catch_unwind()
        .await;
        let Ok((jobs, outcomes)) = step else {
            tracing::error!("a movement batch panicked; the writer goes on");
            conn = None;
            memory.clear();
            continue;
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
    }
}

fn commands(jobs: &[Job]) -> Vec<(&Command, &Actor)> {
    let mut commands = Vec::with_capacity(jobs.len());
    for job in jobs {
        commands.push((&job.command, &job.actor));
    }
    commands
}

/// Writes a batch and returns its jobs with their outcomes. A batch that
/// fails as a whole is rolled back (its connection closed) and written
/// again one job at a time.
async fn write_batch(
    db: &Db,
    stats: &WriterStats,
    conn: &mut Option<Conn>,
    memory: &mut batch::Memory,
    jobs: Vec<Job>,
    now: i64,
) -> (Vec<Job>, Vec<AppResult<Written>>) {
    let started = std::time::Instant::now();
    let attempt = async {
        let c = match conn {
            Some(c) => c,
            None => conn.insert(open(db).await?),
        };
        batch::write(c, db.backend(), memory, &commands(&jobs), now).await
    };
    let outcomes = match attempt.await {
        Ok((outcomes, way)) => {
            stats.count(way);
            outcomes
        }
        Err(error) => {
            if let Some(c) = conn.take() {
                let _ = c.close().await;
            }
            memory.clear();
            tracing::warn!(%error, movements = jobs.len(), "a movement batch failed; writing its movements one by one");
            stats.failed.fetch_add(1, Ordering::Relaxed);
            let mut outcomes = Vec::with_capacity(jobs.len());
            for job in &jobs {
                outcomes.push(write_alone(db, stats, conn, memory, job, now).await);
            }
            outcomes
        }
    };
    stats.batches.fetch_add(1, Ordering::Relaxed);
    stats
        .commands
        .fetch_add(jobs.len() as u64, Ordering::Relaxed);
    stats
        .busy_micros
        .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    (jobs, outcomes)
}

/// One job in a transaction of its own (after its batch failed). When
/// the transaction fails as a whole, the connection is closed, which rolls
/// back whatever it wrote (the rows of a group's attachment that then
/// refused included).
async fn write_alone(
    db: &Db,
    stats: &WriterStats,
    conn: &mut Option<Conn>,
    memory: &mut batch::Memory,
    job: &Job,
    now: i64,
) -> AppResult<Written> {
    let attempt = async {
        let c = match conn {
            Some(c) => c,
            None => conn.insert(open(db).await?),
        };
        batch::write(c, db.backend(), memory, &[(&job.command, &job.actor)], now).await
    };
    let outcome = match attempt.await {
        Ok((mut outcomes, way)) => {
            stats.count(way);
            outcomes.pop().unwrap_or_else(|| {
                Err(AppError::internal(&std::io::Error::other(
                    "the batch answered no outcome",
                )))
            })
        }
        Err(error) => {
            if let Some(c) = conn.take() {
                let _ = c.close().await;
            }
            memory.clear();
            Err(error)
        }
    };
    stats.batches.fetch_add(1, Ordering::Relaxed);
    stats.commands.fetch_add(1, Ordering::Relaxed);
    outcome
}

/// A connection for the writer, with the batch's statements prepared.
async fn open(db: &Db) -> AppResult<Conn> {
    let mut conn = db.connect_one().await?;
    batch::prepare(&mut conn, db.backend()).await?;
    Ok(conn)
}
