//! Stock on the server: recording movements (the write path) and the stock
//! checker's queries (the read path).
//!
//! A movement is checked here (input, access, the product), then queued
//! for the movement writer (`writer.rs`), which writes it with the rest of
//! its batch (`batch.rs`): stock row, lots, ledger line, lot lines and
//! event, all in one transaction.

use serde::{Deserialize, Serialize};
use sqlx::Row as _;

use super::cache::CacheKey;
use super::model::*;
use crate::auth::model::Role;
use crate::auth::service::{Caller, Place};
use crate::catalog::model::{Product, Unit};
use crate::catalog::service as catalog;
use crate::db::{contains_pattern, Backend, Conn, Db, Sql, Tx};
use crate::error::{AppError, AppResult};
use crate::events::bus::BoxFuture;
use crate::events::domain::DomainEvent;
use crate::events::store::{self as events, NewEvent};
use crate::ids::{LotId, MovementId, OrganizationId, PantryId, ProductId};
use crate::input::PageNumber;
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

// ------------------------------------------------------------ pantries

#[tracing::instrument(level = "debug", skip_all)]
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
            time_zone: pantry.time_zone.unwrap_or(organization.time_zone),
        },
        place,
    ))
}

use crate::dates::iso;

/// The day `days` after `today`, `YYYY-MM-DD`.
fn days_after(today: time::Date, days: i64) -> String {
    iso(today.saturating_add(time::Duration::days(days)))
}

// ------------------------------------------------------------ the write path

/// One change to one pantry's stock of one product: what happened, with
/// what only that kind of change carries. Quantities are signed: what the
/// pantry's stock changes by.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Stock coming in (a donation, a purchase, a return), into the lot
    /// of its best-before date.
    Received {
        quantity: i64,
        best_before: Option<String>,
        source: String,
        donor: Option<String>,
        weight_g: Option<i64>,
        note: Option<String>,
    },
    /// Stock handed out (negative), or handed back into the lot of its
    /// date after a visit changed (positive).
    Distributed {
        quantity: i64,
        best_before: Option<String>,
        /// The visit it belongs to (usage module).
        visit: Option<String>,
        note: Option<String>,
    },
    /// A count corrected, either way, with its reason.
    Adjusted {
        quantity: i64,
        best_before: Option<String>,
        reason: String,
        note: Option<String>,
    },
    /// Stock thrown away (negative), from one lot when named.
    Discarded {
        quantity: i64,
        from_lot: Option<LotId>,
        reason: String,
        note: Option<String>,
    },
    /// One side of a transfer: out (negative) or in (positive, into the
    /// lot of its date).
    Transferred {
        quantity: i64,
        best_before: Option<String>,
        /// The pantry on the other side.
        counterpart: String,
        note: Option<String>,
    },
}

impl Change {
    pub fn kind(&self) -> MovementKind {
        match self {
            Self::Received { .. } => MovementKind::Received,
            Self::Distributed { .. } => MovementKind::Distributed,
            Self::Adjusted { .. } => MovementKind::Adjusted,
            Self::Discarded { .. } => MovementKind::Discarded,
            Self::Transferred { .. } => MovementKind::Transferred,
        }
    }

    /// Signed: what the pantry's stock changes by.
    pub fn quantity(&self) -> i64 {
        match self {
            Self::Received { quantity, .. }
            | Self::Distributed { quantity, .. }
            | Self::Adjusted { quantity, .. }
            | Self::Discarded { quantity, .. }
            | Self::Transferred { quantity, .. } => *quantity,
        }
    }

    /// The date of the lot an increase goes to.
    pub fn best_before(&self) -> Option<&str> {
        match self {
            Self::Received { best_before, .. }
            | Self::Distributed { best_before, .. }
            | Self::Adjusted { best_before, .. }
            | Self::Transferred { best_before, .. } => best_before.as_deref(),
            Self::Discarded { .. } => None,
        }
    }

