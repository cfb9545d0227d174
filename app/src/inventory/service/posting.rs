//! The write path's machinery: a checked [`Change`] becomes a
//! [`Command`] for the movement writer (`writer.rs`), which writes it with
//! the rest of its batch (`batch.rs`); what the commands share on the way
//! (the movement context, the stock lock, the event a movement makes) and
//! what happens after a commit.

use sqlx::Row as _;

use crate::auth::model::Role;
use crate::auth::service::{Caller, Place};
use crate::catalog::model::Product;
use crate::catalog::service as catalog;
use crate::db::{Backend, Conn, Db, Tx};
use crate::error::{AppError, AppResult};
use crate::events::bus::BoxFuture;
use crate::events::domain::DomainEvent;
use crate::ids::{LotId, MovementId, OrganizationId, PantryId, ProductId};
use crate::inventory::model::*;
use crate::state::AppState;

use super::{days_after, Actor, LotChange, StockMoved};

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
pub(super) async fn lock_stock(
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

pub(in crate::inventory) fn not_enough(
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
pub(in crate::inventory) struct PendingEvent {
    pub(in crate::inventory) event: DomainEvent,
    pub(in crate::inventory) organization_id: String,
    pub(in crate::inventory) pantry_id: String,
    pub(in crate::inventory) actor_id: String,
    pub(in crate::inventory) correlation_id: String,
    pub(in crate::inventory) client_ip: Option<String>,
    pub(in crate::inventory) trace_parent: Option<String>,
}

pub(in crate::inventory) fn moved_event(
    pantry: &PantryHeader,
    product: &Product,
    change: &Change,
    actor: &Actor,
    (movement, on_hand, lots): &(MovementId, i64, Vec<LotChange>),
) -> PendingEvent {
    PendingEvent {
        event: DomainEvent::moved(StockMoved {
            movement_id: movement.to_string(),
            product_id: product.id.to_string(),
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
        organization_id: pantry.organization_id.to_string(),
        pantry_id: pantry.id.to_string(),
        actor_id: actor.user_id.clone(),
        correlation_id: actor.correlation_id.clone(),
        client_ip: actor.client_ip.clone(),
        trace_parent: actor.trace_parent.clone(),
    }
}

/// After a commit: this process's cache forgets the pantries at once, so
/// the person who recorded reads their own write; the dispatcher wakes to
/// tell every consumer (and, through them, every other process).
pub(super) fn committed(state: &AppState, pantries: &[&str]) {
    for p in pantries {
        state.stock_cache.invalidate_pantry(p);
    }
    state.bus.committed();
}

/// Checks access and loads what a movement at `pantry` needs: from the
/// context memory when this pair was asked for in the last few seconds
/// (every movement starts here; see [`crate::recent`]), else in one query.
pub(super) async fn movement_context(
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
        organization_id: header.organization_id.to_string(),
        campus_id: Some(header.campus_id.to_string()),
        pantry_id: Some(header.id.to_string()),
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
        id: PantryId::from_stored(row.try_get("pantry_id")?),
        name: row.try_get("pantry_name")?,
        campus_id: crate::ids::CampusId::from_stored(row.try_get("campus_id")?),
        campus_name: row.try_get("campus_name")?,
        organization_id: OrganizationId::from_stored(row.try_get("pantry_organization_id")?),
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
pub(in crate::inventory) enum Written {
    One(MovementReceipt),
    Group(Vec<Posted>),
}

/// A movement ready to write: inputs parsed, access checked.
#[derive(Debug, Clone)]
pub(in crate::inventory) enum Command {
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
    pub(in crate::inventory) fn shard_key(&self) -> &str {
        match self {
            Command::Change { pantry, .. } | Command::Group { pantry, .. } => pantry.id.as_str(),
            Command::Transfer { from, .. } => from.id.as_str(),
        }
    }

    /// The pantries whose stock the command changes.
    pub(in crate::inventory) fn pantries(&self) -> Vec<String> {
        match self {
            Command::Change { pantry, .. } => vec![pantry.id.to_string()],
            Command::Transfer { from, to, .. } => vec![from.id.to_string(), to.id.to_string()],
            Command::Group { pantry, .. } => vec![pantry.id.to_string()],
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
        .map(|(p, b, q)| (ProductId::from_stored(p), b, q))
        .collect())
}

/// Hands one change to the movement writer and waits for its outcome.
pub(super) async fn record(
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
pub(super) fn one(written: Written) -> AppResult<MovementReceipt> {
    match written {
        Written::One(receipt) => Ok(receipt),
        Written::Group(_) => Err(AppError::internal(&std::io::Error::other(
            "the writer answered one movement with a group",
        ))),
    }
}
