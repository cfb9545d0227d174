//! Making forecasts: a run per pantry, queued on request, every night, or
//! after a history import, and worked by a background worker.
//!
//! A run's row is its job: the worker claims a queued run in one update
//! (so two processes never work the same run), fits each product on a
//! blocking thread (never on the request path; the fits are CPU work),
//! writes each batch of forecasts with the run's progress, and marks it
//! done with a `ForecastsGenerated` event in one transaction. A worker
//! that stops mid-run stops touching its heartbeat; after
//! [`STALE_AFTER`] another takes the run over and starts it again, which
//! is safe because each product's forecast replaces the last.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify};

use super::series;
use super::service::{enqueue, settings};
use crate::clock::Clock;
use crate::dates::iso;
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::events::bus::{BoxFuture, Consumer, Delivery, Durability};
use crate::events::domain::DomainEvent;
use crate::events::store::{self as events, Event, NewEvent};
use crate::ids::PantryId;
use crate::tasks::{Periodic, Supervisor};
use crate::zones::Zone;

/// A running run whose heartbeat is older than this is taken over.
pub const STALE_AFTER: Duration = Duration::from_secs(300);
/// How often an idle worker looks for runs nobody woke it for.
const IDLE_POLL: Duration = Duration::from_secs(30);
/// Products fitted between two progress writes.
const BATCH: usize = 16;
/// The local hour after which the nightly run is due.
const NIGHTLY_HOUR: i64 = 2;

/// The payload of `ForecastsGenerated`, version 1: a pantry's forecasts
/// were made again (what the stock issue analyser will react to).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastsGenerated {
    pub run_id: String,
    pub pantry_id: String,
    pub reason: String,
    pub products: i64,
    pub forecast: i64,
}

struct Claimed {
    id: String,
    pantry: String,
    reason: String,
}

/// Claims the oldest queued run, or a running one whose worker stopped.
async fn claim(db: &Db, now: i64) -> AppResult<Option<Claimed>> {
    let stale = now - STALE_AFTER.as_millis() as i64;
    let candidates: Vec<(String, String, String)> = sqlx::query_as(
        "select id, pantry_id, reason from forecast_runs \
         where status = 'queued' or (status = 'running' and heartbeat_at < $1) order by created_at limit 5",
    )
    .bind(stale)
    .fetch_all(db.pool())
    .await?;
    for (id, pantry, reason) in candidates {
        let taken = sqlx::query(
            "update forecast_runs set status = 'running', started_at = $1, heartbeat_at = $1, products_done = 0 \
             where id = $2 and (status = 'queued' or (status = 'running' and heartbeat_at < $3))",
        )
        .bind(now)
        .bind(&id)
        .bind(stale)
        .execute(db.pool())
        .await?
        .rows_affected();
        if taken == 1 {
            return Ok(Some(Claimed { id, pantry, reason }));
        }
    }
    Ok(None)
}

/// The worker: runs queued runs one after the other until `stop`.
pub async fn work(
    db: Db,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        loop {
            match run_next(&db, clock.as_ref()).await {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "could not look for forecast runs; trying again");
                    break;
                }
            }
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(IDLE_POLL) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// Claims and works one run; false when there was none.
pub async fn run_next(db: &Db, clock: &dyn Clock) -> AppResult<bool> {
    let Some(run) = claim(db, clock.now_ms()).await? else {
        return Ok(false);
    };
    if let Err(e) = execute(db, clock, &run).await {
        tracing::error!(run = %run.id, error = %e, "a forecast run failed");
        sqlx::query("update forecast_runs set status = 'failed', message = $1, finished_at = $2 where id = $3")
            .bind(format!("The run stopped on an error: {e}"))
            .bind(clock.now_ms())
            .bind(&run.id)
            .execute(db.pool())
            .await?;
    }
    Ok(true)
}

/// One product's outcome, ready to store.
struct Outcome {
    product: String,
    history: usize,
    censored: usize,
    result: Result<forecast::Forecast, forecast::Refusal>,
}