    /// The one lot a decrease takes from, when named.
    pub fn from_lot(&self) -> Option<&LotId> {
        match self {
            Self::Discarded { from_lot, .. } => from_lot.as_ref(),
            _ => None,
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Adjusted { reason, .. } | Self::Discarded { reason, .. } => Some(reason),
            _ => None,
        }
    }

    pub fn source(&self) -> Option<&str> {
        match self {
            Self::Received { source, .. } => Some(source),
            _ => None,
        }
    }

    pub fn donor(&self) -> Option<&str> {
        match self {
            Self::Received { donor, .. } => donor.as_deref(),
            _ => None,
        }
    }

    pub fn weight_g(&self) -> Option<i64> {
        match self {
            Self::Received { weight_g, .. } => *weight_g,
            _ => None,
        }
    }

    pub fn counterpart(&self) -> Option<&str> {
        match self {
            Self::Transferred { counterpart, .. } => Some(counterpart),
            _ => None,
        }
    }

    pub fn visit(&self) -> Option<&str> {
        match self {
            Self::Distributed { visit, .. } => visit.as_deref(),
            _ => None,
        }
    }

    pub fn note(&self) -> Option<&str> {
        match self {
            Self::Received { note, .. }
            | Self::Distributed { note, .. }
            | Self::Adjusted { note, .. }
            | Self::Discarded { note, .. }
            | Self::Transferred { note, .. } => note.as_deref(),
        }
    }

