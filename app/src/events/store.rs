//! The event log table: appending inside the writer's transaction, and
//! reading in delivery order.

use sqlx::Row as _;

use super::domain::DomainEvent;
use crate::db::{self, now_ms, Backend, Tx};
use crate::error::{AppError, AppResult};
use crate::ids::EventId;

/// An event about to be written: what happened, and where and by whom.
pub struct NewEvent<'a> {
    pub event: &'a DomainEvent,
    pub organization_id: &'a str,
    pub pantry_id: Option<&'a str>,
    pub actor_id: Option<&'a str>,
    pub correlation_id: &'a str,
    /// The address of the client whose request made the change, if a
    /// request made it ([`crate::request::current_client_ip`]).
    pub client_ip: Option<&'a str>,
    /// When it happened (ms since the epoch), by the app's clock.
    pub occurred_at: i64,
    /// The trace of the request that made it, when traces are exported
    /// ([`crate::request::current_trace_parent`]).
    pub trace_parent: Option<&'a str>,
}

impl NewEvent<'_> {
    /// The payload column's text.
    fn payload_text(&self) -> AppResult<String> {
        let payload = self.event.payload().map_err(|e| AppError::internal(&e))?;
        serde_json::to_string(&payload).map_err(|e| AppError::internal(&e))
    }
}

/// A committed event, as consumers receive it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub seq: i64,
    pub id: EventId,
    /// The stored type name, for logs and the parked-events page.
    pub event_type: String,
    pub version: i64,
    pub organization_id: String,
    pub pantry_id: Option<String>,
    /// What happened, decoded (older versions upcast); an event that
    /// does not decode reaches each consumer as the error, and is parked.
    pub event: Result<DomainEvent, String>,
    pub actor_id: Option<String>,
    pub correlation_id: String,
    pub occurred_at: i64,
    /// The trace of the request that appended it, for the consumer's span.
    pub trace_parent: Option<String>,
}

impl Event {
    /// The decoded event, or the reason it could not be decoded (for a
    /// consumer to fail with, so the event is parked).
    pub fn domain(&self) -> Result<&DomainEvent, String> {
        self.event.as_ref().map_err(Clone::clone)
    }
}

/// Appends an event in the writer's transaction.
///
/// Call it after every row lock the transaction needs: on PostgreSQL it
/// takes a transaction-scoped lock that serializes appends until commit,
/// so `seq` order is commit order and the dispatcher, reading `seq > n`,
/// can never skip an event that commits late. (SQLite writers are already
/// serialized by `begin immediate`.)
pub async fn append(tx: &mut Tx, backend: Backend, event: &NewEvent<'_>) -> AppResult<EventId> {
    take_order_lock(tx, backend).await?;
    append_in_order(tx, event).await
}

