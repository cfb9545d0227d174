//! The inventory's event consumers: cache invalidation, the live feed, and
//! the daily flows rollup.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::broadcast;

use super::cache::StockCache;
use super::model::MovementKind;
use super::service::StockMoved;
use crate::db::Tx;
use crate::events::bus::{BoxFuture, Consumer, Durability};
use crate::events::store::Event;

/// Forgets cached stock answers an event makes stale.
pub struct CacheInvalidation(pub Arc<StockCache>);

impl Consumer for CacheInvalidation {
    fn name(&self) -> &'static str {
        "stock-cache"
    }
    fn durability(&self) -> Durability {
        Durability::Ephemeral
    }
    fn handle<'a>(
        &'a self,
        event: &'a Event,
        _tx: &'a mut Tx,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            match &event.pantry_id {
                Some(p) => self.0.invalidate_pantry(p),
                None => self.0.invalidate_organization(&event.organization_id),
            }
            Ok(())
        })
    }
}

/// What a live inventory page is told about a change.
#[derive(Debug, Clone, Serialize)]
pub struct LiveUpdate {
    pub seq: i64,
    pub event_type: String,
    pub organization_id: String,
    pub pantry_id: Option<String>,
    pub product_id: Option<String>,
    pub on_hand: Option<i64>,
}

/// Fans events out to the server-sent event streams of open pages.
pub struct LiveFeed {
    sender: broadcast::Sender<LiveUpdate>,
}

impl Default for LiveFeed {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(1024).0,
        }
    }
}

impl LiveFeed {
    pub fn subscribe(&self) -> broadcast::Receiver<LiveUpdate> {
        self.sender.subscribe()
    }
}

/// The consumer side of the live feed.
pub struct LiveFeedConsumer(pub Arc<LiveFeed>);

impl Consumer for LiveFeedConsumer {
    fn name(&self) -> &'static str {
        "live-feed"
    }
    fn durability(&self) -> Durability {
        Durability::Ephemeral
    }
    fn handle<'a>(
        &'a self,
        event: &'a Event,
        _tx: &'a mut Tx,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let update = LiveUpdate {
                seq: event.seq,
                event_type: event.event_type.clone(),
                organization_id: event.organization_id.clone(),
                pantry_id: event.pantry_id.clone(),
                product_id: event
                    .payload
                    .get("product_id")
                    .and_then(|v| v.as_str())
                    .map(String::from)
                    .or_else(|| {
                        event
                            .payload
                            .get("id")
                            .and_then(|v| v.as_str())
                            .map(String::from)
                    }),
                on_hand: event.payload.get("on_hand").and_then(|v| v.as_i64()),
            };
            // No open pages is not an error.
            let _ = self.0.sender.send(update);
            Ok(())
        })
    }
}

/// Sums movements per pantry, product, UTC day and kind into
/// `daily_flows`: the demand series forecasting and reports read. Durable:
/// its rows and its checkpoint commit together, so each event counts once.
pub struct DailyFlows;

impl Consumer for DailyFlows {
    fn name(&self) -> &'static str {
        "daily-flows"
    }
    fn durability(&self) -> Durability {
        Durability::Durable
    }
    fn handle<'a>(&'a self, event: &'a Event, tx: &'a mut Tx) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            if MovementKind::from_event_type(&event.event_type).is_none() {
                return Ok(());
            }
            if event.version != 1 {
                return Err(format!(
                    "{} version {} is not understood",
                    event.event_type, event.version
                ));
            }
            let moved: StockMoved = serde_json::from_value(event.payload.clone())
                .map_err(|e| format!("{} payload does not parse: {e}", event.event_type))?;
            let pantry = event
                .pantry_id
                .as_deref()
                .ok_or_else(|| format!("{} has no pantry", event.event_type))?;
            let day = time::OffsetDateTime::from_unix_timestamp_nanos(
                event.occurred_at as i128 * 1_000_000,
            )
            .map_err(|e| e.to_string())?
            .date();
            let day = format!(
                "{:04}-{:02}-{:02}",
                day.year(),
                u8::from(day.month()),
                day.day()
            );
            sqlx::query(
                "insert into daily_flows (pantry_id, product_id, organization_id, day, kind, quantity, movements) \
                 values ($1, $2, $3, $4, $5, $6, 1) on conflict (pantry_id, product_id, day, kind) \
                 do update set quantity = daily_flows.quantity + excluded.quantity, movements = daily_flows.movements + 1",
            )
            .bind(pantry)
            .bind(&moved.product_id)
            .bind(&event.organization_id)
            .bind(day)
            .bind(moved.kind.as_str())
            .bind(moved.quantity)
            .execute(&mut **tx)
            .await
            .map_err(|e| e.to_string())?;
            Ok(())
        })
    }
}
