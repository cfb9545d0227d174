//! The stock issue analyser: an event consumer that looks again at a
//! product whenever its stock moves, at a whole pantry when its forecasts
//! are made or one of its orders changes, and at a supplier's prices after
//! a sync. It raises what the rules find, updates what is still open, and
//! closes as resolved what the rules no longer find.
//!
//! Durable: it writes issues in the delivery's transaction with its
//! checkpoint, and it only ever compares the present with what is open, so
//! an event delivered twice changes nothing the first delivery did not.
//! One open issue per key (a unique index on `open_key`); a dismissed one
//! stays quiet for a week unless it becomes more severe.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use sqlx::Row as _;

use super::model::*;
use super::rules::{self, Facts, Finding, Need, OpenLine};
use crate::clock::Clock;
use crate::db::{Backend, Db, Tx};
use crate::error::AppResult;
use crate::events::bus::{BoxFuture, Consumer, Delivery, Durability};
use crate::events::domain::DomainEvent;
use crate::events::store::{Event, NewEvent};
use crate::ids::{PantryId, PurchaseOrderId, StockIssueId, SupplierItemId};
use crate::purchasing::drafting::Offers;
use crate::purchasing::sync::PriceChange;
use crate::zones::Zone;

/// How long a dismissed issue keeps quiet.
const QUIET_AFTER_DISMISSAL_MS: i64 = 7 * 86_400_000;

/// What the `StockIssueRaised` event carries (raised, or become urgent).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IssueRaised {
    pub issue_id: String,
    #[serde(default)]
    pub product_id: Option<String>,
    pub kind: String,
    pub severity: String,
    pub title: String,
}

/// What the `StockIssueAccepted` and `StockIssueDismissed` events carry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IssueClosed {
    pub issue_id: String,
    #[serde(default)]
    pub order_id: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

pub struct StockAnalyser {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
}

impl Consumer for StockAnalyser {
    fn name(&self) -> &'static str {
        "stock-analyser"
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

    /// A quarter of a second behind costs an issue nothing, and a run of
    /// movements of one product becomes one look at it.
    fn linger(&self) -> std::time::Duration {
        std::time::Duration::from_millis(250)
    }

    fn handle_batch<'a>(
        &'a self,
        events: &'a [Event],
        delivery: &'a mut Delivery,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let work = Work::of(events)?;
            if work.pantries.is_empty() && work.prices.is_empty() && work.parked.is_empty() {
                return Ok(());
            }
            let now = self.clock.now_ms();
            // Everything is read before the delivery's transaction begins
            // (on SQLite it holds the write lock).
            let looked = look(&self.db, &work, now).await.map_err(|e| e.detail())?;
            let tx = delivery.tx().await?;
            apply(tx, self.db.backend(), &looked, now)
                .await
                .map_err(|e| e.detail())
        })
    }
}

/// What a run of events asks to look at again.
#[derive(Default)]
struct Work {
    /// Pantry → the products to look at (`None`: all of them).
    pantries: BTreeMap<String, Option<BTreeSet<String>>>,
    /// (organization, supplier, the prices that moved).
    prices: Vec<(String, String, Vec<PriceChange>)>,
    /// Organizations whose parked events changed.
    parked: BTreeSet<String>,
}

impl Work {
    fn of(events: &[Event]) -> Result<Self, String> {
        let mut work = Self::default();
        for event in events {
            let pantry = event.pantry_id.clone();
            let domain = event.domain()?;
            if let Some(m) = domain.movement() {
                if let Some(p) = pantry {
                    work.product(p, &m.product_id);
                }
                if let Some(other) = &m.counterpart_pantry_id {
                    work.product(other.clone(), &m.product_id);
                }
                continue;
            }
            match domain {
                DomainEvent::StockMinimumSet(m) => {
                    if let Some(p) = pantry {
                        work.product(p, &m.product_id);
                    }
                }
                DomainEvent::ForecastsGenerated(_)
                | DomainEvent::PurchaseOrderCreated(_)
                | DomainEvent::PurchaseOrderSubmitted(_)
                | DomainEvent::PurchaseOrderReceived(_)
                | DomainEvent::PurchaseOrderCancelled(_) => {
                    if let Some(p) = pantry {
                        work.pantries.insert(p, None);
                    }
                }
                DomainEvent::SupplierCatalogUpdated(c) if !c.prices.is_empty() => {
                    work.prices.push((
                        event.organization_id.clone(),
                        c.supplier_id.clone(),
                        c.prices.clone(),
                    ));
                }
                DomainEvent::EventParked(_) | DomainEvent::ParkedEventDelivered(_) => {
                    work.parked.insert(event.organization_id.clone());
                }
                _ => {}
            }
        }
        Ok(work)
    }