/// Takes the lock that orders appends (PostgreSQL; held until commit).
/// Taking it again in the same transaction is free of waiting but not of
/// a round trip, so writers of many events take it once.
pub async fn take_order_lock(tx: &mut Tx, backend: Backend) -> AppResult<()> {
    if backend == Backend::Postgres {
        sqlx::query("select pg_advisory_xact_lock(7415001)")
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Appends an event; the caller holds the order lock ([`take_order_lock`]).
pub async fn append_in_order(tx: &mut Tx, event: &NewEvent<'_>) -> AppResult<EventId> {
    let id = EventId::new();
    let payload = event.payload_text()?;
    sqlx::query(
        "insert into events (id, type, version, organization_id, pantry_id, payload, actor_id, correlation_id, client_ip, occurred_at, trace_parent) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(id.as_str())
    .bind(event.event.type_name())
    .bind(event.event.version())
    .bind(event.organization_id)
    .bind(event.pantry_id)
    .bind(payload)
    .bind(event.actor_id)
    .bind(event.correlation_id)
    .bind(event.client_ip)
    .bind(event.occurred_at)
    .bind(event.trace_parent)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Appends events in the order given, a few hundred to a statement, and
/// takes the order lock (see [`append`]) in the first statement itself, so
/// on PostgreSQL the lock is held from that statement to commit and not a
/// round trip longer. Call it last in the transaction. `seq` follows the
/// order given.
pub async fn append_all(tx: &mut Tx, backend: Backend, events: &[NewEvent<'_>]) -> AppResult<()> {
    for (n, chunk) in events.chunks(500).enumerate() {
        let mut rows = Vec::with_capacity(chunk.len());
        for (i, e) in chunk.iter().enumerate() {
            rows.push((i as i64, EventId::new(), e, e.payload_text()?));
        }
        let mut sql = db::Sql::default();
        let lock = backend == Backend::Postgres && n == 0;
        if lock {
            sql.push(
                "with order_lock as materialized (select pg_advisory_xact_lock(7415001)) \
                 insert into events (id, type, version, organization_id, pantry_id, payload, actor_id, correlation_id, client_ip, occurred_at, trace_parent) \
                 select id, type, version, organization_id, pantry_id, payload, actor_id, correlation_id, client_ip, occurred_at, trace_parent \
                 from order_lock cross join (values ",
            );
        } else {
            sql.push(
                "insert into events (id, type, version, organization_id, pantry_id, payload, actor_id, correlation_id, client_ip, occurred_at, trace_parent) values ",
            );
        }
        sql.rows(&rows, |r, (i, id, e, payload)| {
            if lock {
                r.int(*i);
            }
            r.text(id.as_str())
                .text(e.event.type_name())
                .int(e.event.version())
                .text(e.organization_id)
                .opt_text(e.pantry_id.map(str::to_string))
                .text(payload.as_str())
                .opt_text(e.actor_id.map(str::to_string))
                .text(e.correlation_id)
                .opt_text(e.client_ip.map(str::to_string))
                .int(e.occurred_at)
                .opt_text(e.trace_parent.map(str::to_string));
        });
        if lock {
            sql.push(
                ") as v (ord, id, type, version, organization_id, pantry_id, payload, actor_id, correlation_id, client_ip, occurred_at, trace_parent, trace_parent) order by ord",
            );
        }
        sql.query().persistent(false).execute(&mut **tx).await?;
    }
    Ok(())
}

/// The columns of the events the movement writer appends (see [`rows`]).
pub const EVENT_COLUMNS_IN: &[(&str, &str)] = &[
    ("ord", "bigint"),
    ("id", "text"),
    ("type", "text"),
    ("version", "bigint"),
    ("organization_id", "text"),
    ("pantry_id", "text"),
    ("payload", "text"),
    ("actor_id", "text"),
    ("correlation_id", "text"),
    ("client_ip", "text"),
    ("occurred_at", "bigint"),
    ("trace_parent", "text"),
];

/// Inserts events in the order of `ord`, for the movement writer. On
/// PostgreSQL it first takes the order lock (see [`append`]), held from
/// there to the commit that follows it.
pub const APPEND: db::Statement = db::Statement {
    name: "append_events",
    inputs: &[db::RowSet {
        name: "v",
        columns: EVENT_COLUMNS_IN,
    }],
    body: "insert into events (id, type, version, organization_id, pantry_id, payload, actor_id, correlation_id, client_ip, occurred_at, trace_parent) \
           select id, type, version, organization_id, pantry_id, payload, actor_id, correlation_id, client_ip, occurred_at, trace_parent from v order by ord",
    postgres: Some(
        "insert into events (id, type, version, organization_id, pantry_id, payload, actor_id, correlation_id, client_ip, occurred_at, trace_parent) \
         select v.id, v.type, v.version, v.organization_id, v.pantry_id, v.payload, v.actor_id, v.correlation_id, v.client_ip, v.occurred_at, v.trace_parent \
         from (select pg_advisory_xact_lock(7415001)) as order_lock cross join v order by v.ord",
    ),
};

/// Appends `events`, in the order given, to the steps that end the
/// writer's transaction: call it last, after every row lock the
/// transaction takes, so the order lock is held as briefly as can be.
pub fn append_to_steps(steps: &mut db::Steps, events: &[NewEvent<'_>]) -> AppResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    steps.statement(&APPEND, &[&rows(events)?])?;
    Ok(())
}

/// `events` as rows of [`EVENT_COLUMNS_IN`], each with a new id.
pub fn rows(events: &[NewEvent<'_>]) -> AppResult<Vec<Vec<db::Value>>> {
    let mut rows = Vec::with_capacity(events.len());
    for (i, e) in events.iter().enumerate() {
        let payload = e.payload_text()?;
        rows.push(vec![
            db::Value::Int(i as i64),
            EventId::new().as_str().into(),
            e.event.type_name().into(),
            e.event.version().into(),
            e.organization_id.into(),
            e.pantry_id.into(),
            db::Value::Text(payload),
            e.actor_id.into(),
            e.correlation_id.into(),
            e.client_ip.into(),
            e.occurred_at.into(),
            e.trace_parent.into(),
        ]);
    }
    Ok(rows)
}

const EVENT_COLUMNS: &str =
    "seq, id, type, version, organization_id, pantry_id, payload, actor_id, correlation_id, occurred_at, trace_parent";

/// An event as the log stores it, payload undecoded: what the RabbitMQ
/// relay publishes, so a consumer in another process decodes (and
/// upcasts) it exactly as one reading the table would.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredEvent {
    pub seq: i64,
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub version: i64,
    pub organization_id: String,
    pub pantry_id: Option<String>,
    /// The payload column's text (JSON).
    pub payload: String,
    pub actor_id: Option<String>,
    pub correlation_id: String,
    pub occurred_at: i64,
    /// W3C `traceparent` of the request that appended it (absent in
    /// messages from before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_parent: Option<String>,
}

impl StoredEvent {
    fn from_row(r: &db::Row) -> Result<Self, sqlx::Error> {
        Ok(Self {
            seq: r.try_get("seq")?,
            id: r.try_get("id")?,
            event_type: r.try_get("type")?,
            version: r.try_get("version")?,
            organization_id: r.try_get("organization_id")?,
            pantry_id: r.try_get("pantry_id")?,
            payload: r.try_get("payload")?,
            actor_id: r.try_get("actor_id")?,
            correlation_id: r.try_get("correlation_id")?,
            occurred_at: r.try_get("occurred_at")?,
            trace_parent: r.try_get("trace_parent")?,
        })
    }

    /// The event as consumers receive it. A payload that does not decode
    /// reaches the consumer as the error, so the consumer fails on it (and
    /// parks it) instead of the reader.
    pub fn decode(self) -> Event {
        let event = serde_json::from_str(&self.payload)
            .map_err(|e| format!("{} payload is not JSON: {e}", self.event_type))
            .and_then(|p| DomainEvent::decode(&self.event_type, self.version, p));
        Event {
            seq: self.seq,
            id: EventId::from_stored(self.id),
            event_type: self.event_type,
            version: self.version,
            organization_id: self.organization_id,
            pantry_id: self.pantry_id,
            event,
            actor_id: self.actor_id,
            correlation_id: self.correlation_id,
            occurred_at: self.occurred_at,
            trace_parent: self.trace_parent,
        }
    }
}

fn event_from(r: &db::Row) -> Result<Event, sqlx::Error> {
    StoredEvent::from_row(r).map(StoredEvent::decode)
}

/// Up to `limit` stored events with `after < seq < before`, in order, on
/// any connection (the relay reads on the one that holds its lock).
pub async fn read_stored<'e>(
    conn: impl sqlx::Executor<'e, Database = sqlx::Any>,
    after: i64,
    before: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    sqlx::query(&format!(
        "select {EVENT_COLUMNS} from events where seq > $1 and seq < $2 order by seq limit $3"
    ))
    .bind(after)
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await?
    .iter()
    .map(StoredEvent::from_row)
    .collect()
}

/// Up to `limit` events after `after`, in order.
pub async fn read_after(
    pool: &sqlx::AnyPool,
    after: i64,
    limit: i64,
) -> Result<Vec<Event>, sqlx::Error> {
    sqlx::query(&format!(
        "select {EVENT_COLUMNS} from events where seq > $1 order by seq limit $2"
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?
    .iter()
    .map(event_from)
    .collect()
}

pub async fn read_one(pool: &sqlx::AnyPool, seq: i64) -> Result<Option<Event>, sqlx::Error> {
    sqlx::query(&format!(
        "select {EVENT_COLUMNS} from events where seq = $1"
    ))
    .bind(seq)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(event_from)
    .transpose()
}

/// The newest event's position (0 when the log is empty).
pub async fn head(pool: &sqlx::AnyPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar::<_, Option<i64>>("select max(seq) from events")
        .fetch_one(pool)
        .await
        .map(|s| s.unwrap_or(0))
}

pub async fn checkpoint(pool: &sqlx::AnyPool, consumer: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("select last_seq from consumer_checkpoints where consumer = $1")
        .bind(consumer)
        .fetch_optional(pool)
        .await
}

pub async fn save_checkpoint(tx: &mut Tx, consumer: &str, seq: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into consumer_checkpoints (consumer, last_seq, updated_at) values ($1, $2, $3) \
         on conflict (consumer) do update set last_seq = excluded.last_seq, updated_at = excluded.updated_at",
    )
    .bind(consumer)
    .bind(seq)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
