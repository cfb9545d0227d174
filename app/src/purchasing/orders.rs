//! Purchase orders: a pantry's order to one supplier, drafted by hand or
//! from what the forecasts say to order, submitted, then received in one
//! go or in parts. Receiving posts `received` movements through the
//! movement writer, and the order's lines and status change in the same
//! transaction, so stock and order never disagree.
//!
//! Managers of the pantry draft, submit and cancel; staff receive.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use sqlx::Row as _;

use super::model::*;
use super::suppliers::{pack_parts, supplier_row};
use crate::auth::model::Role;
use crate::auth::service::{Caller, Place};
use crate::catalog::model::Unit;
use crate::db::{Backend, Conn, Db};
use crate::error::{AppError, AppResult};
use crate::events::bus::BoxFuture;
use crate::events::domain::DomainEvent;
use crate::ids::{PantryId, ProductId, PurchaseOrderId, SupplierId, SupplierItemId};
use crate::inventory::model::{parse_text, PantryHeader};
use crate::inventory::service::{self as inventory, Actor, Attachment, Change, Posted};
use crate::state::AppState;

/// Lines one order may have.
pub const MAX_LINES: usize = 200;

/// What the order events carry: which order, and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrderChanged {
    pub order_id: String,
    pub supplier_id: String,
    pub number: i64,
    pub status: String,
}

/// An order's row, before its lines.
struct Head {
    id: PurchaseOrderId,
    number: i64,
    pantry: PantryHeader,
    place: Place,
    supplier_id: SupplierId,
    status: OrderStatus,
    note: Option<String>,
    created_by: String,
    created_at: i64,
    submitted_at: Option<i64>,
    closed_at: Option<i64>,
    revision: i64,
}

async fn head(db: &Db, id: &PurchaseOrderId) -> AppResult<Head> {
    let r = sqlx::query(
        "select o.id, o.number, o.pantry_id, o.supplier_id, o.status, o.note, o.created_at, \
         o.submitted_at, o.closed_at, o.revision, u.display_name \
         from purchase_orders o join users u on u.id = o.created_by where o.id = $1",
    )
    .bind(id.as_str())
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| AppError::not_found("order"))?;
    let pantry = PantryId::from_stored(r.try_get("pantry_id")?);
    let (pantry, place) = inventory::pantry_header(db, &pantry).await?;
    let status: String = r.try_get("status")?;
    Ok(Head {
        id: id.clone(),
        number: r.try_get("number")?,
        pantry,
        place,
        supplier_id: SupplierId::from_stored(r.try_get("supplier_id")?),
        status: OrderStatus::parse(&status).ok_or_else(|| {
            AppError::internal(&std::io::Error::other(format!("order status {status}")))
        })?,
        note: r.try_get("note")?,
        created_by: r.try_get("display_name")?,
        created_at: r.try_get("created_at")?,
        submitted_at: r.try_get("submitted_at")?,
        closed_at: r.try_get("closed_at")?,
        revision: r.try_get("revision")?,
    })
}

async fn lines(db: &Db, order: &PurchaseOrderId) -> AppResult<Vec<OrderLine>> {
    sqlx::query(
        "select l.product_id, p.name, p.unit, i.sku, l.packs, l.pack_parts, l.price_cents, l.received_parts \
         from purchase_order_lines l join products p on p.id = l.product_id \
         left join supplier_items i on i.id = l.supplier_item_id \
         where l.order_id = $1 order by l.position",
    )
    .bind(order.as_str())
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| {
        let unit: String = r.try_get("unit")?;
        let packs: i64 = r.try_get("packs")?;
        let pack_parts: i64 = r.try_get("pack_parts")?;
        let price_cents: Option<i64> = r.try_get("price_cents")?;
        Ok(OrderLine {
            product_id: ProductId::from_stored(r.try_get("product_id")?),
            product_name: r.try_get("name")?,
            unit: Unit::parse(&unit, "unit")?,
            sku: r.try_get("sku")?,
            packs,
            pack_parts,
            ordered_parts: packs * pack_parts,
            received_parts: r.try_get("received_parts")?,
            price_cents,
            line_cents: price_cents.map(|p| p * packs),
        })
    })
    .collect()
}

