//! Stock on the server: recording movements (the write path) and the stock
//! checker's queries (the read path).
//!
//! A movement changes the pantry's stock row for the product first (one
//! guarded `update … returning`, which is also where "not enough" is found
//! and, on PostgreSQL, where the row is locked), then takes from lots first
//! expiry first out (or adds to the lot of its best-before date). Its
//! ledger line, lot lines and event are appended when its batch is done
//! (see [`Ledger`] and `writer.rs`), all in one transaction.

use serde::{Deserialize, Serialize};
use sqlx::Row as _;

use super::model::*;
use crate::auth::model::Role;
use crate::auth::service::{Caller, Place};
use crate::catalog::model::{Product, Unit};
use crate::catalog::service as catalog;
use crate::db::{self, contains_pattern, now_ms, Backend, Db, Sql, Tx};
use crate::error::{AppError, AppResult};
use crate::events::bus::BoxFuture;
use crate::events::store::{self as events, NewEvent};
use crate::ids::{LotId, MovementId, OrganizationId, PantryId, ProductId};
use crate::state::AppState;

/// Rows per page of an inventory list.
pub const STOCK_PAGE: i64 = 50;
/// Movements per page of a product's history.
pub const HISTORY_PAGE: i64 = 25;
/// What counts as expiring soon, in days.
pub const EXPIRING_DAYS: i64 = 7;

/// Who is recording, and the request it came in on.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: String,
    pub correlation_id: String,
}

impl Actor {
    pub fn of(caller: &Caller) -> Self {
        Self {
            user_id: caller.me.id.0.clone(),
            correlation_id: crate::request::current_request_id(),
        }
    }
}

/// The payload of every stock movement event (`StockReceived`, …), version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockMoved {
    pub movement_id: String,
    pub product_id: String,
    pub kind: MovementKind,
    /// Signed change to the pantry's stock.
    pub quantity: i64,
    /// The pantry's stock of the product after the movement.
    pub on_hand: i64,
    pub lots: Vec<LotChange>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub donor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub weight_g: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub counterpart_pantry_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotChange {
    pub lot_id: String,
    pub best_before: Option<String>,
    pub quantity: i64,
}

/// The payload of `StockMinimumSet`, version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinimumSet {
    pub product_id: String,
    pub minimum: i64,
}

pub const EVENT_VERSION: i64 = 1;

// ------------------------------------------------------------ pantries