    /// Stock handed out at a visit.
    pub fn handed_out(quantity: i64, visit: &str) -> Self {
        Self::Distributed {
            quantity: -quantity,
            best_before: None,
            visit: Some(visit.to_string()),
            note: None,
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
        Self::Distributed {
            quantity,
            best_before,
            visit: Some(visit.to_string()),
            note: Some(note.to_string()),
        }
    }
}

/// The best-before date of stock received: the one typed, else for a
/// perishable product today plus its shelf life; a perishable product
/// without a shelf life needs one typed.
pub(crate) fn lot_date(
    today: time::Date,
    product: &Product,
    typed: &str,
    field: &str,
) -> AppResult<Option<String>> {
    let typed = BestBefore::parse_optional(typed, field)?.map(|d| d.as_str().to_string());
    if typed.is_some() || !product.perishable {
        return Ok(typed);
    }
    match product.shelf_life_days {
        Some(days) => Ok(Some(days_after(today, days))),
        None => Err(AppError::invalid(
            field,
            format!(
                "{} is perishable: enter its best-before date.",
                product.name
            ),
        )),
    }
}

impl Change {
    /// Donated stock received into the lot of `best_before`, weighed by
    /// the product's weight per unit when it has one; refused (naming
    /// `field`) when that weight is more than a movement records.
    pub fn donated(
        product: &Product,
        quantity: i64,
        best_before: Option<String>,
        donor: Option<String>,
        field: &str,
    ) -> AppResult<Self> {
        Ok(Self::Received {
            quantity,
            best_before,
            source: "donation".into(),
            donor,
            weight_g: product.weight_of(quantity, field)?,
            note: None,
        })
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
    now: i64,
) -> AppResult<i64> {
    if create {
        sqlx::query(
            "insert into stock_levels (pantry_id, product_id, organization_id, on_hand, minimum, updated_at) \
             values ($1, $2, $3, 0, 0, $4) on conflict (pantry_id, product_id) do nothing",
        )
        .bind(pantry)
        .bind(product)
        .bind(organization)
        .bind(now)
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

pub(super) fn not_enough(
    product: &Product,
    pantry: &PantryHeader,
    on_hand: i64,
    wanted: i64,
) -> AppError {
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

/// An event a command produced, appended when its batch is done, so the
/// lock that orders events is held for as short a time as possible.
#[derive(Debug, Clone)]
pub(super) struct PendingEvent {
    pub(super) event: DomainEvent,
    pub(super) organization_id: String,
    pub(super) pantry_id: String,
    pub(super) actor_id: String,
    pub(super) correlation_id: String,
}

pub(super) fn moved_event(
    pantry: &PantryHeader,
    product: &Product,
    change: &Change,
    actor: &Actor,
    (movement, on_hand, lots): &(MovementId, i64, Vec<LotChange>),
) -> PendingEvent {
    PendingEvent {
        event: DomainEvent::moved(StockMoved {
            movement_id: movement.0.clone(),
            product_id: product.id.0.clone(),
            kind: change.kind(),
            quantity: change.quantity(),
            on_hand: *on_hand,
            lots: lots.clone(),
            reason: change.reason().map(str::to_string),
            source: change.source().map(str::to_string),
            donor: change.donor().map(str::to_string),
            weight_g: change.weight_g(),
            counterpart_pantry_id: change.counterpart().map(str::to_string),
        }),
        organization_id: pantry.organization_id.0.clone(),
        pantry_id: pantry.id.0.clone(),
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

/// Checks access and loads what a movement at `pantry` needs: from the
/// context memory when this pair was asked for in the last few seconds
/// (every movement starts here; see [`crate::recent`]), else in one query.
async fn movement_context(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    product: &ProductId,
) -> AppResult<(PantryHeader, Product)> {
    if !crate::ids::is_id(pantry.as_str()) {
        return Err(AppError::not_found("pantry"));
    }
    let key = format!("{}|{}", pantry.as_str(), product.as_str());
    let (header, product) = match state.contexts.get(&key) {
        Some(known) => known,
        None => {
            let generation = state.contexts.generation();
            let loaded = load_movement_context(state, pantry, product).await?;
            state.contexts.keep(&key, &loaded, generation);
            loaded
        }
    };
    let place = Place {
        organization_id: header.organization_id.0.clone(),
        campus_id: Some(header.campus_id.0.clone()),
        pantry_id: Some(header.id.0.clone()),
    };
    caller.require(&place, Role::Staff, "pantry")?;
    let product = product.ok_or_else(|| AppError::not_found("product"))?;
    catalog::refuse_archived(&product)?;
    Ok((header, product))
}

/// The active pantry with its parents' names, and the product when the
/// pantry's organization has it (`None` otherwise), in one round trip.
pub type MovementContext = (PantryHeader, Option<Product>);

async fn load_movement_context(
    state: &AppState,
    pantry: &PantryId,
    product: &ProductId,
) -> AppResult<MovementContext> {
    // The product is joined leftwards so a missing one still finds the
    // pantry (and an access check comes before "no such product").
    let row = sqlx::query(&format!(
        "select p.id as pantry_id, p.name as pantry_name, p.campus_id, c.name as campus_name, \
         p.organization_id as pantry_organization_id, o.name as organization_name, \
         coalesce(p.time_zone, o.time_zone) as time_zone, \
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
        time_zone: row.try_get("time_zone")?,
    };
    let product = match row.try_get::<Option<String>, _>("id")? {
        Some(_) => Some(catalog::product_from(&row, Vec::new())?),
        None => None,
    };
    Ok((header, product))
}

/// Rows another module writes in the transaction of a
/// [`Command::Group`] (a visit and its lines). `check` runs before any
/// stock is touched and must only read (and lock): a refusal there writes
/// nothing. `write` runs after every line is posted and returns the
/// module's own events (type and payload).
pub trait Attachment: Send + Sync + std::fmt::Debug + 'static {
    fn check<'a>(&'a self, conn: &'a mut Conn, backend: Backend) -> BoxFuture<'a, AppResult<()>>;
    /// `now`: the batch's time, which its movements and events carry.
    fn write<'a>(
        &'a self,
        conn: &'a mut Conn,
        backend: Backend,
        posted: &'a [Posted],
        now: i64,
    ) -> BoxFuture<'a, AppResult<Vec<DomainEvent>>>;
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

/// Posts a group of changes at one pantry through the movement writer:
/// all of them, with the attachment's rows, or none.
#[tracing::instrument(level = "debug", skip_all)]
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
#[tracing::instrument(level = "debug", skip_all)]
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

#[tracing::instrument(level = "debug", skip_all)]
pub async fn receive(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    product: &ProductId,
    f: &MovementFields,
) -> AppResult<MovementReceipt> {
    let (header, product) = movement_context(state, caller, pantry, product).await?;
    let quantity = positive(product.unit, &f.quantity)?;
    let best_before = lot_date(
        crate::dates::today(state.clock.as_ref()),
        &product,
        &f.best_before,
        "best_before",
    )?;
    let source = ReceiveSource::parse(&f.source, "source")?;
    let weight_g = match crate::catalog::model::parse_optional_count(
        &f.weight_g,
        "weight_g",
        crate::catalog::model::MAX_WEIGHT_G,
        "the weight in grams",
    )? {
        Some(w) => Some(w),
        None => product.weight_of(quantity, "quantity")?,
    };
    let change = Change::Received {
        quantity,
        best_before,
        source: source.as_str().into(),
        donor: parse_text(&f.donor, "donor", 120)?,
        weight_g,
        note: parse_text(&f.note, "note", 500)?,
    };
    record(state, &header, &product, change, &Actor::of(caller)).await
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn distribute(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    product: &ProductId,
    f: &MovementFields,
) -> AppResult<MovementReceipt> {
    let (header, product) = movement_context(state, caller, pantry, product).await?;
    let quantity = positive(product.unit, &f.quantity)?;
    let change = Change::Distributed {
        quantity: -quantity,
        best_before: None,
        visit: None,
        note: parse_text(&f.note, "note", 500)?,
    };
    record(state, &header, &product, change, &Actor::of(caller)).await
}

#[tracing::instrument(level = "debug", skip_all)]
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
    let change = Change::Adjusted {
        quantity: sign * quantity,
        best_before: if sign > 0 {
            BestBefore::parse_optional(&f.best_before, "best_before")?
                .map(|d| d.as_str().to_string())
        } else {
            None
        },
        reason,
        note: parse_text(&f.note, "note", 500)?,
    };
    record(state, &header, &product, change, &Actor::of(caller)).await
}

#[tracing::instrument(level = "debug", skip_all)]
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
    let change = Change::Discarded {
        quantity: -quantity,
        from_lot,
        reason: reason.as_str().into(),
        note: parse_text(&f.note, "note", 500)?,
    };
    record(state, &header, &product, change, &Actor::of(caller)).await
}

/// Moves stock from one pantry to another of the same organization: both
/// sides in one transaction, lots keep their best-before dates.
#[tracing::instrument(level = "debug", skip_all)]
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
    // Another organization's pantry answers as one that does not exist:
    // the answer must not tell whether an id is a pantry somewhere else.
    let unknown = || {
        AppError::invalid(
            "to",
            "Choose a pantry of this organization; that one does not exist here or is archived.",
        )
    };
    let (to, to_place) = pantry_header(&state.db, &to_id)
        .await
        .map_err(|_| unknown())?;
    if to.organization_id != from.organization_id {
        return Err(unknown());
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
#[tracing::instrument(level = "debug", skip_all)]
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
        state.clock.now_ms(),
    )
    .await?;
    sqlx::query("update stock_levels set minimum = $1, updated_at = $2 where pantry_id = $3 and product_id = $4")
        .bind(minimum)
        .bind(state.clock.now_ms())
        .bind(header.id.as_str())
        .bind(product.id.as_str())
        .execute(&mut *tx)
        .await?;
    events::append(
        &mut tx,
        backend,
        &NewEvent {
            event: &DomainEvent::StockMinimumSet(MinimumSet {
                product_id: product.id.0.clone(),
                minimum,
            }),
            organization_id: header.organization_id.as_str(),
            pantry_id: Some(header.id.as_str()),
            actor_id: Some(&actor.user_id),
            correlation_id: &actor.correlation_id,
            occurred_at: state.clock.now_ms(),
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
#[tracing::instrument(level = "debug", skip_all)]
pub async fn stock_page(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    query: &StockQuery,
) -> AppResult<StockPage> {
    let (header, place) = pantry_header(&state.db, pantry).await?;
    let role = caller.require(&place, Role::Viewer, "pantry")?;
    let as_of = events::head(state.db.pool()).await?;
    let today = crate::dates::today(state.clock.as_ref());
    let key = CacheKey::of(&format!("stock:{}:{:?}:{}", header.id, query, iso(today)));
    let page = state
        .stock_cache
        .get_or_load(
            key,
            header.organization_id.as_str(),
            &[header.id.0.clone()],
            load_stock_page(&state.db, today, header.clone(), query.clone()),
        )
        .await?;
    Ok(StockPage {
        can_move: role >= Role::Staff,
        as_of,
        ..page
    })
}

async fn load_stock_page(
    db: &Db,
    day: time::Date,
    header: PantryHeader,
    query: StockQuery,
) -> AppResult<StockPage> {
    let today = iso(day);
    let horizon = days_after(day, EXPIRING_DAYS);
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
        .text(horizon.clone())
        .push(") as expiring, (select cast(coalesce(sum(l.quantity), 0) as bigint) from lots l where l.pantry_id = ")
        .text(pantry)
        .push(" and l.product_id = p.id and l.quantity > 0 and l.best_before < ")
        .text(today)
        .push(") as expired from products p left join stock_levels s on s.product_id = p.id and s.pantry_id = ")
        .text(pantry)
        .push(" where p.organization_id = ")
        .text(header.organization_id.as_str())
        .push(" and p.archived_at is null");
    let q = query.q.as_str();
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
    if !query.category.is_empty() {
        sql.push(" and p.category_key = ")
            .text(query.category.as_str().to_lowercase());
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
                .text(horizon.clone())
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
    let page = query.page.get();
    sql.push(" limit ")
        .int(STOCK_PAGE)
        .push(" offset ")
        .int(query.page.offset(STOCK_PAGE));
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
#[tracing::instrument(level = "debug", skip_all)]
pub async fn product_stock(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    product: &ProductId,
    page: PageNumber,
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
    let day = crate::dates::today(state.clock.as_ref());
    let today = iso(day);
    let horizon = days_after(day, EXPIRING_DAYS);
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
    let offset = page.offset(HISTORY_PAGE);
    let page = page.get();
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
    .bind(offset)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| -> AppResult<MovementView> {
        let kind: String = r.try_get("kind")?;
        Ok(MovementView {
            id: MovementId(r.try_get("id")?),
            kind: MovementKind::parse(&kind).ok_or_else(|| AppError::internal(&std::io::Error::other(format!("unknown movement kind {kind}"))))?,
            quantity: r.try_get("quantity")?,
            occurred_at: crate::zones::Zone::stored(&header.time_zone)
                .format(r.try_get("occurred_at")?),
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

pub use crate::org::model::Scope;

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
#[tracing::instrument(level = "debug", skip_all)]
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
    let today = crate::dates::today(state.clock.as_ref());
    let key = CacheKey::of(&format!("overview:{scope:?}:{days}:{}", iso(today)));
    let pantries = s.pantries.clone();
    let organization = s.organization.clone();
    state
        .stock_cache
        .get_or_load(
            key,
            &organization,
            &pantries,
            load_overview(&state.db, s, today, days),
        )
        .await
}

pub(crate) const WEIGHT_PER_UNIT: &str =
    "coalesce(p.unit_weight_g, case p.unit when 'kg' then 1000 when 'l' then 1000 when 'lb' then 454 end)";
pub(crate) const UNIT_SCALE: &str =
    "(case p.unit when 'kg' then 1000 when 'l' then 1000 when 'lb' then 16 else 1 end)";

async fn load_overview(
    db: &Db,
    s: ScopeSql,
    today: time::Date,
    days: i64,
) -> AppResult<StockOverview> {
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
    let horizon = days_after(today, days);
    // Lots with stock belong to active products (archiving needs zero
    // stock). `in_stock` is `quantity > 0`, named so `lots_expiring` serves.
    let expiring_from = format!(
        "from lots l where {} and l.in_stock and l.best_before is not null and l.best_before <= $2",
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