async fn execute(db: &Db, clock: &dyn Clock, run: &Claimed) -> AppResult<()> {
    let pantry_id = PantryId::from_stored(run.pantry.clone());
    let (header, _) = crate::inventory::service::pantry_header(db, &pantry_id).await?;
    let zone = Zone::stored(&header.time_zone);
    let today = zone.day_of(clock.now_ms());
    let settings = settings(db, header.id.as_str()).await?;
    let products = super::service::products(db, header.organization_id.as_str()).await?;
    let scale: HashMap<String, i64> = products
        .iter()
        .map(|(id, (_, u))| (id.clone(), u.scale()))
        .collect();
    let all = series::pantry_series(db, header.id.as_str(), today, None, &scale).await?;
    sqlx::query("update forecast_runs set products_total = $1, heartbeat_at = $2 where id = $3")
        .bind(all.len() as i64)
        .bind(clock.now_ms())
        .bind(&run.id)
        .execute(db.pool())
        .await?;
    let fit = forecast::Settings {
        horizon: settings.horizon_days.clamp(1, 366) as usize,
        ..forecast::Settings::default()
    };
    let mut done = 0i64;
    let mut forecast_count = 0i64;
    let mut rest = all;
    while !rest.is_empty() {
        let batch: Vec<series::Series> = rest.drain(..rest.len().min(BATCH)).collect();
        let outcomes = tokio::task::spawn_blocking(move || {
            batch
                .into_iter()
                .map(|s| Outcome {
                    history: s.demand.len(),
                    censored: s.censored.iter().filter(|c| **c).count(),
                    result: forecast::run(&s.demand, &s.censored, &fit),
                    product: s.product_id,
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| AppError::internal(&e))?;
        done += outcomes.len() as i64;
        forecast_count += outcomes.iter().filter(|o| o.result.is_ok()).count() as i64;
        store(db, clock, run, &header, today, fit.horizon, &outcomes, done).await?;
    }
    let event = DomainEvent::ForecastsGenerated(ForecastsGenerated {
        run_id: run.id.clone(),
        pantry_id: header.id.to_string(),
        reason: run.reason.clone(),
        products: done,
        forecast: forecast_count,
    });
    let now = clock.now_ms();
    let mut tx = db.begin().await?;
    sqlx::query("update forecast_runs set status = 'done', finished_at = $1, heartbeat_at = $1, message = null where id = $2")
        .bind(now)
        .bind(&run.id)
        .execute(&mut *tx)
        .await?;
    events::append(
        &mut tx,
        db.backend(),
        &NewEvent {
            event: &event,
            organization_id: header.organization_id.as_str(),
            pantry_id: Some(header.id.as_str()),
            actor_id: None,
            correlation_id: &run.id,
            client_ip: None,
            trace_parent: None,
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Writes a batch's forecasts and the run's progress in one transaction.
#[allow(clippy::too_many_arguments)]
async fn store(
    db: &Db,
    clock: &dyn Clock,
    run: &Claimed,
    header: &crate::inventory::model::PantryHeader,
    today: time::Date,
    horizon: usize,
    outcomes: &[Outcome],
    done: i64,
) -> AppResult<()> {
    let now = clock.now_ms();
    let mut tx = db.begin().await?;
    for o in outcomes {
        let (status, needs, model, accuracy, points, candidates) = match &o.result {
            Ok(f) => (
                "ok",
                None,
                Some(f.model.code()),
                Some(f.accuracy),
                serde_json::to_string(&f.points),
                serde_json::to_string(&f.candidates),
            ),
            Err(forecast::Refusal::NotEnoughHistory { needs, .. }) => (
                "not_enough_history",
                Some(*needs as i64),
                None,
                None,
                Ok("[]".into()),
                Ok("[]".into()),
            ),
            Err(forecast::Refusal::BadSettings) => {
                return Err(AppError::internal(&std::io::Error::other(
                    "forecast settings out of range",
                )))
            }
        };
        let points = points.map_err(|e| AppError::internal(&e))?;
        let candidates = candidates.map_err(|e| AppError::internal(&e))?;
        sqlx::query(
            "insert into forecasts (pantry_id, product_id, organization_id, run_id, generated_at, first_day, horizon_days, \
             history_days, censored_days, status, needs_days, model, mae, rmse, mase, bias, coverage80, coverage95, \
             backtest_windows, points, candidates) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) \
             on conflict (pantry_id, product_id) do update set run_id = excluded.run_id, generated_at = excluded.generated_at, \
             first_day = excluded.first_day, horizon_days = excluded.horizon_days, history_days = excluded.history_days, \
             censored_days = excluded.censored_days, status = excluded.status, needs_days = excluded.needs_days, \
             model = excluded.model, mae = excluded.mae, rmse = excluded.rmse, mase = excluded.mase, bias = excluded.bias, \
             coverage80 = excluded.coverage80, coverage95 = excluded.coverage95, \
             backtest_windows = excluded.backtest_windows, points = excluded.points, candidates = excluded.candidates",
        )
        .bind(header.id.as_str())
        .bind(&o.product)
        .bind(header.organization_id.as_str())
        .bind(&run.id)
        .bind(now)
        .bind(iso(today))
        .bind(horizon as i64)
        .bind(o.history as i64)
        .bind(o.censored as i64)
        .bind(status)
        .bind(needs)
        .bind(model)
        .bind(accuracy.map(|a| a.mae))
        .bind(accuracy.map(|a| a.rmse))
        .bind(accuracy.and_then(|a| a.mase))
        .bind(accuracy.map(|a| a.bias))
        .bind(accuracy.and_then(|a| a.coverage80))
        .bind(accuracy.and_then(|a| a.coverage95))
        .bind(accuracy.map(|a| a.windows as i64))
        .bind(points)
        .bind(candidates)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("update forecast_runs set products_done = $1, heartbeat_at = $2 where id = $3")
        .bind(done)
        .bind(now)
        .bind(&run.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The nightly job: checked every few minutes, run once across processes;
/// queues a run for each pantry whose local time is past 02:00 and that
/// has had none since.
pub const NIGHTLY: Periodic = Periodic {
    name: "forecasts-nightly",
    period: Duration::from_secs(600),
    lease: Duration::from_secs(300),
};

/// Finished runs are kept this long (the run a stored forecast came from
/// is kept as long as the forecast).
const KEEP_RUNS: Duration = Duration::from_secs(30 * 24 * 3600);

/// Queues tonight's runs; returns how many were queued. Forgets finished
/// runs older than [`KEEP_RUNS`] that no forecast points to.
pub async fn queue_nightly(db: &Db, now: i64) -> AppResult<usize> {
    sqlx::query(
        "delete from forecast_runs where status in ('done', 'failed') and finished_at < $1 \
         and not exists (select 1 from forecasts f where f.run_id = forecast_runs.id)",
    )
    .bind(now - KEEP_RUNS.as_millis() as i64)
    .execute(db.pool())
    .await?;
    let pantries: Vec<(String, String, Option<String>, String)> = sqlx::query_as(
        "select p.id, p.organization_id, p.time_zone, o.time_zone from pantries p \
         join organizations o on o.id = p.organization_id where p.archived_at is null and o.archived_at is null",
    )
    .fetch_all(db.pool())
    .await?;
    let mut queued = 0;
    for (pantry, organization, own, org_zone) in pantries {
        let zone = Zone::stored(own.as_deref().unwrap_or(&org_zone));
        let due = zone.start_of(zone.day_of(now)) + NIGHTLY_HOUR * 3_600_000;
        if now < due {
            continue;
        }
        let since: Option<i64> = sqlx::query_scalar(
            "select max(created_at) from forecast_runs where pantry_id = $1 and created_at >= $2",
        )
        .bind(&pantry)
        .bind(due)
        .fetch_one(db.pool())
        .await?;
        if since.is_none() {
            enqueue(db, now, &organization, &pantry, "scheduled", None).await?;
            queued += 1;
        }
    }
    Ok(queued)
}

/// Starts the worker and the nightly job under the supervisor.
pub fn start(
    supervisor: &Supervisor,
    db: Db,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
    job_check: Duration,
    stop: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let worker = {
        let (db, clock, wake, stop) = (db.clone(), clock.clone(), wake.clone(), stop.clone());
        supervisor.spawn("forecast-worker", stop.clone(), move || {
            work(db.clone(), clock.clone(), wake.clone(), stop.clone())
        })
    };
    let nightly = {
        let (db2, clock2) = (db.clone(), clock.clone());
        crate::tasks::schedule(supervisor, db, clock, NIGHTLY, job_check, stop, move || {
            let (db, clock, wake) = (db2.clone(), clock2.clone(), wake.clone());
            async move {
                let queued = queue_nightly(&db, clock.now_ms()).await?;
                if queued > 0 {
                    tracing::info!(queued, "nightly forecast runs queued");
                    wake.notify_one();
                }
                Ok::<(), AppError>(())
            }
        })
    };
    vec![worker, nightly]
}

/// Forecasts refresh when history lands: a finished import queues a run
/// for each pantry it added rows to. Ephemeral: an import missed across a
/// restart is caught by the nightly run.
pub struct RefreshAfterImport {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub wake: Arc<Notify>,
}

impl Consumer for RefreshAfterImport {
    fn name(&self) -> &'static str {
        "forecast-refresh"
    }

    fn durability(&self) -> Durability {
        Durability::Ephemeral
    }

    fn handle<'a>(
        &'a self,
        event: &'a Event,
        _delivery: &'a mut Delivery,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            if let DomainEvent::HistoryImported(h) = event.domain()? {
                for pantry in &h.pantry_ids {
                    enqueue(
                        &self.db,
                        self.clock.now_ms(),
                        &event.organization_id,
                        pantry,
                        "import",
                        None,
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                }
                if !h.pantry_ids.is_empty() {
                    self.wake.notify_one();
                }
            }
            Ok(())
        })
    }
}