/// One order, whole, for anyone who may see its pantry.
pub async fn order(
    state: &AppState,
    caller: &Caller,
    id: &PurchaseOrderId,
) -> AppResult<PurchaseOrder> {
    let h = head(&state.db, id).await?;
    let role = caller.require(&h.place, Role::Viewer, "order")?;
    // An archived supplier still names its old orders.
    let supplier = super::suppliers::supplier_any(&state.db, &h.supplier_id).await?;
    let lines = lines(&state.db, id).await?;
    let zone = crate::zones::Zone::stored(&h.pantry.time_zone);
    // Every available item tied to a product, to add or (for one already
    // on the order) to change.
    let packs_of: HashMap<&ProductId, i64> =
        lines.iter().map(|l| (&l.product_id, l.packs)).collect();
    let addable = if h.status == OrderStatus::Draft {
        super::suppliers::items(&state.db, &h.supplier_id)
            .await?
            .into_iter()
            .filter(|i| i.available)
            .filter_map(|i| {
                let product = i.product_id.as_ref()?;
                let on = packs_of
                    .get(product)
                    .map(|p| format!(" · on the order: {p}"))
                    .unwrap_or_default();
                Some((
                    i.id.clone(),
                    format!(
                        "{} · {} ({} a pack{}){on}",
                        i.product_name.clone().unwrap_or_default(),
                        i.sku,
                        i.pack_size,
                        i.price_cents
                            .map(|c| format!(", {}", money(c)))
                            .unwrap_or_default()
                    ),
                ))
            })
            .collect()
    } else {
        Vec::new()
    };
    let total_cents = lines.iter().filter_map(|l| l.line_cents).sum();
    let all_priced = lines.iter().all(|l| l.price_cents.is_some());
    Ok(PurchaseOrder {
        id: h.id,
        number: h.number,
        organization_id: h.pantry.organization_id.clone(),
        organization_name: h.pantry.organization_name.clone(),
        pantry_id: h.pantry.id.clone(),
        pantry_name: h.pantry.name.clone(),
        supplier_id: supplier.id,
        supplier_name: supplier.name,
        supplier_email: supplier.email,
        supplier_phone: supplier.phone,
        lead_time_days: supplier.lead_time_days,
        status: h.status,
        note: h.note,
        created: zone.format(h.created_at),
        submitted: h.submitted_at.map(|t| zone.format(t)),
        closed: h.closed_at.map(|t| zone.format(t)),
        created_by: h.created_by,
        lines,
        total_cents,
        all_priced,
        minimum_order_cents: supplier.minimum_order_cents,
        addable,
        can_edit: role >= Role::Manager && h.status == OrderStatus::Draft,
        can_receive: role >= Role::Staff && h.status.is_open(),
    })
}

/// A pantry's orders, newest first.
pub async fn orders(state: &AppState, caller: &Caller, pantry: &PantryId) -> AppResult<OrderList> {
    let (header, place) = inventory::pantry_header(&state.db, pantry).await?;
    let role = caller.require(&place, Role::Viewer, "pantry")?;
    let zone = crate::zones::Zone::stored(&header.time_zone);
    let orders = sqlx::query(
        "select o.id, o.number, s.name, o.status, o.created_at, \
         (select count(*) from purchase_order_lines l where l.order_id = o.id) as lines, \
         (select cast(coalesce(sum(l.packs * l.price_cents), 0) as bigint) from purchase_order_lines l where l.order_id = o.id) as total \
         from purchase_orders o join suppliers s on s.id = o.supplier_id \
         where o.pantry_id = $1 order by o.number desc limit 500",
    )
    .bind(pantry.as_str())
    .fetch_all(state.db.pool())
    .await?
    .iter()
    .map(|r| {
        let status: String = r.try_get("status")?;
        Ok(OrderRow {
            id: PurchaseOrderId::from_stored(r.try_get("id")?),
            number: r.try_get("number")?,
            supplier_name: r.try_get("name")?,
            status: OrderStatus::parse(&status).unwrap_or(OrderStatus::Draft),
            created: zone.format(r.try_get("created_at")?),
            lines: r.try_get("lines")?,
            total_cents: r.try_get("total")?,
        })
    })
    .collect::<AppResult<_>>()?;
    let suppliers = sqlx::query(
        "select id, name from suppliers where organization_id = $1 and archived_at is null order by name_key",
    )
    .bind(header.organization_id.as_str())
    .fetch_all(state.db.pool())
    .await?
    .iter()
    .map(|r| Ok((SupplierId::from_stored(r.try_get("id")?), r.try_get("name")?)))
    .collect::<AppResult<_>>()?;
    Ok(OrderList {
        pantry_id: header.id,
        pantry_name: header.name,
        organization_id: header.organization_id,
        organization_name: header.organization_name,
        orders,
        suppliers,
        can_order: role >= Role::Manager,
    })
}