pub async fn pantry_header(db: &Db, id: &PantryId) -> AppResult<(PantryHeader, Place)> {
    let (pantry, campus, organization, place) =
        crate::org::service::pantry_with_parents(db, id.as_str()).await?;
    Ok((
        PantryHeader {
            id: pantry.id,
            name: pantry.name,
            campus_id: campus.id,
            campus_name: campus.name,
            organization_id: organization.id,
            organization_name: organization.name,
        },
        place,
    ))
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

fn iso(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn days_from_today(days: i64) -> String {
    iso(today().saturating_add(time::Duration::days(days)))
}

// ------------------------------------------------------------ the write path

/// One change to one pantry's stock of one product.
#[derive(Debug, Clone, Default)]
pub struct Change {
    kind: Option<MovementKind>,
    /// Signed.
    quantity: i64,
    /// For increases: the lot's date.
    best_before: Option<String>,
    /// For decreases: take from this lot only.
    from_lot: Option<LotId>,
    reason: Option<String>,
    source: Option<String>,
    donor: Option<String>,
    weight_g: Option<i64>,
    counterpart: Option<String>,
    note: Option<String>,
    /// The visit the movement belongs to (usage module).
    visit: Option<String>,
}

impl Change {
    /// Stock handed out at a visit.
    pub fn handed_out(quantity: i64, visit: &str) -> Self {
        Self {
            kind: Some(MovementKind::Distributed),
            quantity: -quantity,
            visit: Some(visit.to_string()),
            ..Self::default()
        }
    }

    /// Stock that comes back from a visit (a correction or a void), into
    /// the lot of the date it went out from.
    pub fn handed_back(
        quantity: i64,
        best_before: Option<String>,
        visit: &str,
        note: &str,
    ) -> Self {
        Self {
            kind: Some(MovementKind::Distributed),
            quantity,
            best_before,
            visit: Some(visit.to_string()),
            note: Some(note.to_string()),
            ..Self::default()
        }
    }
}

/// Locks (on PostgreSQL) the stock row and returns what is on hand. With
/// `create`, a missing row is created at zero first; without, a missing
/// row reads as zero and nothing is written.
async fn lock_stock(
    tx: &mut Tx,
    backend: Backend,
    organization: &str,
    pantry: &str,
    product: &str,
    create: bool,
) -> AppResult<i64> {
    if create {
        sqlx::query(
            "insert into stock_levels (pantry_id, product_id, organization_id, on_hand, minimum, updated_at) \
             values ($1, $2, $3, 0, 0, $4) on conflict (pantry_id, product_id) do nothing",
        )
        .bind(pantry)
        .bind(product)
        .bind(organization)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    }
    let lock = if backend == Backend::Postgres {
        " for update"
    } else {
        ""
    };
    let on_hand: Option<i64> = sqlx::query_scalar(&format!(
        "select on_hand from stock_levels where pantry_id = $1 and product_id = $2{lock}"
    ))
    .bind(pantry)
    .bind(product)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(on_hand.unwrap_or(0))
}

/// A movement's ledger line, written when its batch is done.
#[derive(Debug, Clone)]
struct MovementRow {
    id: MovementId,
    organization_id: String,
    pantry_id: String,
    product_id: String,
    kind: MovementKind,
    quantity: i64,
    change: Change,
    actor: Actor,
    occurred_at: i64,
}

/// What a batch of commands appends once they have all run: ledger lines,
/// their lot lines and events, in one statement per table (and a few
/// hundred rows to a statement) instead of one per row. Nothing in a batch
/// reads these tables, so deferring them changes no answer.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    movements: Vec<MovementRow>,
    movement_lots: Vec<(MovementId, LotChange)>,
    events: Vec<PendingEvent>,
    /// The batch's net change per (organization, product), for
    /// `organization_stock`; sorted, so concurrent batches lock its rows
    /// in one order.
    organization_stock: std::collections::BTreeMap<(String, String), i64>,
}

/// Rows to a multi-row insert: well under SQLite's 32,766 parameters.
const ROWS_PER_INSERT: usize = 500;

impl Ledger {
    /// Appends everything, events last (see [`events::append`]).
    pub(super) async fn write(&self, tx: &mut Tx, backend: Backend) -> AppResult<()> {
        for chunk in self.movements.chunks(ROWS_PER_INSERT) {
            let mut sql = Sql::default();
            sql.push(
                "insert into movements (id, organization_id, pantry_id, product_id, kind, quantity, reason, source, donor, weight_g, \
                 counterpart_pantry_id, note, visit_id, actor_id, correlation_id, occurred_at) values ",
            );
            sql.rows(chunk, |r, m| {
                r.text(m.id.as_str())
                    .text(m.organization_id.as_str())
                    .text(m.pantry_id.as_str())
                    .text(m.product_id.as_str())
                    .text(m.kind.as_str())
                    .int(m.quantity)
                    .opt_text(m.change.reason.clone())
                    .opt_text(m.change.source.clone())
                    .opt_text(m.change.donor.clone())
                    .opt_int(m.change.weight_g)
                    .opt_text(m.change.counterpart.clone())
                    .opt_text(m.change.note.clone())
                    .opt_text(m.change.visit.clone())
                    .text(m.actor.user_id.as_str())
                    .text(m.actor.correlation_id.as_str())
                    .int(m.occurred_at);
            });
            sql.query().persistent(false).execute(&mut **tx).await?;
        }
        let totals: Vec<_> = self
            .organization_stock
            .iter()
            .filter(|(_, delta)| **delta != 0)
            .collect();
        for chunk in totals.chunks(ROWS_PER_INSERT) {
            let mut sql = Sql::default();
            sql.push(
                "insert into organization_stock (organization_id, product_id, on_hand) values ",
            );
            sql.rows(chunk, |r, ((organization, product), delta)| {
                r.text(organization.as_str())
                    .text(product.as_str())
                    .int(**delta);
            });
            sql.push(
                " on conflict (organization_id, product_id) do update \
                 set on_hand = organization_stock.on_hand + excluded.on_hand",
            );
            sql.query().persistent(false).execute(&mut **tx).await?;
        }
        for chunk in self.movement_lots.chunks(ROWS_PER_INSERT) {
            let mut sql = Sql::default();
            sql.push("insert into movement_lots (movement_id, lot_id, quantity) values ");
            sql.rows(chunk, |r, (movement, lot)| {
                r.text(movement.as_str())
                    .text(lot.lot_id.as_str())
                    .int(lot.quantity);
            });
            sql.query().persistent(false).execute(&mut **tx).await?;
        }
        if self.events.is_empty() {
            return Ok(());
        }
        let new: Vec<NewEvent<'_, Payload>> = self
            .events
            .iter()
            .map(|e| NewEvent {
                event_type: e.event_type,
                version: EVENT_VERSION,
                organization_id: &e.organization_id,
                pantry_id: Some(&e.pantry_id),
                payload: &e.payload,
                actor_id: Some(&e.actor_id),
                correlation_id: &e.correlation_id,
            })
            .collect();
        events::append_all(tx, backend, &new).await
    }
}

/// Adds to the stock row (creating it at need) and returns what is on
/// hand after. Takes the row's lock on PostgreSQL.
async fn add_stock(
    tx: &mut Tx,
    pantry: &PantryHeader,
    product: &Product,
    quantity: i64,
    now: i64,
) -> AppResult<i64> {
    Ok(sqlx::query_scalar(
        "insert into stock_levels (pantry_id, product_id, organization_id, on_hand, minimum, updated_at) \
         values ($1, $2, $3, $4, 0, $5) \
         on conflict (pantry_id, product_id) do update \
         set on_hand = stock_levels.on_hand + excluded.on_hand, updated_at = excluded.updated_at \
         returning on_hand",
    )
    .bind(pantry.id.as_str())
    .bind(product.id.as_str())
    .bind(pantry.organization_id.as_str())
    .bind(quantity)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?)
}

/// Takes `wanted` off the stock row if that much is there; `None` (and no
/// write) if not.
async fn take_stock(
    tx: &mut Tx,
    pantry: &PantryHeader,
    product: &Product,
    wanted: i64,
    now: i64,
) -> AppResult<Option<i64>> {
    Ok(sqlx::query_scalar(
        "update stock_levels set on_hand = on_hand - $1, updated_at = $2 \
         where pantry_id = $3 and product_id = $4 and on_hand >= $1 returning on_hand",
    )
    .bind(wanted)
    .bind(now)
    .bind(pantry.id.as_str())
    .bind(product.id.as_str())
    .fetch_optional(&mut **tx)
    .await?)
}

/// Adds to the lot of a best-before date (or of no date), creating it.
async fn add_to_lot(
    tx: &mut Tx,
    pantry: &PantryHeader,
    product: &Product,
    best_before: Option<&String>,
    quantity: i64,
    now: i64,
) -> AppResult<LotChange> {
    let existing: Option<String> = sqlx::query_scalar(
        "update lots set quantity = quantity + $1 \
         where pantry_id = $2 and product_id = $3 and coalesce(best_before, '') = $4 returning id",
    )
    .bind(quantity)
    .bind(pantry.id.as_str())
    .bind(product.id.as_str())
    .bind(best_before.cloned().unwrap_or_default())
    .fetch_optional(&mut **tx)
    .await?;
    let lot_id = match existing {
        Some(id) => id,
        None => {
            let id = LotId::new().0;
            sqlx::query(
                "insert into lots (id, pantry_id, product_id, best_before, quantity, received_at) values ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&id)
            .bind(pantry.id.as_str())
            .bind(product.id.as_str())
            .bind(best_before.cloned())
            .bind(quantity)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            id
        }
    };
    Ok(LotChange {
        lot_id,
        best_before: best_before.cloned(),
        quantity,
    })
}

/// The order lots are taken in: first expiry first, undated last.
const FIRST_EXPIRY_FIRST: &str =
    "order by case when best_before is null then 1 else 0 end, best_before, received_at, id";

/// Takes `wanted` from the lots, first expiry first. The stock row was
/// already lowered (and so locked), and lots always add up to it, so this
/// cannot come up short; if it does, the ledger and lots disagree and the
/// transaction must not commit.
async fn take_from_lots(
    tx: &mut Tx,
    pantry: &PantryHeader,
    product: &Product,
    wanted: i64,
) -> AppResult<Vec<LotChange>> {
    // Most takes fit in the first lot to expire: one statement.
    let first: Option<(String, Option<String>)> = sqlx::query_as(&format!(
        "update lots set quantity = quantity - $1 where quantity >= $1 and id = \
         (select id from lots where pantry_id = $2 and product_id = $3 and quantity > 0 {FIRST_EXPIRY_FIRST} limit 1) \
         returning id, best_before"
    ))
    .bind(wanted)
    .bind(pantry.id.as_str())
    .bind(product.id.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    if let Some((lot_id, best_before)) = first {
        return Ok(vec![LotChange {
            lot_id,
            best_before,
            quantity: -wanted,
        }]);
    }
    let rows = sqlx::query(&format!(
        "select id, best_before, quantity from lots where pantry_id = $1 and product_id = $2 and quantity > 0 {FIRST_EXPIRY_FIRST}"
    ))
    .bind(pantry.id.as_str())
    .bind(product.id.as_str())
    .fetch_all(&mut **tx)
    .await?;
    let mut lots = Vec::new();
    let mut left = wanted;
    for r in &rows {
        if left == 0 {
            break;
        }
        let take = left.min(r.try_get::<i64, _>("quantity")?);
        lots.push(LotChange {
            lot_id: r.try_get("id")?,
            best_before: r.try_get("best_before")?,
            quantity: -take,
        });
        left -= take;
    }
    if left > 0 {
        return Err(AppError::internal(&std::io::Error::other(format!(
            "lots of product {} at pantry {} hold {} less than its stock row",
            product.id, pantry.id, left
        ))));
    }
    for l in &lots {
        sqlx::query("update lots set quantity = quantity + $1 where id = $2")
            .bind(l.quantity)
            .bind(&l.lot_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(lots)
}

/// Takes `wanted` from one named lot, after checking (before any write)
/// that the pantry holds that much and the lot does too.
async fn take_from_named_lot(
    tx: &mut Tx,
    backend: Backend,
    pantry: &PantryHeader,
    product: &Product,
    lot: &LotId,
    wanted: i64,
    now: i64,
) -> AppResult<(i64, Vec<LotChange>)> {
    let on_hand = lock_stock(
        tx,
        backend,
        pantry.organization_id.as_str(),
        pantry.id.as_str(),
        product.id.as_str(),
        false,
    )
    .await?;
    if wanted > on_hand {
        return Err(not_enough(product, pantry, on_hand, wanted));
    }
    let row: Option<(Option<String>, i64)> = sqlx::query_as(
        "select best_before, quantity from lots where id = $1 and pantry_id = $2 and product_id = $3",
    )
    .bind(lot.as_str())
    .bind(pantry.id.as_str())
    .bind(product.id.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    let Some((best_before, in_lot)) = row else {
        return Err(AppError::invalid(
            "lot",
            "That lot is not part of this pantry's stock of the product.",
        ));
    };
    if in_lot < wanted {
        return Err(AppError::conflict(
            "quantity",
            format!(
                "That lot holds only {} of {}; you asked for {}.",
                product.unit.format(in_lot),
                product.name,
                product.unit.format(wanted)
            ),
        ));
    }
    sqlx::query("update lots set quantity = quantity - $1 where id = $2")
        .bind(wanted)
        .bind(lot.as_str())
        .execute(&mut **tx)
        .await?;
    let after = take_stock(tx, pantry, product, wanted, now)
        .await?
        .ok_or_else(|| {
            AppError::internal(&std::io::Error::other("stock row changed under its lock"))
        })?;
    Ok((
        after,
        vec![LotChange {
            lot_id: lot.0.clone(),
            best_before,
            quantity: -wanted,
        }],
    ))
}

/// Applies a change: the stock row first (which takes its lock on
/// PostgreSQL, and is where "not enough" is found), then the lots. The
/// ledger line and its event go into `ledger`. Returns the movement id,
/// the stock after it, and the lots it touched.
async fn apply(
    tx: &mut Tx,
    backend: Backend,
    pantry: &PantryHeader,
    product: &Product,
    change: &Change,
    actor: &Actor,
    ledger: &mut Ledger,
) -> AppResult<(MovementId, i64, Vec<LotChange>)> {
    let kind = change.kind.expect("a change has a kind");
    // Every refusal below comes before the first write, so a refused
    // change leaves its transaction as it found it (batches rely on that).
    let now = now_ms();
    let (after, lots) = if change.quantity > 0 {
        let after = add_stock(tx, pantry, product, change.quantity, now).await?;
        let lot = add_to_lot(
            tx,
            pantry,
            product,
            change.best_before.as_ref(),
            change.quantity,
            now,
        )
        .await?;
        (after, vec![lot])
    } else {
        let wanted = -change.quantity;
        match &change.from_lot {
            Some(lot) => {
                take_from_named_lot(tx, backend, pantry, product, lot, wanted, now).await?
            }
            None => match take_stock(tx, pantry, product, wanted, now).await? {
                Some(after) => (after, take_from_lots(tx, pantry, product, wanted).await?),
                None => {
                    let on_hand = lock_stock(
                        tx,
                        backend,
                        pantry.organization_id.as_str(),
                        pantry.id.as_str(),
                        product.id.as_str(),
                        false,
                    )
                    .await?;
                    return Err(not_enough(product, pantry, on_hand, wanted));
                }
            },
        }
    };
    let movement = MovementId::new();
    *ledger
        .organization_stock
        .entry((pantry.organization_id.0.clone(), product.id.0.clone()))
        .or_default() += change.quantity;
    ledger.movements.push(MovementRow {
        id: movement.clone(),
        organization_id: pantry.organization_id.0.clone(),
        pantry_id: pantry.id.0.clone(),
        product_id: product.id.0.clone(),
        kind,
        quantity: change.quantity,
        change: change.clone(),
        actor: actor.clone(),
        occurred_at: now,
    });
    for l in &lots {
        ledger.movement_lots.push((movement.clone(), l.clone()));
    }
    Ok((movement, after, lots))
}

fn not_enough(product: &Product, pantry: &PantryHeader, on_hand: i64, wanted: i64) -> AppError {
    let message = if on_hand == 0 {
        format!(
            "{} has no {} on hand, so {} cannot go out.",
            pantry.name,
            product.name,
            product.unit.format(wanted)
        )
    } else {
        format!(
            "Only {} of {} on hand at {}; you asked for {}.",
            product.unit.format(on_hand),
            product.name,
            pantry.name,
            product.unit.format(wanted)
        )
    };
    AppError::conflict("quantity", message)
}

/// An event's payload: a movement's, or one another module wrote through
/// an [`Attachment`].
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(super) enum Payload {
    Moved(StockMoved),
    Other(serde_json::Value),
}

/// An event a command produced, appended when its batch is done, so the
/// lock that orders events is held for as short a time as possible.
#[derive(Debug, Clone)]
pub(super) struct PendingEvent {
    event_type: &'static str,
    organization_id: String,
    pantry_id: String,
    payload: Payload,
    actor_id: String,
    correlation_id: String,
}

fn moved_event(
    pantry: &PantryHeader,
    product: &Product,
    change: &Change,
    actor: &Actor,
    (movement, on_hand, lots): &(MovementId, i64, Vec<LotChange>),
) -> PendingEvent {
    let kind = change.kind.expect("a change has a kind");
    PendingEvent {
        event_type: kind.event_type(),
        organization_id: pantry.organization_id.0.clone(),
        pantry_id: pantry.id.0.clone(),
        payload: Payload::Moved(StockMoved {
            movement_id: movement.0.clone(),
            product_id: product.id.0.clone(),
            kind,
            quantity: change.quantity,
            on_hand: *on_hand,
            lots: lots.clone(),
            reason: change.reason.clone(),
            source: change.source.clone(),
            donor: change.donor.clone(),
            weight_g: change.weight_g,
            counterpart_pantry_id: change.counterpart.clone(),
        }),
        actor_id: actor.user_id.clone(),
        correlation_id: actor.correlation_id.clone(),
    }
}

/// After a commit: this process's cache forgets the pantries at once, so
/// the person who recorded reads their own write; the dispatcher wakes to
/// tell every consumer (and, through them, every other process).
fn committed(state: &AppState, pantries: &[&str]) {
    for p in pantries {
        state.stock_cache.invalidate_pantry(p);
    }
    state.bus.committed();
}

/// Checks access and loads what a movement at `pantry` needs.
async fn movement_context(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    product: &ProductId,
) -> AppResult<(PantryHeader, Product)> {
    if !crate::ids::is_id(pantry.as_str()) {
        return Err(AppError::not_found("pantry"));
    }
    // One round trip for both: every movement starts here. The product
    // is joined leftwards so a missing one still finds the pantry (and
    // an access check comes before "no such product").
    let row = sqlx::query(&format!(
        "select p.id as pantry_id, p.name as pantry_name, p.campus_id, c.name as campus_name, \
         p.organization_id as pantry_organization_id, o.name as organization_name, \
         {} \
         from pantries p join campuses c on c.id = p.campus_id join organizations o on o.id = p.organization_id \
         left join products pr on pr.id = $2 and pr.organization_id = p.organization_id \
         where p.id = $1 and p.archived_at is null and c.archived_at is null and o.archived_at is null",
        catalog::product_columns("pr")
    ))
    .bind(pantry.as_str())
    .bind(product.as_str())
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(|| AppError::not_found("pantry"))?;
    let header = PantryHeader {
        id: PantryId(row.try_get("pantry_id")?),
        name: row.try_get("pantry_name")?,
        campus_id: crate::ids::CampusId(row.try_get("campus_id")?),
        campus_name: row.try_get("campus_name")?,
        organization_id: OrganizationId(row.try_get("pantry_organization_id")?),
        organization_name: row.try_get("organization_name")?,
    };
    let place = Place {
        organization_id: header.organization_id.0.clone(),
        campus_id: Some(header.campus_id.0.clone()),
        pantry_id: Some(header.id.0.clone()),
    };
    caller.require(&place, Role::Staff, "pantry")?;
    if row.try_get::<Option<String>, _>("id")?.is_none() {
        return Err(AppError::not_found("product"));
    }
    let product = catalog::product_from(&row, Vec::new())?;
    catalog::refuse_archived(&product)?;
    Ok((header, product))
}

/// Rows another module writes in the transaction of a
/// [`Command::Group`] (a visit and its lines). `check` runs before any
/// stock is touched and must only read (and lock): a refusal there writes
/// nothing. `write` runs after every line is posted and returns the
/// module's own events (type and payload).
pub trait Attachment: Send + Sync + std::fmt::Debug + 'static {
    fn check<'a>(&'a self, tx: &'a mut Tx, backend: Backend) -> BoxFuture<'a, AppResult<()>>;
    fn write<'a>(
        &'a self,
        tx: &'a mut Tx,
        backend: Backend,
        posted: &'a [Posted],
    ) -> BoxFuture<'a, AppResult<Vec<(&'static str, serde_json::Value)>>>;
}

/// What one line of a group posted.
#[derive(Debug, Clone)]
pub struct Posted {
    pub product_id: ProductId,
    pub movement_id: MovementId,
    /// Signed change to the pantry's stock.
    pub quantity: i64,
    pub on_hand: i64,
    pub lots: Vec<LotChange>,
}

/// What the writer did for a command.
#[derive(Debug, Clone)]
pub(super) enum Written {
    One(MovementReceipt),
    Group(Vec<Posted>),
}

/// A movement ready to write: inputs parsed, access checked.
#[derive(Debug, Clone)]
pub(super) enum Command {
    Change {
        pantry: PantryHeader,
        product: Product,
        change: Change,
    },
    Transfer {
        from: PantryHeader,
        to: PantryHeader,
        product: Product,
        quantity: i64,
        note: Option<String>,
    },
    /// Changes at one pantry that stand or fall together, with the rows
    /// of another module (a visit) in the same transaction.
    Group {
        pantry: PantryHeader,
        lines: Vec<(Product, Change)>,
        attachment: std::sync::Arc<dyn Attachment>,
    },
}

impl Command {
    /// The pantry whose writer shard takes the command (for a transfer,
    /// the one it takes from). One pantry's rows stay in one shard, so a
    /// group's row locks never wait on another shard of this process.
    pub(super) fn shard_key(&self) -> &str {
        match self {
            Command::Change { pantry, .. } | Command::Group { pantry, .. } => pantry.id.as_str(),
            Command::Transfer { from, .. } => from.id.as_str(),
        }
    }

    /// The pantries whose stock the command changes.
    pub(super) fn pantries(&self) -> Vec<String> {
        match self {
            Command::Change { pantry, .. } => vec![pantry.id.0.clone()],
            Command::Transfer { from, to, .. } => vec![from.id.0.clone(), to.id.0.clone()],
            Command::Group { pantry, .. } => vec![pantry.id.0.clone()],
        }
    }
}

/// Writes a command inside `tx`: ledger, lots, projection, events. A
/// refusal (`Invalid`, `Conflict`) comes before any write, so the caller
/// may carry on with the same transaction.
pub(super) async fn execute(
    tx: &mut Tx,
    backend: Backend,
    command: &Command,
    actor: &Actor,
    ledger: &mut Ledger,
) -> AppResult<Written> {
    match command {
        Command::Group {
            pantry,
            lines,
            attachment,
        } => execute_group(
            tx,
            backend,
            pantry,
            lines,
            attachment.as_ref(),
            actor,
            ledger,
        )
        .await
        .map(Written::Group),
        Command::Change {
            pantry,
            product,
            change,
        } => {
            let done = apply(tx, backend, pantry, product, change, actor, ledger).await?;
            ledger
                .events
                .push(moved_event(pantry, product, change, actor, &done));
            Ok(Written::One(MovementReceipt {
                movement_id: done.0,
                product_name: product.name.clone(),
                quantity_text: product.unit.format(change.quantity.abs()),
                on_hand: done.1,
                on_hand_text: product.unit.format(done.1),
            }))
        }
        Command::Transfer {
            from,
            to,
            product,
            quantity,
            note,
        } => {
            // Lock both stock rows in one global order, so two opposite
            // transfers from different processes cannot deadlock.
            let mut ids = [from.id.as_str(), to.id.as_str()];
            ids.sort();
            for p in ids {
                lock_stock(
                    tx,
                    backend,
                    from.organization_id.as_str(),
                    p,
                    product.id.as_str(),
                    false,
                )
                .await?;
            }
            let out = Change {
                kind: Some(MovementKind::Transferred),
                quantity: -quantity,
                counterpart: Some(to.id.0.clone()),
                note: note.clone(),
                ..Change::default()
            };
            let out_done = apply(tx, backend, from, product, &out, actor, ledger).await?;
            // Each lot taken arrives with its own best-before date.
            let mut in_done = Vec::new();
            for lot in &out_done.2 {
                let part = Change {
                    kind: Some(MovementKind::Transferred),
                    quantity: -lot.quantity,
                    best_before: lot.best_before.clone(),
                    counterpart: Some(from.id.0.clone()),
                    note: note.clone(),
                    ..Change::default()
                };
                let done = apply(tx, backend, to, product, &part, actor, ledger).await?;
                in_done.push((part, done));
            }
            ledger
                .events
                .push(moved_event(from, product, &out, actor, &out_done));
            for (part, done) in &in_done {
                ledger
                    .events
                    .push(moved_event(to, product, part, actor, done));
            }
            Ok(Written::One(MovementReceipt {
                movement_id: out_done.0,
                product_name: product.name.clone(),
                quantity_text: product.unit.format(*quantity),
                on_hand: out_done.1,
                on_hand_text: product.unit.format(out_done.1),
            }))
        }
    }
}

/// A group: the attachment's check, then every take checked against the
/// stock (in product order, so two groups lock rows in one order) before
/// the first write; then the lines; then the attachment's rows.
async fn execute_group(
    tx: &mut Tx,
    backend: Backend,
    pantry: &PantryHeader,
    lines: &[(Product, Change)],
    attachment: &dyn Attachment,
    actor: &Actor,
    ledger: &mut Ledger,
) -> AppResult<Vec<Posted>> {
    attachment.check(tx, backend).await?;
    let mut takes: Vec<&(Product, Change)> = lines.iter().filter(|(_, c)| c.quantity < 0).collect();
    takes.sort_by(|a, b| a.0.id.as_str().cmp(b.0.id.as_str()));
    let mut short = Vec::new();
    for (product, change) in takes {
        let on_hand = lock_stock(
            tx,
            backend,
            pantry.organization_id.as_str(),
            pantry.id.as_str(),
            product.id.as_str(),
            false,
        )
        .await?;
        if -change.quantity > on_hand {
            short.push(not_enough(product, pantry, on_hand, -change.quantity).to_string());
        }
    }
    if !short.is_empty() {
        return Err(AppError::conflict("lines", short.join(" ")));
    }
    let mut posted = Vec::with_capacity(lines.len());
    for (product, change) in lines {
        let done = apply(tx, backend, pantry, product, change, actor, ledger).await?;
        ledger
            .events
            .push(moved_event(pantry, product, change, actor, &done));
        posted.push(Posted {
            product_id: product.id.clone(),
            movement_id: done.0,
            quantity: change.quantity,
            on_hand: done.1,
            lots: done.2,
        });
    }
    for (event_type, payload) in attachment.write(tx, backend, &posted).await? {
        ledger.events.push(PendingEvent {
            event_type,
            organization_id: pantry.organization_id.0.clone(),
            pantry_id: pantry.id.0.clone(),
            payload: Payload::Other(payload),
            actor_id: actor.user_id.clone(),
            correlation_id: actor.correlation_id.clone(),
        });
    }
    Ok(posted)
}

/// Posts a group of changes at one pantry through the movement writer:
/// all of them, with the attachment's rows, or none.
pub async fn post_group(
    state: &AppState,
    pantry: &PantryHeader,
    lines: Vec<(Product, Change)>,
    attachment: std::sync::Arc<dyn Attachment>,
    actor: &Actor,
) -> AppResult<Vec<Posted>> {
    match state
        .writer
        .submit(
            Command::Group {
                pantry: pantry.clone(),
                lines,
                attachment,
            },
            actor.clone(),
        )
        .await?
    {
        Written::Group(posted) => Ok(posted),
        Written::One(_) => Err(AppError::internal(&std::io::Error::other(
            "the writer answered a group with one movement",
        ))),
    }
}

/// What a visit's movements took, net of what came back, per product and
/// lot date (positive: still out).
pub async fn taken_by_visit(
    db: &Db,
    visit: &str,
) -> AppResult<Vec<(ProductId, Option<String>, i64)>> {
    let rows: Vec<(String, Option<String>, i64)> = sqlx::query_as(
        "select m.product_id, l.best_before, cast(-sum(ml.quantity) as bigint) as taken \
         from movements m join movement_lots ml on ml.movement_id = m.id join lots l on l.id = ml.lot_id \
         where m.visit_id = $1 group by m.product_id, l.best_before",
    )
    .bind(visit)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .filter(|r| r.2 != 0)
        .map(|(p, b, q)| (ProductId(p), b, q))
        .collect())
}

/// Hands one change to the movement writer and waits for its outcome.
async fn record(
    state: &AppState,
    header: &PantryHeader,
    product: &Product,
    change: Change,
    actor: &Actor,
) -> AppResult<MovementReceipt> {
    state
        .writer
        .submit(
            Command::Change {
                pantry: header.clone(),
                product: product.clone(),
                change,
            },
            actor.clone(),
        )
        .await
        .and_then(one)
}

/// The receipt of a single movement.
fn one(written: Written) -> AppResult<MovementReceipt> {
    match written {
        Written::One(receipt) => Ok(receipt),
        Written::Group(_) => Err(AppError::internal(&std::io::Error::other(
            "the writer answered one movement with a group",
        ))),
    }
}

/// The form fields of a movement, as typed.
#[derive(Debug, Clone, Default)]
pub struct MovementFields {
    pub quantity: String,
    pub best_before: String,
    pub source: String,
    pub donor: String,
    pub weight_g: String,
    pub reason: String,
    pub direction: String,
    pub lot: String,
    pub to: String,
    pub note: String,
}

pub async fn receive(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    product: &ProductId,
    f: &MovementFields,
) -> AppResult<MovementReceipt> {
    let (header, product) = movement_context(state, caller, pantry, product).await?;
    let quantity = positive(product.unit, &f.quantity)?;
    let mut best_before =
        BestBefore::parse_optional(&f.best_before, "best_before")?.map(|d| d.as_str().to_string());
    if best_before.is_none() && product.perishable {
        match product.shelf_life_days {
            Some(days) => best_before = Some(days_from_today(days)),
            None => {
                return Err(AppError::invalid(
                    "best_before",
                    format!(
                        "{} is perishable: enter its best-before date.",
                        product.name
                    ),
                ))
            }
        }
    }
    let source = ReceiveSource::parse(&f.source, "source")?;
    let weight_g = crate::catalog::model::parse_optional_count(
        &f.weight_g,
        "weight_g",
        100_000_000,
        "the weight in grams",
    )?
    .or_else(|| {
        product
            .weight_per_unit_g()
            .map(|w| w * quantity / product.unit.scale())
    });
    let change = Change {
        kind: Some(MovementKind::Received),
        quantity,
        best_before,
        source: Some(source.as_str().into()),
        donor: parse_text(&f.donor, "donor", 120)?,
        weight_g,
        note: parse_text(&f.note, "note", 500)?,
        ..Change::default()
    };
    record(state, &header, &product, change, &Actor::of(caller)).await
}

pub async fn distribute(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    product: &ProductId,
    f: &MovementFields,
) -> AppResult<MovementReceipt> {
    let (header, product) = movement_context(state, caller, pantry, product).await?;
    let quantity = positive(product.unit, &f.quantity)?;
    let change = Change {
        kind: Some(MovementKind::Distributed),
        quantity: -quantity,
        note: parse_text(&f.note, "note", 500)?,
        ..Change::default()
    };
    record(state, &header, &product, change, &Actor::of(caller)).await
}

pub async fn adjust(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    product: &ProductId,
    f: &MovementFields,
) -> AppResult<MovementReceipt> {
    let (header, product) = movement_context(state, caller, pantry, product).await?;
    let quantity = positive(product.unit, &f.quantity)?;
    let sign = match f.direction.as_str() {
        "add" => 1,
        "remove" => -1,
        _ => {
            return Err(AppError::invalid(
                "direction",
                "Choose whether to add or remove stock.",
            ))
        }
    };
    let reason = parse_text(&f.reason, "reason", 200)?.ok_or_else(|| {
        AppError::invalid(
            "reason",
            "Say why the stock is adjusted (for example, “stock count”).",
        )
    })?;
    let change = Change {
        kind: Some(MovementKind::Adjusted),
        quantity: sign * quantity,
        best_before: if sign > 0 {
            BestBefore::parse_optional(&f.best_before, "best_before")?
                .map(|d| d.as_str().to_string())
        } else {
            None
        },
        reason: Some(reason),
        note: parse_text(&f.note, "note", 500)?,
        ..Change::default()
    };
    record(state, &header, &product, change, &Actor::of(caller)).await
}

pub async fn discard(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    product: &ProductId,
    f: &MovementFields,
) -> AppResult<MovementReceipt> {
    let (header, product) = movement_context(state, caller, pantry, product).await?;
    let quantity = positive(product.unit, &f.quantity)?;
    let reason = DiscardReason::parse(&f.reason, "reason")?;
    let from_lot = if f.lot.trim().is_empty() {
        None
    } else {
        Some(
            f.lot
                .trim()
                .parse::<LotId>()
                .map_err(|_| AppError::invalid("lot", "Choose a lot from the list."))?,
        )
    };
    let change = Change {
        kind: Some(MovementKind::Discarded),
        quantity: -quantity,
        from_lot,
        reason: Some(reason.as_str().into()),
        note: parse_text(&f.note, "note", 500)?,
        ..Change::default()
    };
    record(state, &header, &product, change, &Actor::of(caller)).await
}

/// Moves stock from one pantry to another of the same organization: both
/// sides in one transaction, lots keep their best-before dates.
pub async fn transfer(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    product: &ProductId,
    f: &MovementFields,
) -> AppResult<MovementReceipt> {
    let (from, product) = movement_context(state, caller, pantry, product).await?;
    let to_id: PantryId =
        f.to.trim()
            .parse()
            .map_err(|_| AppError::invalid("to", "Choose the pantry to send it to."))?;
    if to_id == from.id {
        return Err(AppError::invalid(
            "to",
            "Choose a different pantry to send it to.",
        ));
    }
    let (to, to_place) = pantry_header(&state.db, &to_id)
        .await
        .map_err(|_| AppError::invalid("to", "That pantry does not exist or is archived."))?;
    if to.organization_id != from.organization_id {
        return Err(AppError::invalid(
            "to",
            "Stock moves only between pantries of one organization.",
        ));
    }
    caller
        .require(&to_place, Role::Staff, "pantry")
        .map_err(|_| AppError::invalid("to", format!("You cannot record stock at {}.", to.name)))?;
    let quantity = positive(product.unit, &f.quantity)?;
    let note = parse_text(&f.note, "note", 500)?;
    state
        .writer
        .submit(
            Command::Transfer {
                from,
                to,
                product,
                quantity,
                note,
            },
            Actor::of(caller),
        )
        .await
        .and_then(one)
}

/// Sets the level below which a product counts as low stock at a pantry.
pub async fn set_minimum(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    product: &ProductId,
    minimum: &str,
) -> AppResult<()> {
    let (header, place) = pantry_header(&state.db, pantry).await?;
    caller.require(&place, Role::Manager, "pantry")?;
    let product = catalog::active_product(&state.db, &header.organization_id, product).await?;
    let minimum = if minimum.trim().is_empty() {
        0
    } else {
        product.unit.parse_quantity(minimum, "minimum")?
    };
    let backend = state.db.backend();
    let actor = Actor::of(caller);
    let mut tx = state.db.begin().await?;
    lock_stock(
        &mut tx,
        backend,
        header.organization_id.as_str(),
        header.id.as_str(),
        product.id.as_str(),
        true,
    )
    .await?;
    sqlx::query("update stock_levels set minimum = $1, updated_at = $2 where pantry_id = $3 and product_id = $4")
        .bind(minimum)
        .bind(now_ms())
        .bind(header.id.as_str())
        .bind(product.id.as_str())
        .execute(&mut *tx)
        .await?;
    events::append(
        &mut tx,
        backend,
        &NewEvent {
            event_type: "StockMinimumSet",
            version: EVENT_VERSION,
            organization_id: header.organization_id.as_str(),
            pantry_id: Some(header.id.as_str()),
            payload: &MinimumSet {
                product_id: product.id.0.clone(),
                minimum,
            },
            actor_id: Some(&actor.user_id),
            correlation_id: &actor.correlation_id,
        },
    )
    .await?;
    tx.commit().await?;
    committed(state, &[header.id.as_str()]);
    Ok(())
}

pub(crate) fn positive(unit: Unit, input: &str) -> AppResult<i64> {
    let q = unit.parse_quantity(input, "quantity")?;
    if q == 0 {
        return Err(AppError::invalid(
            "quantity",
            "Enter a quantity above zero.",
        ));
    }
    Ok(q)
}

// ------------------------------------------------------------ the read path

/// One page of a pantry's inventory.
pub async fn stock_page(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    query: &StockQuery,
) -> AppResult<StockPage> {
    let (header, place) = pantry_header(&state.db, pantry).await?;
    let role = caller.require(&place, Role::Viewer, "pantry")?;
    let as_of = events::head(state.db.pool()).await?;
    let key = format!("stock:{}:{:?}:{}", header.id, query, iso(today()));
    let page = state
        .stock_cache
        .get_or_load(
            key,
            header.organization_id.as_str(),
            &[header.id.0.clone()],
            load_stock_page(&state.db, header.clone(), query.clone()),
        )
        .await?;
    Ok(StockPage {
        can_move: role >= Role::Staff,
        as_of,
        ..page
    })
}

async fn load_stock_page(db: &Db, header: PantryHeader, query: StockQuery) -> AppResult<StockPage> {
    let today = iso(today());
    let horizon = days_from_today(EXPIRING_DAYS);
    let pantry = header.id.as_str();
    let mut sql = Sql::default();
    sql.push("select * from (select p.id, p.name, p.name_key, p.category, p.category_key, p.unit, \
              coalesce(s.on_hand, 0) as on_hand, coalesce(s.minimum, 0) as minimum, \
              (select min(l.best_before) from lots l where l.pantry_id = ")
        .text(pantry)
        .push(" and l.product_id = p.id and l.quantity > 0) as next_best_before, \
              (select cast(coalesce(sum(l.quantity), 0) as bigint) from lots l where l.pantry_id = ")
        .text(pantry)
        .push(" and l.product_id = p.id and l.quantity > 0 and l.best_before >= ")
        .text(today.clone())
        .push(" and l.best_before <= ")
        .text(horizon)
        .push(") as expiring, (select cast(coalesce(sum(l.quantity), 0) as bigint) from lots l where l.pantry_id = ")
        .text(pantry)
        .push(" and l.product_id = p.id and l.quantity > 0 and l.best_before < ")
        .text(today)
        .push(") as expired from products p left join stock_levels s on s.product_id = p.id and s.pantry_id = ")
        .text(pantry)
        .push(" where p.organization_id = ")
        .text(header.organization_id.as_str())
        .push(" and p.archived_at is null");
    let q = query.q.trim();
    if !q.is_empty() {
        sql.push(" and (p.name_key like ")
            .text(contains_pattern(q))
            .push(" escape '\\'");
        if let Ok(gtin) = crate::catalog::model::Gtin::parse(q, "q") {
            sql.push(
                " or p.id in (select product_id from product_barcodes where organization_id = ",
            )
            .text(header.organization_id.as_str())
            .push(" and gtin = ")
            .text(gtin.as_str())
            .push(")");
        }
        sql.push(")");
    }
    if !query.category.trim().is_empty() {
        sql.push(" and p.category_key = ")
            .text(query.category.trim().to_lowercase());
    }
    // The filters again inside, where indexes can serve them, so the
    // per-product subqueries run only for rows that can match.
    match query.filter {
        StockFilter::All => {}
        StockFilter::InStock => {
            sql.push(" and s.on_hand > 0");
        }
        StockFilter::Low => {
            sql.push(" and s.minimum > 0 and s.on_hand < s.minimum");
        }
        StockFilter::Expiring => {
            sql.push(" and exists (select 1 from lots l where l.pantry_id = ")
                .text(pantry)
                .push(" and l.product_id = p.id and l.quantity > 0 and l.best_before <= ")
                .text(days_from_today(EXPIRING_DAYS))
                .push(")");
        }
    }
    sql.push(") t where 1 = 1");
    match query.filter {
        StockFilter::All => {}
        StockFilter::InStock => {
            sql.push(" and on_hand > 0");
        }
        StockFilter::Low => {
            sql.push(" and minimum > 0 and on_hand < minimum");
        }
        StockFilter::Expiring => {
            sql.push(" and (expiring > 0 or expired > 0)");
        }
    }
    let count_sql = sql.wrapped("select count(*) from (", ") c");
    sql.push(match query.sort {
        StockSort::Name => " order by name_key, id",
        StockSort::Category => " order by category_key, name_key, id",
        StockSort::OnHand => " order by on_hand, name_key, id",
        StockSort::BestBefore => " order by case when next_best_before is null then 1 else 0 end, next_best_before, name_key, id",
    });
    let page = query.page.max(1);
    sql.push(" limit ")
        .int(STOCK_PAGE)
        .push(" offset ")
        .int((page - 1) * STOCK_PAGE);
    let total: i64 = count_sql.query().fetch_one(db.pool()).await?.try_get(0)?;
    let rows = sql
        .query()
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| -> AppResult<StockRow> {
            let on_hand: i64 = r.try_get("on_hand")?;
            let minimum: i64 = r.try_get("minimum")?;
            Ok(StockRow {
                product_id: ProductId(r.try_get("id")?),
                name: r.try_get("name")?,
                category: r.try_get("category")?,
                unit: Unit::parse(&r.try_get::<String, _>("unit")?, "unit")?,
                on_hand,
                minimum,
                low: minimum > 0 && on_hand < minimum,
                next_best_before: r.try_get("next_best_before")?,
                expiring: r.try_get("expiring")?,
                expired: r.try_get("expired")?,
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    let categories = catalog::categories(db, &header.organization_id).await?;
    Ok(StockPage {
        pantry: header,
        rows,
        total,
        page,
        per_page: STOCK_PAGE,
        categories,
        expiring_days: EXPIRING_DAYS,
        can_move: false,
        as_of: 0,
    })
}

/// A product at a pantry: stock, lots, and a page of its history.
pub async fn product_stock(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    product: &ProductId,
    page: i64,
) -> AppResult<ProductStockView> {
    let (header, place) = pantry_header(&state.db, pantry).await?;
    let role = caller.require(&place, Role::Viewer, "pantry")?;
    let product = catalog::product_in_org(&state.db, &header.organization_id, product).await?;
    let db = &state.db;
    let level = sqlx::query(
        "select on_hand, minimum from stock_levels where pantry_id = $1 and product_id = $2",
    )
    .bind(header.id.as_str())
    .bind(product.id.as_str())
    .fetch_optional(db.pool())
    .await?;
    let (on_hand, minimum) = match level {
        Some(r) => (r.try_get("on_hand")?, r.try_get("minimum")?),
        None => (0, 0),
    };
    let today = iso(today());
    let horizon = days_from_today(EXPIRING_DAYS);
    let lots = sqlx::query(
        "select id, best_before, quantity from lots where pantry_id = $1 and product_id = $2 and quantity > 0 \
         order by case when best_before is null then 1 else 0 end, best_before, received_at, id",
    )
    .bind(header.id.as_str())
    .bind(product.id.as_str())
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| -> AppResult<LotView> {
        let best_before: Option<String> = r.try_get("best_before")?;
        Ok(LotView {
            id: LotId(r.try_get("id")?),
            expired: best_before.as_deref().is_some_and(|d| d < today.as_str()),
            expiring: best_before
                .as_deref()
                .is_some_and(|d| d >= today.as_str() && d <= horizon.as_str()),
            best_before,
            quantity: r.try_get("quantity")?,
        })
    })
    .collect::<AppResult<Vec<_>>>()?;
    let page = page.max(1);
    let movements_total: i64 = sqlx::query_scalar(
        "select count(*) from movements where pantry_id = $1 and product_id = $2",
    )
    .bind(header.id.as_str())
    .bind(product.id.as_str())
    .fetch_one(db.pool())
    .await?;
    let movements = sqlx::query(
        "select m.id, m.kind, m.quantity, m.occurred_at, m.reason, m.source, m.donor, m.weight_g, m.note, \
         u.display_name, cp.name as counterpart from movements m join users u on u.id = m.actor_id \
         left join pantries cp on cp.id = m.counterpart_pantry_id \
         where m.pantry_id = $1 and m.product_id = $2 order by m.occurred_at desc, m.id desc limit $3 offset $4",
    )
    .bind(header.id.as_str())
    .bind(product.id.as_str())
    .bind(HISTORY_PAGE)
    .bind((page - 1) * HISTORY_PAGE)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| -> AppResult<MovementView> {
        let kind: String = r.try_get("kind")?;
        Ok(MovementView {
            id: MovementId(r.try_get("id")?),
            kind: MovementKind::parse(&kind).ok_or_else(|| AppError::internal(&std::io::Error::other(format!("unknown movement kind {kind}"))))?,
            quantity: r.try_get("quantity")?,
            occurred_at: db::format_time(r.try_get("occurred_at")?),
            actor: r.try_get("display_name")?,
            reason: r.try_get("reason")?,
            source: r.try_get("source")?,
            donor: r.try_get("donor")?,
            weight_g: r.try_get("weight_g")?,
            counterpart: r.try_get("counterpart")?,
            note: r.try_get("note")?,
        })
    })
    .collect::<AppResult<Vec<_>>>()?;
    let tree = crate::org::service::organization_tree(db, &header.organization_id).await?;
    let transfer_to = tree
        .pantries
        .iter()
        .filter(|p| p.id != header.id)
        .filter(|p| {
            caller.role_at(&Place {
                organization_id: p.organization_id.0.clone(),
                campus_id: Some(p.campus_id.0.clone()),
                pantry_id: Some(p.id.0.clone()),
            }) >= Some(Role::Staff)
        })
        .map(|p| {
            let campus = tree
                .campuses
                .iter()
                .find(|c| c.id == p.campus_id)
                .map(|c| c.name.as_str())
                .unwrap_or("");
            (p.id.clone(), format!("{} · {}", campus, p.name))
        })
        .collect();
    Ok(ProductStockView {
        pantry: header,
        product,
        on_hand,
        minimum,
        lots,
        movements,
        movements_total,
        page,
        per_page: HISTORY_PAGE,
        transfer_to,
        can_move: role >= Role::Staff,
        can_manage: role >= Role::Manager,
    })
}

/// The place an overview is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Pantry(PantryId),
    Campus(crate::ids::CampusId),
    Organization(OrganizationId),
}

impl Scope {
    pub fn parse(s: &str) -> AppResult<Self> {
        let (kind, id) = s.split_once(':').ok_or_else(|| {
            AppError::invalid("scope", "Choose a pantry, campus or organization.")
        })?;
        match kind {
            "pantry" => Ok(Self::Pantry(id.parse()?)),
            "campus" => Ok(Self::Campus(id.parse()?)),
            "organization" => Ok(Self::Organization(id.parse()?)),
            _ => Err(AppError::invalid(
                "scope",
                "Choose a pantry, campus or organization.",
            )),
        }
    }
}

/// The SQL condition selecting the scope's stock rows (alias `s`), with the
/// pantries it covers and its label.
struct ScopeSql {
    organization: String,
    label: String,
    pantries: Vec<String>,
    /// Selects the scope's stock rows (alias `s`); `$1` is `id`.
    condition: &'static str,
    /// Selects the scope's lots (alias `l`).
    lot_condition: &'static str,
    /// The scope is a whole organization with no stock in archived
    /// places, so `organization_stock` holds its totals per product.
    organization_totals: bool,
    id: String,
}

async fn resolve_scope(state: &AppState, caller: &Caller, scope: &Scope) -> AppResult<ScopeSql> {
    let db = &state.db;
    match scope {
        Scope::Pantry(id) => {
            let (h, place) = pantry_header(db, id).await?;
            caller.require(&place, Role::Viewer, "pantry")?;
            Ok(ScopeSql {
                organization: h.organization_id.0.clone(),
                label: h.name.clone(),
                pantries: vec![h.id.0.clone()],
                condition: "s.pantry_id = $1",
                lot_condition: "l.pantry_id = $1",
                organization_totals: false,
                id: h.id.0,
            })
        }
        Scope::Campus(id) => {
            let (c, place) = crate::org::service::campus_with_place(db, id.as_str()).await?;
            caller.require(&place, Role::Viewer, "campus")?;
            let tree = crate::org::service::organization_tree(db, &c.organization_id).await?;
            Ok(ScopeSql {
                organization: c.organization_id.0.clone(),
                label: c.name.clone(),
                pantries: tree.pantries.iter().filter(|p| p.campus_id == c.id).map(|p| p.id.0.clone()).collect(),
                condition: "s.pantry_id in (select id from pantries where campus_id = $1 and archived_at is null)",
                lot_condition: "l.pantry_id in (select id from pantries where campus_id = $1 and archived_at is null)",
                organization_totals: false,
                id: c.id.0,
            })
        }
        Scope::Organization(id) => {
            let (o, place) = crate::org::service::organization_with_place(db, id.as_str()).await?;
            caller.require(&place, Role::Viewer, "organization")?;
            let tree = crate::org::service::organization_tree(db, &o.id).await?;
            // Usually no archived pantry holds stock; then the whole
            // organization's rows are the scope and its index serves them
            // without a per-row check.
            let archived_stock: i64 = sqlx::query_scalar(
                "select count(*) from pantries p join campuses c on c.id = p.campus_id \
                 where p.organization_id = $1 and (p.archived_at is not null or c.archived_at is not null) \
                 and exists (select 1 from stock_levels s where s.pantry_id = p.id and s.on_hand > 0)",
            )
            .bind(o.id.as_str())
            .fetch_one(db.pool())
            .await?;
            Ok(ScopeSql {
                organization: o.id.0.clone(),
                label: o.name.clone(),
                pantries: tree.pantries.iter().map(|p| p.id.0.clone()).collect(),
                condition: if archived_stock == 0 {
                    "s.organization_id = $1"
                } else {
                    "s.organization_id = $1 and s.pantry_id not in (select p.id from pantries p join campuses c on c.id = p.campus_id \
                     where p.organization_id = $1 and (p.archived_at is not null or c.archived_at is not null))"
                },
                lot_condition: "l.pantry_id in (select p.id from pantries p join campuses c on c.id = p.campus_id \
                                where p.organization_id = $1 and p.archived_at is null and c.archived_at is null)",
                organization_totals: archived_stock == 0,
                id: o.id.0,
            })
        }
    }
}

/// Units and weight by category, low stock and expiring lots for a pantry,
/// a campus or a whole organization. Cached until a movement in it lands.
pub async fn overview(
    state: &AppState,
    caller: &Caller,
    scope: &Scope,
    days: i64,
) -> AppResult<StockOverview> {
    let days = match days {
        0 => EXPIRING_DAYS,
        1..=365 => days,
        _ => {
            return Err(AppError::invalid(
                "days",
                "Look ahead between 1 and 365 days.",
            ))
        }
    };
    let s = resolve_scope(state, caller, scope).await?;
    // Expiry depends on the date, so answers are per day as well.
    let key = format!("overview:{scope:?}:{days}:{}", iso(today()));
    let pantries = s.pantries.clone();
    let organization = s.organization.clone();
    state
        .stock_cache
        .get_or_load(
            key,
            &organization,
            &pantries,
            load_overview(&state.db, s, days),
        )
        .await
}

pub(crate) const WEIGHT_PER_UNIT: &str =
    "coalesce(p.unit_weight_g, case p.unit when 'kg' then 1000 when 'l' then 1000 when 'lb' then 454 end)";
pub(crate) const UNIT_SCALE: &str =
    "(case p.unit when 'kg' then 1000 when 'l' then 1000 when 'lb' then 16 else 1 end)";

async fn load_overview(db: &Db, s: ScopeSql, days: i64) -> AppResult<StockOverview> {
    let pool = db.pool();
    // Sum per product first (an index scan), then join the catalog once
    // per product rather than once per stock row. A whole organization
    // has those sums ready in `organization_stock`.
    let per_product = if s.organization_totals {
        "select product_id, on_hand from organization_stock where organization_id = $1 and on_hand > 0".to_string()
    } else {
        format!(
            "select s.product_id, sum(s.on_hand) as on_hand from stock_levels s \
             where {} and s.on_hand > 0 group by s.product_id",
            s.condition
        )
    };
    let categories_sql = format!(
        "select min(p.category) as category, count(*) as products, \
         cast(sum(case when p.unit in ('each', 'pack') then t.on_hand else 0 end) as bigint) as units, \
         cast(sum(case when {WEIGHT_PER_UNIT} is null then 0 else t.on_hand * {WEIGHT_PER_UNIT} / {UNIT_SCALE} end) as bigint) as weight_g, \
         count(case when {WEIGHT_PER_UNIT} is null then 1 end) as unweighed \
         from ({per_product}) t \
         join products p on p.id = t.product_id \
         where p.archived_at is null group by p.category_key order by p.category_key"
    );
    let low_from = format!(
        "from stock_levels s join products p on p.id = s.product_id \
         where {} and s.minimum > 0 and s.on_hand < s.minimum and p.archived_at is null",
        s.condition
    );
    let low_count_sql = format!("select count(*) {low_from}");
    // Most urgent first: the smallest share of the minimum on hand.
    let low_sql = format!(
        "select s.pantry_id, pa.name as pantry_name, p.id as product_id, p.name as product_name, p.unit, s.on_hand, s.minimum \
         from stock_levels s join products p on p.id = s.product_id join pantries pa on pa.id = s.pantry_id \
         where {} and s.minimum > 0 and s.on_hand < s.minimum and p.archived_at is null \
         order by s.on_hand * 1.0 / s.minimum, pa.name_key, p.name_key limit 50",
        s.condition
    );
    let horizon = days_from_today(days);
    // Lots with stock belong to active products (archiving needs zero stock).
    let expiring_from = format!(
        "from lots l where {} and l.quantity > 0 and l.best_before is not null and l.best_before <= $2",
        s.lot_condition
    );
    let expiring_count_sql = format!("select count(*) {expiring_from}");
    // In best-before order, straight from the index: the first 50 suffice.
    let expiring_sql = format!(
        "select e.pantry_id, pa.name as pantry_name, p.id as product_id, p.name as product_name, p.unit, e.best_before, e.quantity \
         from (select l.pantry_id, l.product_id, l.best_before, l.quantity {expiring_from} order by l.best_before limit 50) e \
         join products p on p.id = e.product_id join pantries pa on pa.id = e.pantry_id \
         order by e.best_before, pa.name_key, p.name_key"
    );
    // Three independent reads: run them side by side.
    let (categories, low, low_stock_total, expiring, expiring_total) = tokio::join!(
        sqlx::query(&categories_sql).bind(&s.id).fetch_all(pool),
        sqlx::query(&low_sql).bind(&s.id).fetch_all(pool),
        sqlx::query_scalar::<_, i64>(&low_count_sql)
            .bind(&s.id)
            .fetch_one(pool),
        sqlx::query(&expiring_sql)
            .bind(&s.id)
            .bind(&horizon)
            .fetch_all(pool),
        sqlx::query_scalar::<_, i64>(&expiring_count_sql)
            .bind(&s.id)
            .bind(&horizon)
            .fetch_one(pool),
    );
    let (low_stock_total, expiring_total) = (low_stock_total?, expiring_total?);
    let categories = categories?
        .iter()
        .map(|r| -> AppResult<CategoryTotals> {
            Ok(CategoryTotals {
                category: r.try_get("category")?,
                products: r.try_get("products")?,
                units: r.try_get("units")?,
                weight_g: r.try_get("weight_g")?,
                unweighed: r.try_get("unweighed")?,
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    let low_stock = low?
        .iter()
        .map(|r| -> AppResult<LowStockRow> {
            Ok(LowStockRow {
                pantry_id: PantryId(r.try_get("pantry_id")?),
                pantry_name: r.try_get("pantry_name")?,
                product_id: ProductId(r.try_get("product_id")?),
                product_name: r.try_get("product_name")?,
                unit: Unit::parse(&r.try_get::<String, _>("unit")?, "unit")?,
                on_hand: r.try_get("on_hand")?,
                minimum: r.try_get("minimum")?,
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    let expiring = expiring?
        .iter()
        .map(|r| -> AppResult<ExpiringLot> {
            Ok(ExpiringLot {
                pantry_id: PantryId(r.try_get("pantry_id")?),
                pantry_name: r.try_get("pantry_name")?,
                product_id: ProductId(r.try_get("product_id")?),
                product_name: r.try_get("product_name")?,
                unit: Unit::parse(&r.try_get::<String, _>("unit")?, "unit")?,
                best_before: r.try_get("best_before")?,
                quantity: r.try_get("quantity")?,
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(StockOverview {
        scope_label: s.label,
        categories,
        low_stock,
        low_stock_total,
        expiring,
        expiring_total,
        expiring_days: days,
    })
}
