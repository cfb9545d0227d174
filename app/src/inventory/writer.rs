//! The movement writer: one task that writes stock movements in batches.
//!
//! Requests check their input and access on their own, then queue the
//! movement here. The writer takes whatever is queued (up to
//! [`MAX_BATCH`]) and writes it in one transaction, one movement after the
//! other, so a batch costs one commit and one hand-over of SQLite's write
//! lock instead of one per movement, and movements never wait on each
//! other's row locks inside this process. A refused movement (not enough
//! stock) writes nothing before it is refused, so the rest of its batch
//! goes on. Any other failure rolls the batch back and writes each of its
//! movements in a transaction of its own, so one bad movement cannot sink
//! the others. Each request gets its own outcome only after its batch
//! has committed.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::cache::StockCache;
use super::service::{execute, Actor, Command, Ledger, Written};
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::events::bus::EventBus;

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
}

impl MovementWriter {
    /// Starts the writer tasks (inside the Tokio runtime).
    pub fn start(db: Db, cache: Arc<StockCache>, bus: Arc<dyn EventBus>) -> Self {
        let count = match db.backend() {
            crate::db::Backend::Sqlite => 1,
            crate::db::Backend::Postgres => 4,
        };
        let shards = (0..count)
            .map(|_| {
                let (sender, receiver) = mpsc::channel(4 * MAX_BATCH);
                tokio::spawn(run(db.clone(), cache.clone(), bus.clone(), receiver));
                sender
            })
            .collect();
        Self { shards }
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
    mut receiver: mpsc::Receiver<Job>,
) {
    while let Some(first) = receiver.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        // Each batch in a task of its own: a panic loses that batch (its
        // callers get an error) but never the writer.
        let batch = tokio::spawn(write_and_reply(
            db.clone(),
            cache.clone(),
            bus.clone(),
            jobs,
        ));
        if let Err(error) = batch.await {
            tracing::error!(%error, "a movement batch panicked; the writer goes on");
        }
    }
}

async fn write_and_reply(db: Db, cache: Arc<StockCache>, bus: Arc<dyn EventBus>, jobs: Vec<Job>) {
    let outcomes = match write_batch(&db, &jobs).await {
        Ok(outcomes) => outcomes,
        Err(error) => {
            tracing::warn!(%error, movements = jobs.len(), "a movement batch failed; writing its movements one by one");
            let mut outcomes = Vec::with_capacity(jobs.len());
            for job in &jobs {
                outcomes.push(write_one(&db, job).await);
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
}

/// Whether a command's error is a refusal that wrote nothing.
fn is_refusal(e: &AppError) -> bool {
    matches!(
        e,
        AppError::Invalid { .. } | AppError::Conflict { .. } | AppError::NotFound(_)
    )
}

/// The whole batch in one transaction. `Err` means nothing was written.
async fn write_batch(db: &Db, jobs: &[Job]) -> Result<Vec<AppResult<Written>>, AppError> {
    let backend = db.backend();
    let mut tx = db.begin().await?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    let mut ledger = Ledger::default();
    for job in jobs {
        match execute(&mut tx, backend, &job.command, &job.actor, &mut ledger).await {
            Ok(receipt) => outcomes.push(Ok(receipt)),
            Err(e) if is_refusal(&e) => outcomes.push(Err(e)),
            Err(e) => return Err(e),
        }
    }
    ledger.write(&mut tx, backend).await?;
    tx.commit().await?;
    Ok(outcomes)
}

async fn write_one(db: &Db, job: &Job) -> AppResult<Written> {
    let mut tx = db.begin().await?;
    let mut ledger = Ledger::default();
    let receipt = execute(&mut tx, db.backend(), &job.command, &job.actor, &mut ledger).await?;
    ledger.write(&mut tx, db.backend()).await?;
    tx.commit().await?;
    Ok(receipt)
}