/// Starts a draft order at the pantry to the supplier; returns its id.
pub async fn create_order(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    supplier: &SupplierId,
    note: &str,
) -> AppResult<PurchaseOrderId> {
    let (header, place) = inventory::pantry_header(&state.db, pantry).await?;
    caller.require(&place, Role::Manager, "pantry")?;
    let s = supplier_row(&state.db, supplier).await?;
    if s.organization_id != header.organization_id {
        return Err(AppError::invalid(
            "supplier",
            "Choose one of the organization's suppliers.",
        ));
    }
    let note = parse_text(note, "note", 1000)?;
    let id = PurchaseOrderId::new();
    let mut tx = state.db.begin().await?;
    // Numbers count per organization; the organization's row is the lock
    // that keeps two new orders from taking one number (SQLite writers
    // are serialized already).
    if state.db.backend() == Backend::Postgres {
        sqlx::query("select id from organizations where id = $1 for update")
            .bind(header.organization_id.as_str())
            .execute(&mut *tx)
            .await?;
    }
    let number: i64 = sqlx::query_scalar(
        "select coalesce(max(number), 0) + 1 from purchase_orders where organization_id = $1",
    )
    .bind(header.organization_id.as_str())
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "insert into purchase_orders (id, organization_id, pantry_id, supplier_id, number, status, note, created_by, created_at) \
         values ($1, $2, $3, $4, $5, 'draft', $6, $7, $8)",
    )
    .bind(id.as_str())
    .bind(header.organization_id.as_str())
    .bind(header.id.as_str())
    .bind(s.id.as_str())
    .bind(number)
    .bind(note)
    .bind(caller.me.id.as_str())
    .bind(state.clock.now_ms())
    .execute(&mut *tx)
    .await?;
    append(
        &mut tx,
        state,
        caller,
        &header,
        DomainEvent::PurchaseOrderCreated(OrderChanged {
            order_id: id.to_string(),
            supplier_id: s.id.to_string(),
            number,
            status: "draft".into(),
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

async fn append(
    tx: &mut crate::db::Tx,
    state: &AppState,
    caller: &Caller,
    pantry: &PantryHeader,
    event: DomainEvent,
) -> AppResult<()> {
    crate::events::store::append(
        tx,
        state.db.backend(),
        &crate::events::store::NewEvent {
            event: &event,
            organization_id: pantry.organization_id.as_str(),
            pantry_id: Some(pantry.id.as_str()),
            actor_id: Some(caller.me.id.as_str()),
            correlation_id: &crate::request::current_request_id(),
            client_ip: crate::request::current_client_ip().as_deref(),
            trace_parent: crate::request::current_trace_parent().as_deref(),
            occurred_at: state.clock.now_ms(),
        },
    )
    .await?;
    Ok(())
}

/// A draft the caller may change.
async fn draft(state: &AppState, caller: &Caller, id: &PurchaseOrderId) -> AppResult<Head> {
    let h = head(&state.db, id).await?;
    caller.require(&h.place, Role::Manager, "order")?;
    if h.status != OrderStatus::Draft {
        return Err(AppError::conflict(
            "order",
            format!(
                "{} is {}; only a draft can change.",
                order_label(h.number),
                h.status.label().to_lowercase()
            ),
        ));
    }
    Ok(h)
}

/// Sets how many packs of a supplier item the draft orders; 0 takes the
/// line off.
pub async fn set_line(
    state: &AppState,
    caller: &Caller,
    order: &PurchaseOrderId,
    item: &SupplierItemId,
    packs: &str,
) -> AppResult<()> {
    let h = draft(state, caller, order).await?;
    let packs = packs
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|p| (0..=100_000).contains(p))
        .ok_or_else(|| AppError::invalid("packs", "Enter a whole number of packs, 0 to 100000."))?;
    let item = super::suppliers::items(&state.db, &h.supplier_id)
        .await?
        .into_iter()
        .find(|i| &i.id == item)
        .ok_or_else(|| AppError::invalid("item", "Choose one of this supplier's items."))?;
    let (Some(product), Some(unit)) = (item.product_id.clone(), item.unit) else {
        return Err(AppError::invalid(
            "item",
            format!(
                "{} is not tied to a product yet; choose its product on the supplier's page.",
                item.sku
            ),
        ));
    };
    let mut tx = state.db.begin().await?;
    if packs == 0 {
        sqlx::query("delete from purchase_order_lines where order_id = $1 and product_id = $2")
            .bind(order.as_str())
            .bind(product.as_str())
            .execute(&mut *tx)
            .await?;
    } else {
        let count: i64 =
            sqlx::query_scalar("select count(*) from purchase_order_lines where order_id = $1")
                .bind(order.as_str())
                .fetch_one(&mut *tx)
                .await?;
        if count >= MAX_LINES as i64 {
            return Err(AppError::invalid(
                "item",
                format!("An order holds at most {MAX_LINES} lines; start another."),
            ));
        }
        let parts = pack_parts(unit, &item.pack_size)?;
        sqlx::query(
            "insert into purchase_order_lines (order_id, product_id, supplier_item_id, packs, pack_parts, price_cents, position) \
             values ($1, $2, $3, $4, $5, $6, $7) \
             on conflict (order_id, product_id) do update set supplier_item_id = excluded.supplier_item_id, \
             packs = excluded.packs, pack_parts = excluded.pack_parts, price_cents = excluded.price_cents",
        )
        .bind(order.as_str())
        .bind(product.as_str())
        .bind(item.id.as_str())
        .bind(packs)
        .bind(parts)
        .bind(item.price_cents)
        .bind(count)
        .execute(&mut *tx)
        .await?;
    }
    bump(&mut tx, &h).await?;
    tx.commit().await?;
    Ok(())
}

/// Moves the order's revision on, or fails if someone else moved it first.
async fn bump(tx: &mut crate::db::Tx, h: &Head) -> AppResult<()> {
    let n = sqlx::query(
        "update purchase_orders set revision = revision + 1 where id = $1 and revision = $2",
    )
    .bind(h.id.as_str())
    .bind(h.revision)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n != 1 {
        return Err(stale(h.number));
    }
    Ok(())
}

fn stale(number: i64) -> AppError {
    AppError::conflict(
        "order",
        format!(
            "{} changed while you were working on it; reload to see it as it is now.",
            order_label(number)
        ),
    )
}

/// Sends a draft: it now counts as on order.
pub async fn submit(state: &AppState, caller: &Caller, id: &PurchaseOrderId) -> AppResult<()> {
    let h = draft(state, caller, id).await?;
    let count: i64 =
        sqlx::query_scalar("select count(*) from purchase_order_lines where order_id = $1")
            .bind(id.as_str())
            .fetch_one(state.db.pool())
            .await?;
    if count == 0 {
        return Err(AppError::invalid(
            "order",
            "Add at least one line before submitting.",
        ));
    }
    transition(state, caller, &h, OrderStatus::Submitted).await
}

/// Cancels an order not fully received: what came stays in stock, the
/// rest is no longer expected.
pub async fn cancel(state: &AppState, caller: &Caller, id: &PurchaseOrderId) -> AppResult<()> {
    let h = head(&state.db, id).await?;
    caller.require(&h.place, Role::Manager, "order")?;
    if matches!(h.status, OrderStatus::Received | OrderStatus::Cancelled) {
        return Err(AppError::conflict(
            "order",
            format!(
                "{} is already {}.",
                order_label(h.number),
                h.status.label().to_lowercase()
            ),
        ));
    }
    transition(state, caller, &h, OrderStatus::Cancelled).await
}

async fn transition(state: &AppState, caller: &Caller, h: &Head, to: OrderStatus) -> AppResult<()> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    bump(&mut tx, h).await?;
    let column = if to == OrderStatus::Submitted {
        "submitted_at"
    } else {
        "closed_at"
    };
    sqlx::query(&format!(
        "update purchase_orders set status = $2, {column} = $3 where id = $1"
    ))
    .bind(h.id.as_str())
    .bind(to.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let changed = OrderChanged {
        order_id: h.id.to_string(),
        supplier_id: h.supplier_id.to_string(),
        number: h.number,
        status: to.as_str().into(),
    };
    let event = match to {
        OrderStatus::Submitted => DomainEvent::PurchaseOrderSubmitted(changed),
        _ => DomainEvent::PurchaseOrderCancelled(changed),
    };
    append(&mut tx, state, caller, &h.pantry, event).await?;
    tx.commit().await?;
    Ok(())
}

/// A receipt against an order, written with its movements: each line's
/// received parts go up, the order becomes partly received or received,
/// and its revision must still be the one the receipt was checked
/// against.
#[derive(Debug)]
struct Receipt {
    order: PurchaseOrderId,
    number: i64,
    supplier_id: SupplierId,
    revision: i64,
    /// (product, parts received now), in the order of the movements.
    lines: Vec<(ProductId, i64)>,
    /// Every line received in full after this receipt.
    complete: bool,
}

impl Attachment for Receipt {
    fn check<'a>(&'a self, _conn: &'a mut Conn, _backend: Backend) -> BoxFuture<'a, AppResult<()>> {
        Box::pin(async { Ok(()) })
    }

    fn write<'a>(
        &'a self,
        conn: &'a mut Conn,
        _backend: Backend,
        _posted: &'a [Posted],
        now: i64,
    ) -> BoxFuture<'a, AppResult<Vec<DomainEvent>>> {
        Box::pin(async move {
            let status = if self.complete {
                OrderStatus::Received
            } else {
                OrderStatus::PartlyReceived
            };
            let n = sqlx::query(
                "update purchase_orders set revision = revision + 1, status = $3, \
                 closed_at = case when $3 = 'received' then $4 else closed_at end \
                 where id = $1 and revision = $2 and status in ('submitted', 'partly_received')",
            )
            .bind(self.order.as_str())
            .bind(self.revision)
            .bind(status.as_str())
            .bind(now)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if n != 1 {
                return Err(stale(self.number));
            }
            for (product, parts) in &self.lines {
                sqlx::query(
                    "update purchase_order_lines set received_parts = received_parts + $3 \
                     where order_id = $1 and product_id = $2",
                )
                .bind(self.order.as_str())
                .bind(product.as_str())
                .bind(*parts)
                .execute(&mut *conn)
                .await?;
            }
            Ok(vec![DomainEvent::PurchaseOrderReceived(OrderChanged {
                order_id: self.order.to_string(),
                supplier_id: self.supplier_id.to_string(),
                number: self.number,
                status: status.as_str().into(),
            })])
        })
    }
}