    fn product(&mut self, pantry: String, product: &str) {
        if let Some(set) = self
            .pantries
            .entry(pantry)
            .or_insert_with(|| Some(BTreeSet::new()))
        {
            set.insert(product.to_string());
        }
    }
}

/// What looking found: per place, the keys looked at and what was found.
struct Looked {
    organization: String,
    pantry: Option<String>,
    /// Every key this look covers: an open issue under one of them that
    /// was not found again is resolved.
    keys: BTreeSet<String>,
    found: Vec<(Finding, Option<String>)>,
}

async fn look(db: &Db, work: &Work, now: i64) -> AppResult<Vec<Looked>> {
    let mut out = Vec::new();
    for (pantry, only) in &work.pantries {
        if let Some(l) = look_at_pantry(db, pantry, only.as_ref(), now).await? {
            out.push(l);
        }
    }
    for (organization, supplier, prices) in &work.prices {
        let name: Option<String> = sqlx::query_scalar("select name from suppliers where id = $1")
            .bind(supplier)
            .fetch_optional(db.pool())
            .await?;
        let Some(name) = name else { continue };
        let mut l = Looked {
            organization: organization.clone(),
            pantry: None,
            keys: BTreeSet::new(),
            found: Vec::new(),
        };
        for p in prices {
            l.keys.insert(format!("price:{}", p.item_id));
            let product: Option<String> =
                sqlx::query_scalar("select product_id from supplier_items where id = $1")
                    .bind(&p.item_id)
                    .fetch_optional(db.pool())
                    .await?
                    .flatten();
            if let Some(f) = rules::price_change(
                &name,
                &p.item_id,
                &p.sku,
                &p.description,
                p.old_cents,
                p.new_cents,
            ) {
                l.found.push((f, product));
            }
        }
        // A price back within the threshold leaves the earlier issue open:
        // it was about the change, which happened.
        l.keys.retain(|k| l.found.iter().any(|(f, _)| &f.key == k));
        out.push(l);
    }
    for organization in &work.parked {
        out.push(look_at_parked(db, organization).await?);
    }
    Ok(out)
}

/// The organization's events still parked, by consumer.
async fn look_at_parked(db: &Db, organization: &str) -> AppResult<Looked> {
    const PARKED: &str = "from dead_letters d join events e on e.seq = d.event_seq \
         where e.organization_id = $1 and d.resolved_at is null";
    let counts = sqlx::query(&format!(
        "select d.consumer, count(*) as n {PARKED} group by d.consumer order by d.consumer"
    ))
    .bind(organization)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| -> AppResult<rules::ParkedCount> {
        Ok(rules::ParkedCount {
            consumer: r.try_get("consumer")?,
            events: r.try_get("n")?,
        })
    })
    .collect::<AppResult<Vec<_>>>()?;
    let last: Option<String> = sqlx::query_scalar(&format!(
        "select d.error {PARKED} order by d.parked_at desc, d.event_seq desc limit 1"
    ))
    .bind(organization)
    .fetch_optional(db.pool())
    .await?;
    let found = rules::parked(organization, &counts, last.as_deref().unwrap_or(""));
    Ok(Looked {
        organization: organization.to_string(),
        pantry: None,
        keys: BTreeSet::from([format!("parked:{organization}")]),
        found: found.into_iter().map(|f| (f, None)).collect(),
    })
}

