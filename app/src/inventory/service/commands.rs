//! The movements staff record, one function each: receive, distribute,
//! adjust, discard, transfer, and setting a product's minimum. Each parses
//! its form, checks access through the movement context and hands a
//! [`Change`] to the movement writer.

use crate::auth::model::Role;
use crate::auth::service::Caller;
use crate::catalog::model::Unit;
use crate::catalog::service as catalog;
use crate::error::{AppError, AppResult};
use crate::events::domain::DomainEvent;
use crate::events::store::{self as events, NewEvent};
use crate::ids::{LotId, PantryId, ProductId};
use crate::inventory::model::*;
use crate::state::AppState;

use super::posting::{
    committed, lock_stock, lot_date, movement_context, one, record, Change, Command,
};
use super::{pantry_header, Actor, MinimumSet};

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
                product_id: product.id.to_string(),
                minimum,
            }),
            organization_id: header.organization_id.as_str(),
            pantry_id: Some(header.id.as_str()),
            actor_id: Some(&actor.user_id),
            correlation_id: &actor.correlation_id,
            client_ip: actor.client_ip.as_deref(),
            trace_parent: actor.trace_parent.as_deref(),
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