/// Receives what came of an order: each line's quantity (in the
/// product's unit) and best-before date. Every line or none; more than
/// was ordered is taken (a supplier may send extra) but said.
pub async fn receive(
    state: &AppState,
    caller: &Caller,
    id: &PurchaseOrderId,
    received: &[ReceiptLine],
) -> AppResult<()> {
    let h = head(&state.db, id).await?;
    caller.require(&h.place, Role::Staff, "order")?;
    if !h.status.is_open() {
        return Err(AppError::conflict(
            "order",
            format!(
                "{} is {}; only a submitted order is received.",
                order_label(h.number),
                h.status.label().to_lowercase()
            ),
        ));
    }
    let lines = lines(&state.db, id).await?;
    let by_product: HashMap<&ProductId, &OrderLine> =
        lines.iter().map(|l| (&l.product_id, l)).collect();
    let ids: Vec<&ProductId> = lines.iter().map(|l| &l.product_id).collect();
    let products = crate::catalog::service::products_with_ids(
        &state.db,
        h.pantry.organization_id.as_str(),
        &ids,
    )
    .await?;
    let supplier = super::suppliers::supplier_any(&state.db, &h.supplier_id).await?;
    let today = crate::dates::today(state.clock.as_ref());
    let mut now_parts: BTreeMap<ProductId, i64> = BTreeMap::new();
    let mut changes = Vec::new();
    for r in received {
        let Some(line) = by_product.get(&r.product) else {
            return Err(AppError::invalid("lines", "A line is not on this order."));
        };
        let Some(product) = products.get(&r.product) else {
            return Err(AppError::not_found("product"));
        };
        let on_line = |e: AppError| AppError::invalid("lines", format!("{}: {e}", product.name));
        let q = r.quantity.trim();
        if q.is_empty() || q == "0" {
            continue;
        }
        let parts = line.unit.parse_quantity(q, "quantity").map_err(on_line)?;
        if parts == 0 {
            continue;
        }
        let best_before =
            inventory::lot_date(today, product, &r.best_before, "best_before").map_err(on_line)?;
        *now_parts.entry(r.product.clone()).or_default() += parts;
        changes.push((
            product.clone(),
            Change::Received {
                quantity: parts,
                best_before,
                source: "purchase".into(),
                donor: None,
                weight_g: product.weight_of(parts, "quantity").map_err(on_line)?,
                note: Some(format!("{} from {}", order_label(h.number), supplier.name)),
            },
        ));
    }
    if changes.is_empty() {
        return Err(AppError::invalid(
            "lines",
            "Enter how much of at least one line came.",
        ));
    }
    let complete = lines.iter().all(|l| {
        l.received_parts + now_parts.get(&l.product_id).copied().unwrap_or(0) >= l.ordered_parts
    });
    let receipt = Receipt {
        order: h.id.clone(),
        number: h.number,
        supplier_id: h.supplier_id.clone(),
        revision: h.revision,
        lines: now_parts.into_iter().collect(),
        complete,
    };
    inventory::post_group(
        state,
        &h.pantry,
        changes,
        Arc::new(receipt),
        &Actor::of(caller),
    )
    .await?;
    Ok(())
}

