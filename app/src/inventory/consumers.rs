//! The inventory's event consumers: cache invalidation, the live feed, and
//! the daily flows rollup.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::broadcast;

use super::cache::StockCache;
use crate::db::Sql;
use crate::events::bus::{BoxFuture, Consumer, Delivery, Durability};
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
        _delivery: &'a mut Delivery,
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
    /// A new post (for the home timeline's stream; never sent to pages).
    #[serde(skip)]
    pub post_id: Option<String>,
    /// Who did it (never sent to pages).
    #[serde(skip)]
    pub actor_id: Option<String>,
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
        _delivery: &'a mut Delivery,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let domain = event.domain()?;
            let update = LiveUpdate {
                seq: event.seq,
                event_type: event.event_type.clone(),
                organization_id: event.organization_id.clone(),
                pantry_id: event.pantry_id.clone(),
                product_id: domain.product_id().map(String::from),
                on_hand: domain.movement().map(|m| m.on_hand),
                post_id: match &domain {
                    crate::events::domain::DomainEvent::PostPublished(p) => Some(p.post_id.clone()),
                    _ => None,
                },
                actor_id: event.actor_id.clone(),
            };
            // No open pages is not an error.
            let _ = self.0.sender.send(update);
            Ok(())
        })
    }
}

/// Sums movements per pantry, product, local day (in the pantry's time
/// zone) and kind into
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
    fn handle<'a>(
        &'a self,
        event: &'a Event,
        delivery: &'a mut Delivery,
    ) -> BoxFuture<'a, Result<(), String>> {
        self.handle_batch(std::slice::from_ref(event), delivery)
    }

    /// Reports and forecasts read whole days: a tenth of a second behind
    /// costs them nothing, and fewer, larger batches keep SQLite's write
    /// lock free for movements.
    fn linger(&self) -> std::time::Duration {
        std::time::Duration::from_millis(100)
    }

    /// A run of events becomes one upsert, summed per row first (one
    /// statement may not touch a row twice).
    fn handle_batch<'a>(
        &'a self,
        events: &'a [Event],
        delivery: &'a mut Delivery,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut flows = Vec::new();
            for event in events {
                if let Some(flow) = flow_of(event)? {
                    flows.push(flow);
                }
            }
            if flows.is_empty() {
                return Ok(());
            }
            let tx = delivery.tx().await?;
            let mut pantries: Vec<String> = flows.iter().map(|f| f.pantry.clone()).collect();
            pantries.sort();
            pantries.dedup();
            let zones = crate::org::service::pantry_zones(&mut **tx, &pantries)
                .await
                .map_err(|e| e.to_string())?;
            let mut sums: BTreeMap<FlowKey, (String, i64, i64)> = BTreeMap::new();
            for f in flows {
                let day = zones.get(&f.pantry).map_or_else(
                    || crate::zones::Zone::utc().day_of(f.at),
                    |z| z.day_of(f.at),
                );
                let key = (f.pantry, f.product, crate::dates::iso(day), f.kind);
                let sum = sums.entry(key).or_insert((f.organization, 0, 0));
                sum.1 += f.quantity;
                sum.2 += 1;
            }
            let rows: Vec<_> = sums.into_iter().collect();
            for chunk in rows.chunks(500) {
                let mut sql = Sql::default();
                sql.push(
                    "insert into daily_flows (pantry_id, product_id, organization_id, day, kind, quantity, movements) values ",
                );
                sql.rows(
                    chunk,
                    |r, ((pantry, product, day, kind), (organization, quantity, movements))| {
                        r.text(pantry.as_str())
                            .text(product.as_str())
                            .text(organization.as_str())
                            .text(day.as_str())
                            .text(*kind)
                            .int(*quantity)
                            .int(*movements);
                    },
                );
                sql.push(
                    " on conflict (pantry_id, product_id, day, kind) do update \
                     set quantity = daily_flows.quantity + excluded.quantity, movements = daily_flows.movements + excluded.movements",
                );
                sql.query()
                    .persistent(false)
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        })
    }
}

/// (pantry, product, local day, kind): one row of `daily_flows`.
type FlowKey = (String, String, String, &'static str);

/// One movement, as `daily_flows` counts it.
struct Flow {
    pantry: String,
    product: String,
    organization: String,
    kind: &'static str,
    quantity: i64,
    /// When it happened (ms): its day depends on the pantry's zone.
    at: i64,
}

/// What a stock event adds to `daily_flows`; `None` for events that are
/// not movements.
fn flow_of(event: &Event) -> Result<Option<Flow>, String> {
    let Some(moved) = event.domain()?.movement() else {
        return Ok(None);
    };
    let pantry = event
        .pantry_id
        .clone()
        .ok_or_else(|| format!("{} has no pantry", event.event_type))?;
    Ok(Some(Flow {
        pantry,
        product: moved.product_id.clone(),
        organization: event.organization_id.clone(),
        kind: moved.kind.as_str(),
        quantity: moved.quantity,
        at: event.occurred_at,
    }))
}