async fn look_at_pantry(
    db: &Db,
    pantry: &str,
    only: Option<&BTreeSet<String>>,
    now: i64,
) -> AppResult<Option<Looked>> {
    let Ok((header, _)) =
        crate::inventory::service::pantry_header(db, &PantryId::from_stored(pantry.to_string()))
            .await
    else {
        // Archived or gone: nothing to raise there.
        return Ok(None);
    };
    let today = Zone::stored(&header.time_zone).day_of(now);
    let one = only.filter(|s| s.len() == 1).and_then(|s| s.iter().next());
    let (mut recs, _) =
        crate::forecasts::service::recommendations_at(db, &header, today, one.map(String::as_str))
            .await?;
    if let Some(set) = only {
        recs.retain(|r| set.contains(r.product_id.as_str()));
    }
    let mut keys: BTreeSet<String> = BTreeSet::new();
    match only {
        Some(set) => {
            for p in set {
                keys.extend(rules::keys(pantry, p));
            }
        }
        None => {
            // Every open issue of the pantry is looked at again.
            let open: Vec<String> = sqlx::query_scalar(
                "select open_key from stock_issues where pantry_id = $1 and open_key is not null",
            )
            .bind(pantry)
            .fetch_all(db.pool())
            .await?;
            keys.extend(open);
            for r in &recs {
                keys.extend(rules::keys(pantry, r.product_id.as_str()));
            }
        }
    }
    let offers = Offers::of(db, header.organization_id.as_str()).await?;
    let lines = open_lines(db, pantry).await?;
    let mut found = Vec::new();
    for r in &recs {
        let product = r.product_id.as_str();
        let offer = offers.best(product, r.unit);
        let need = if r.expiring > 0.0 {
            need_elsewhere(db, &header, product, now).await?
        } else {
            None
        };
        let mine: Vec<OpenLine> = lines.get(product).cloned().unwrap_or_default();
        let facts = Facts {
            pantry_id: pantry,
            pantry_name: &header.name,
            rec: r,
            today,
            offer: offer.as_ref(),
            lines: &mine,
            need_elsewhere: need.as_ref(),
        };
        for f in rules::evaluate(&facts) {
            found.push((f, Some(product.to_string())));
        }
    }
    Ok(Some(Looked {
        organization: header.organization_id.to_string(),
        pantry: Some(pantry.to_string()),
        keys,
        found,
    }))
}

/// The pantry's open order lines, by product.
async fn open_lines(db: &Db, pantry: &str) -> AppResult<HashMap<String, Vec<OpenLine>>> {
    let rows = sqlx::query(
        "select l.product_id, o.id, o.number, o.status, s.name, l.supplier_item_id, l.packs, l.pack_parts \
         from purchase_order_lines l join purchase_orders o on o.id = l.order_id \
         join suppliers s on s.id = o.supplier_id \
         where o.pantry_id = $1 and o.status in ('draft', 'submitted', 'partly_received') \
         order by o.number",
    )
    .bind(pantry)
    .fetch_all(db.pool())
    .await?;
    let mut out: HashMap<String, Vec<OpenLine>> = HashMap::new();
    for r in rows {
        let status: String = r.try_get("status")?;
        out.entry(r.try_get("product_id")?)
            .or_default()
            .push(OpenLine {
                order_id: PurchaseOrderId::from_stored(r.try_get("id")?),
                order_label: crate::purchasing::model::order_label(r.try_get("number")?),
                supplier_name: r.try_get("name")?,
                draft: status == "draft",
                item_id: SupplierItemId::from_stored(r.try_get("supplier_item_id")?),
                packs: r.try_get("packs")?,
                parts_per_pack: r.try_get("pack_parts")?,
            });
    }
    Ok(out)
}

/// The other pantry of the organization that should order the most of
/// the product, by its own forecast.
async fn need_elsewhere(
    db: &Db,
    header: &crate::inventory::model::PantryHeader,
    product: &str,
    now: i64,
) -> AppResult<Option<Need>> {
    let others: Vec<String> = sqlx::query_scalar(
        "select id from pantries where organization_id = $1 and id <> $2 and archived_at is null",
    )
    .bind(header.organization_id.as_str())
    .bind(header.id.as_str())
    .fetch_all(db.pool())
    .await?;
    let mut best: Option<Need> = None;
    for id in others {
        let pantry = PantryId::from_stored(id);
        let (other, _) = crate::inventory::service::pantry_header(db, &pantry).await?;
        let today = Zone::stored(&other.time_zone).day_of(now);
        let (recs, _) =
            crate::forecasts::service::recommendations_at(db, &other, today, Some(product)).await?;
        if let Some(r) = recs.iter().find(|r| r.order_quantity > 0.0) {
            if best.as_ref().is_none_or(|b| r.order_quantity > b.quantity) {
                best = Some(Need {
                    pantry_id: pantry.clone(),
                    pantry_name: other.name.clone(),
                    quantity: r.order_quantity,
                });
            }
        }
    }
    Ok(best)
}

