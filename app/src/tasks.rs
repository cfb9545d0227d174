//! One way to run background work: supervised tasks, and periodic jobs on
//! top of them that run once across every process sharing the database.
//!
//! A supervised task is made again by its factory whenever it panics:
//! the panic is caught, logged with the task's name and message, counted,
//! and the task restarts after a delay that doubles from one second to a
//! minute (back to one second after a run that lasted a minute). A task
//! that returns has finished and is not restarted. `/metrics` shows each
//! task's starts and panics.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::db::Db;

/// What `/metrics` shows of one task.
#[derive(Debug, Default)]
pub struct TaskStats {
    pub starts: AtomicU64,
    pub panics: AtomicU64,
    pub running: AtomicBool,
}

/// Starts and watches background tasks; keeps their counters.
#[derive(Debug, Default)]
pub struct Supervisor {
    stats: Mutex<BTreeMap<&'static str, Arc<TaskStats>>>,
}

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

impl Supervisor {
    /// Runs the task `make` builds until it returns or `shutdown` turns
    /// true; builds and starts it again after a panic.
    pub fn spawn<F, Fut>(
        &self,
        name: &'static str,
        mut shutdown: watch::Receiver<bool>,
        make: F,
    ) -> JoinHandle<()>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let stats = self
            .stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name)
            .or_default()
            .clone();
        tokio::spawn(async move {
            let mut backoff = FIRST_BACKOFF;
            loop {
                if *shutdown.borrow() {
                    return;
                }
                stats.starts.fetch_add(1, Ordering::Relaxed);
                stats.running.store(true, Ordering::Relaxed);
                let started = Instant::now();
                let outcome = tokio::spawn(make()).await;
                stats.running.store(false, Ordering::Relaxed);
                let error = match outcome {
                    Ok(()) => return,
                    Err(e) if e.is_cancelled() => return,
                    Err(e) => e,
                };
                stats.panics.fetch_add(1, Ordering::Relaxed);
                let message = panic_message(error.into_panic());
                if started.elapsed() >= MAX_BACKOFF {
                    backoff = FIRST_BACKOFF;
                }
                tracing::error!(task = name, panic = %message, restart_in = ?backoff, "background task panicked; restarting it");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        })
    }

    /// Each task's name and counters, by name.
    pub fn stats(&self) -> Vec<(&'static str, Arc<TaskStats>)> {
        self.stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".into()
    }
}

/// A job run every `period`, by one process at a time.
pub struct Periodic {
    pub name: &'static str,
    pub period: Duration,
    /// How long one run may hold the lease before another process may take
    /// the job over (a process that died mid-run).
    pub lease: Duration,
}

/// Whether a job ran, for tests and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    Ran,
    NotDue,
    HeldElsewhere,
}

/// Takes the job's lease when the job is due and nobody holds it: one
/// statement, so two processes asking at once cannot both win.
async fn take_lease(db: &Db, job: &Periodic, holder: &str, now: i64) -> Result<Tick, sqlx::Error> {
    sqlx::query(
        "insert into job_leases (name, holder, expires_at, last_run_at) values ($1, null, 0, null) \
         on conflict (name) do nothing",
    )
    .bind(job.name)
    .execute(db.pool())
    .await?;
    let taken = sqlx::query(
        "update job_leases set holder = $1, expires_at = $2 \
         where name = $3 and expires_at <= $4 and (last_run_at is null or last_run_at <= $5)",
    )
    .bind(holder)
    .bind(now + job.lease.as_millis() as i64)
    .bind(job.name)
    .bind(now)
    .bind(now - job.period.as_millis() as i64)
    .execute(db.pool())
    .await?
    .rows_affected();
    if taken == 1 {
        return Ok(Tick::Ran);
    }
    let held: Option<i64> = sqlx::query_scalar("select expires_at from job_leases where name = $1")
        .bind(job.name)
        .fetch_optional(db.pool())
        .await?;
    Ok(match held {
        Some(expires) if expires > now => Tick::HeldElsewhere,
        _ => Tick::NotDue,
    })
}

/// Runs the job once if it is due and this process gets its lease; marks
/// it run when done. A failed run frees the lease without marking the job
/// run, so the next tick (here or elsewhere) tries again.
pub async fn run_if_due<F, Fut, E>(
    db: &Db,
    clock: &dyn Clock,
    job: &Periodic,
    holder: &str,
    run: F,
) -> Result<Tick, sqlx::Error>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let now = clock.now_ms();
    let tick = take_lease(db, job, holder, now).await?;
    if tick != Tick::Ran {
        return Ok(tick);
    }
    let outcome = run().await;
    let finished = clock.now_ms();
    let last_run = match &outcome {
        Ok(()) => Some(now),
        Err(e) => {
            tracing::error!(job = job.name, error = %e, "scheduled job failed; it runs again at the next tick");
            None
        }
    };
    sqlx::query(
        "update job_leases set holder = null, expires_at = 0, \
         last_run_at = coalesce($1, last_run_at), last_finished_at = $2 where name = $3 and holder = $4",
    )
    .bind(last_run)
    .bind(finished)
    .bind(job.name)
    .bind(holder)
    .execute(db.pool())
    .await?;
    Ok(Tick::Ran)
}

/// Starts a supervised task that runs `run` now and then every `check`
/// until shutdown; a failed run is logged and tried again at the next.
pub fn every<F, Fut, E>(
    supervisor: &Supervisor,
    name: &'static str,
    check: Duration,
    shutdown: watch::Receiver<bool>,
    run: F,
) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let stop = shutdown.clone();
    supervisor.spawn(name, shutdown, move || {
        let (run, mut stop) = (run.clone(), stop.clone());
        async move {
            loop {
                if let Err(e) = run().await {
                    tracing::warn!(task = name, error = %e, "a periodic task failed; trying again");
                }
                tokio::select! {
                    _ = tokio::time::sleep(check) => {}
                    _ = stop.changed() => return,
                }
                if *stop.borrow() {
                    return;
                }
            }
        }
    })
}

/// Starts a supervised task that looks every `check` whether the job is
/// due and runs it when this process wins its lease.
pub fn schedule<F, Fut, E>(
    supervisor: &Supervisor,
    db: Db,
    clock: Arc<dyn Clock>,
    job: Periodic,
    check: Duration,
    shutdown: watch::Receiver<bool>,
    run: F,
) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let job = Arc::new(job);
    let holder = uuid::Uuid::now_v7().to_string();
    every(supervisor, job.name, check, shutdown, move || {
        let (db, clock, job, holder, run) = (
            db.clone(),
            clock.clone(),
            job.clone(),
            holder.clone(),
            run.clone(),
        );
        async move {
            run_if_due(&db, clock.as_ref(), &job, &holder, run)
                .await
                .map(|_| ())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_task_is_restarted_and_counted() {
        let supervisor = Supervisor::default();
        let (_stop, shutdown) = watch::channel(false);
        let runs = Arc::new(AtomicU64::new(0));
        let counter = runs.clone();
        let task = supervisor.spawn("flaky", shutdown, move || {
            let counter = counter.clone();
            async move {
                if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("first run fails");
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("restarted after one second, then finished")
            .unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        let stats = supervisor.stats();
        assert_eq!(stats[0].0, "flaky");
        assert_eq!(stats[0].1.starts.load(Ordering::Relaxed), 2);
        assert_eq!(stats[0].1.panics.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn panic_messages_are_read_from_either_payload() {
        assert_eq!(panic_message(Box::new("x")), "x");
        assert_eq!(panic_message(Box::new(String::from("y"))), "y");
        assert_eq!(panic_message(Box::new(3)), "(no message)");
    }
}
