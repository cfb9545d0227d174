//! Parked events and consumer progress, for organization admins.

use sqlx::Row as _;

use super::bus::retry_parked;
use super::model::*;
use super::store;
use crate::auth::model::Role;
use crate::auth::service::Caller;
use crate::db::format_time;
use crate::error::{AppError, AppResult};
use crate::ids::{DeadLetterId, OrganizationId};
use crate::state::AppState;

pub async fn admin_view(
    state: &AppState,
    caller: &Caller,
    organization: &OrganizationId,
) -> AppResult<EventsAdminView> {
    let (org, place) =
        crate::org::service::organization_with_place(&state.db, organization.as_str()).await?;
    caller.require(&place, Role::Admin, "organization")?;
    let pool = state.db.pool();
    let parked = sqlx::query(
        "select d.id, d.consumer, d.event_seq, d.attempts, d.error, d.parked_at, d.retried_at, e.type, e.occurred_at, p.name as pantry_name \
         from dead_letters d join events e on e.seq = d.event_seq left join pantries p on p.id = e.pantry_id \
         where e.organization_id = $1 and d.resolved_at is null order by d.event_seq limit 200",
    )
    .bind(organization.as_str())
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| -> AppResult<ParkedEvent> {
        Ok(ParkedEvent {
            id: DeadLetterId::from_stored(r.try_get("id")?),
            consumer: r.try_get("consumer")?,
            event_seq: r.try_get("event_seq")?,
            event_type: r.try_get("type")?,
            pantry_name: r.try_get("pantry_name")?,
            occurred_at: format_time(r.try_get("occurred_at")?),
            attempts: r.try_get("attempts")?,
            error: r.try_get("error")?,
            parked_at: format_time(r.try_get("parked_at")?),
            retried_at: r.try_get::<Option<i64>, _>("retried_at")?.map(format_time),
        })
    })
    .collect::<AppResult<Vec<_>>>()?;
    let head = store::head(pool).await?;
    let mut consumers = Vec::new();
    for c in state.bus.consumers() {
        let position = match state.bus.stats(c.name()) {
            Some(s) => s.position.load(std::sync::atomic::Ordering::Relaxed),
            None => store::checkpoint(pool, c.name()).await?.unwrap_or(0),
        };
        consumers.push(ConsumerStatus {
            name: c.name().to_string(),
            position,
            behind: (head - position).max(0),
        });
    }
    Ok(EventsAdminView {
        organization_id: org.id,
        organization_name: org.name,
        parked,
        consumers,
        head,
    })
}

/// Runs a parked event through its consumer again.
pub async fn retry(
    state: &AppState,
    caller: &Caller,
    id: &DeadLetterId,
) -> AppResult<RetryOutcome> {
    let pool = state.db.pool();
    let row = sqlx::query(
        "select d.consumer, d.event_seq, d.resolved_at, e.organization_id from dead_letters d join events e on e.seq = d.event_seq where d.id = $1",
    )
    .bind(id.as_str())
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| AppError::not_found("parked event"))?;
    let organization: String = row.try_get("organization_id")?;
    let (_, place) = crate::org::service::organization_with_place(&state.db, &organization).await?;
    caller.require(&place, Role::Admin, "parked event")?;
    if row.try_get::<Option<i64>, _>("resolved_at")?.is_some() {
        return Ok(RetryOutcome::Delivered);
    }
    let name: String = row.try_get("consumer")?;
    let consumer = state
        .bus
        .consumers()
        .iter()
        .find(|c| c.name() == name)
        .cloned()
        .ok_or_else(|| {
            AppError::invalid(
                "consumer",
                format!("No consumer called {name} runs in this version of Larder."),
            )
        })?;
    let event = store::read_one(pool, row.try_get("event_seq")?)
        .await?
        .ok_or_else(|| AppError::not_found("event"))?;
    match retry_parked(&state.db, consumer.as_ref(), &event, id).await {
        Ok(()) => {
            tracing::info!(consumer = %name, seq = event.seq, "parked event delivered on retry");
            Ok(RetryOutcome::Delivered)
        }
        Err(error) => {
            sqlx::query("update dead_letters set attempts = attempts + 1, error = $1, retried_at = $2 where id = $3")
                .bind(&error)
                .bind(state.clock.now_ms())
                .bind(id.as_str())
                .execute(pool)
                .await?;
            Ok(RetryOutcome::FailedAgain(error))
        }
    }
}

/// One event as the audit log reads it.
#[derive(Debug, Clone)]
pub struct LoggedEvent {
    pub type_name: String,
    pub actor_id: Option<String>,
    pub pantry_id: Option<String>,
    pub client_ip: Option<String>,
    pub occurred_at: i64,
}

/// An organization's events in `[from, to)` (ms), newest first, at most
/// `limit`. The caller has checked that the reader is an admin there.
pub async fn organization_log(
    db: &crate::db::Db,
    organization: &OrganizationId,
    from: i64,
    to: i64,
    limit: i64,
) -> AppResult<Vec<LoggedEvent>> {
    sqlx::query(
        "select type, actor_id, pantry_id, client_ip, occurred_at from events \
         where organization_id = $1 and occurred_at >= $2 and occurred_at < $3 \
         order by occurred_at desc, seq desc limit $4",
    )
    .bind(organization.as_str())
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| {
        Ok(LoggedEvent {
            type_name: r.try_get("type")?,
            actor_id: r.try_get("actor_id")?,
            pantry_id: r.try_get("pantry_id")?,
            client_ip: r.try_get("client_ip")?,
            occurred_at: r.try_get("occurred_at")?,
        })
    })
    .collect()
}