/// Writes what looking found, in the delivery's transaction.
async fn apply(tx: &mut Tx, backend: Backend, looked: &[Looked], now: i64) -> AppResult<()> {
    for l in looked {
        let found: HashMap<&str, &(Finding, Option<String>)> =
            l.found.iter().map(|f| (f.0.key.as_str(), f)).collect();
        for key in &l.keys {
            let open: Option<(String, String)> =
                sqlx::query_as("select id, severity from stock_issues where open_key = $1")
                    .bind(key)
                    .fetch_optional(&mut **tx)
                    .await?;
            match (found.get(key.as_str()), open) {
                (Some((f, _)), Some((id, severity))) => {
                    update(tx, &id, f, now).await?;
                    let was = Severity::parse(&severity).unwrap_or(Severity::Info);
                    if f.severity == Severity::Urgent && was < Severity::Urgent {
                        raised(tx, backend, l, &id, f, None, now).await?;
                    }
                }
                (Some((f, product)), None) => {
                    if quiet(tx, key, f.severity, now).await? {
                        continue;
                    }
                    let id = StockIssueId::new().to_string();
                    insert(tx, l, &id, f, product.as_deref(), now).await?;
                    raised(tx, backend, l, &id, f, product.as_deref(), now).await?;
                }
                (None, Some((id, _))) => {
                    sqlx::query(
                        "update stock_issues set status = 'resolved', open_key = null, closed_at = $1, updated_at = $1 \
                         where id = $2 and status = 'open'",
                    )
                    .bind(now)
                    .bind(&id)
                    .execute(&mut **tx)
                    .await?;
                }
                (None, None) => {}
            }
        }
    }
    Ok(())
}

/// Whether the key was dismissed lately at this severity or above.
async fn quiet(tx: &mut Tx, key: &str, severity: Severity, now: i64) -> AppResult<bool> {
    let dismissed: Vec<String> = sqlx::query_scalar(
        "select severity from stock_issues where issue_key = $1 and status = 'dismissed' and closed_at > $2",
    )
    .bind(key)
    .bind(now - QUIET_AFTER_DISMISSAL_MS)
    .fetch_all(&mut **tx)
    .await?;
    Ok(dismissed
        .iter()
        .any(|s| Severity::parse(s).is_some_and(|s| s >= severity)))
}

fn json<T: serde::Serialize>(v: &T) -> AppResult<String> {
    serde_json::to_string(v).map_err(|e| crate::error::AppError::internal(&e))
}

async fn insert(
    tx: &mut Tx,
    l: &Looked,
    id: &str,
    f: &Finding,
    product: Option<&str>,
    now: i64,
) -> AppResult<()> {
    sqlx::query(
        "insert into stock_issues (id, organization_id, pantry_id, product_id, kind, severity, issue_key, open_key, \
         status, title, explanation, numbers, proposal, raised_at, updated_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $7, 'open', $8, $9, $10, $11, $12, $12) \
         on conflict (open_key) do nothing",
    )
    .bind(id)
    .bind(&l.organization)
    .bind(&l.pantry)
    .bind(product)
    .bind(f.kind.as_str())
    .bind(f.severity.as_str())
    .bind(&f.key)
    .bind(&f.title)
    .bind(&f.explanation)
    .bind(json(&f.numbers)?)
    .bind(json(&f.proposal)?)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn update(tx: &mut Tx, id: &str, f: &Finding, now: i64) -> AppResult<()> {
    // Only a real change moves `updated_at`: a redelivered event leaves
    // the row as it was.
    sqlx::query(
        "update stock_issues set kind = $1, severity = $2, title = $3, explanation = $4, numbers = $5, \
         proposal = $6, updated_at = $7 \
         where id = $8 and status = 'open' and (kind <> $1 or severity <> $2 or title <> $3 or explanation <> $4 \
         or numbers <> $5 or proposal <> $6)",
    )
    .bind(f.kind.as_str())
    .bind(f.severity.as_str())
    .bind(&f.title)
    .bind(&f.explanation)
    .bind(json(&f.numbers)?)
    .bind(json(&f.proposal)?)
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn raised(
    tx: &mut Tx,
    backend: Backend,
    l: &Looked,
    id: &str,
    f: &Finding,
    product: Option<&str>,
    now: i64,
) -> AppResult<()> {
    crate::events::store::append(
        tx,
        backend,
        &NewEvent {
            event: &DomainEvent::StockIssueRaised(IssueRaised {
                issue_id: id.to_string(),
                product_id: product.map(str::to_string),
                kind: f.kind.as_str().to_string(),
                severity: f.severity.as_str().to_string(),
                title: f.title.clone(),
            }),
            organization_id: &l.organization,
            pantry_id: l.pantry.as_deref(),
            actor_id: None,
            correlation_id: "stock-analyser",
            client_ip: None,
            trace_parent: None,
            occurred_at: now,
        },
    )
    .await?;
    Ok(())
}