/// Parts of each product on order at the pantry: submitted and not yet
/// received (drafts are not orders yet; cancelled ones will not come).
pub async fn on_order(db: &Db, pantry: &str) -> AppResult<HashMap<String, i64>> {
    sqlx::query(
        "select l.product_id, cast(sum(case when l.packs * l.pack_parts > l.received_parts \
         then l.packs * l.pack_parts - l.received_parts else 0 end) as bigint) as outstanding \
         from purchase_order_lines l join purchase_orders o on o.id = l.order_id \
         where o.pantry_id = $1 and o.status in ('submitted', 'partly_received') group by l.product_id",
    )
    .bind(pantry)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| Ok((r.try_get("product_id")?, r.try_get("outstanding")?)))
    .collect()
}

/// The order as CSV, for the supplier: one row per line.
pub async fn csv(
    state: &AppState,
    caller: &Caller,
    id: &PurchaseOrderId,
) -> AppResult<(String, String)> {
    let o = order(state, caller, id).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| AppError::internal(&e);
    w.write_record([
        "order",
        "supplier",
        "sku",
        "product",
        "packs",
        "pack_size",
        "quantity",
        "unit",
        "price",
        "line_total",
    ])
    .map_err(fail)?;
    for l in &o.lines {
        let cell = |s: &str| crate::spreadsheet::cell(s).into_owned();
        w.write_record([
            o.label(),
            cell(&o.supplier_name),
            cell(l.sku.as_deref().unwrap_or("")),
            cell(&l.product_name),
            l.packs.to_string(),
            l.unit.amount(l.pack_parts),
            l.unit.amount(l.ordered_parts),
            l.unit.as_str().to_string(),
            l.price_cents.map(money).unwrap_or_default(),
            l.line_cents.map(money).unwrap_or_default(),
        ])
        .map_err(fail)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| AppError::internal(&e.into_error()))?;
    Ok((
        format!("{}.csv", o.label()),
        String::from_utf8(bytes).map_err(|e| AppError::internal(&e))?,
    ))
}
