//! Confirming an intake: its lines posted as `received` movements, the
//! intake marked confirmed and its single-product photos added to the
//! matching set, in one transaction.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::auth::model::Role;
use crate::auth::service::Caller;
use crate::catalog::model::Product;
use crate::catalog::service as catalog;
use crate::db::{Backend, Conn, Db};
use crate::error::{AppError, AppResult};
use crate::events::bus::BoxFuture;
use crate::events::domain::DomainEvent;
use crate::ids::{IntakeId, PantryId, PhotoId, ProductId};
use crate::inventory::service::{self as inventory, Actor, Attachment, Change, Posted};
use crate::photos::model::*;
use crate::state::AppState;

use super::queries::confirmed_lines;
use super::{intake_for, MAX_LINES};

/// The intake's confirmation, written in the transaction that posts its
/// lines: the intake must still be open (two people confirming at once
/// post once).
#[derive(Debug)]
struct Confirmation {
    intake: IntakeId,
    actor_id: String,
    /// Per posted line, in order: product and date.
    lines: Vec<(ProductId, Option<String>)>,
    pantry_id: PantryId,
    /// Photos that join the pantry's matching set, with their product.
    examples: Vec<(ProductId, PhotoId)>,
}

/// The payload of `IntakeConfirmed`, version 1.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IntakeConfirmed {
    pub intake_id: String,
    pub lines: Vec<ConfirmedPayloadLine>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConfirmedPayloadLine {
    pub product_id: String,
    pub movement_id: String,
    pub quantity: i64,
    pub best_before: Option<String>,
}

impl Attachment for Confirmation {
    fn check<'a>(&'a self, conn: &'a mut Conn, backend: Backend) -> BoxFuture<'a, AppResult<()>> {
        Box::pin(async move {
            let lock = if backend == Backend::Postgres {
                " for update"
            } else {
                ""
            };
            let status: Option<String> =
                sqlx::query_scalar(&format!("select status from intakes where id = $1{lock}"))
                    .bind(self.intake.as_str())
                    .fetch_optional(&mut *conn)
                    .await?;
            match status.as_deref() {
                Some("open") => Ok(()),
                Some(_) => Err(AppError::conflict(
                    "intake",
                    "This intake is confirmed already; its stock was received once.",
                )),
                None => Err(AppError::not_found("intake")),
            }
        })
    }

    fn write<'a>(
        &'a self,
        conn: &'a mut Conn,
        _backend: Backend,
        posted: &'a [Posted],
        now: i64,
    ) -> BoxFuture<'a, AppResult<Vec<DomainEvent>>> {
        Box::pin(async move {
            sqlx::query(
                "update intakes set status = 'confirmed', confirmed_by = $1, confirmed_at = $2 where id = $3",
            )
            .bind(self.actor_id.as_str())
            .bind(now)
            .bind(self.intake.as_str())
            .execute(&mut *conn)
            .await?;
            let mut lines = Vec::new();
            for (p, (product, date)) in posted.iter().zip(&self.lines) {
                sqlx::query(
                    "insert into intake_lines (intake_id, product_id, quantity, best_before, movement_id) \
                     values ($1, $2, $3, $4, $5)",
                )
                .bind(self.intake.as_str())
                .bind(product.as_str())
                .bind(p.quantity)
                .bind(date.clone())
                .bind(p.movement_id.as_str())
                .execute(&mut *conn)
                .await?;
                lines.push(ConfirmedPayloadLine {
                    product_id: product.to_string(),
                    movement_id: p.movement_id.to_string(),
                    quantity: p.quantity,
                    best_before: date.clone(),
                });
            }
            for (product, photo) in &self.examples {
                sqlx::query(
                    "insert into product_photos (pantry_id, product_id, photo_id, intake_id, confirmed_at) \
                     values ($1, $2, $3, $4, $5) on conflict do nothing",
                )
                .bind(self.pantry_id.as_str())
                .bind(product.as_str())
                .bind(photo.as_str())
                .bind(self.intake.as_str())
                .bind(now)
                .execute(&mut *conn)
                .await?;
            }
            let payload = IntakeConfirmed {
                intake_id: self.intake.to_string(),
                lines,
            };
            Ok(vec![DomainEvent::IntakeConfirmed(payload)])
        })
    }
}

/// Confirms the intake's lines as staff left them: one `received`
/// (donation) movement per product and date, the intake marked confirmed,
/// all in one transaction. Bad lines are refused with the line named and
/// nothing posted.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn confirm(
    state: &AppState,
    caller: &Caller,
    intake: &IntakeId,
    lines: &[ConfirmLine],
) -> AppResult<Vec<ConfirmedLine>> {
    let (row, header) = intake_for(state, caller, intake, Role::Staff).await?;
    if row.status != "open" {
        return Err(AppError::conflict(
            "intake",
            "This intake is confirmed already; its stock was received once.",
        ));
    }
    if lines.is_empty() {
        return Err(AppError::invalid(
            "lines",
            "Keep at least one line to receive, or leave the intake open.",
        ));
    }
    if lines.len() > MAX_LINES {
        return Err(AppError::invalid(
            "lines",
            format!("One intake receives at most {MAX_LINES} lines."),
        ));
    }
    let ids: Vec<&ProductId> = lines.iter().map(|l| &l.product).collect();
    let known =
        catalog::products_with_ids(&state.db, header.organization_id.as_str(), &ids).await?;
    let donor: Option<String> = sqlx::query_scalar("select donor from intakes where id = $1")
        .bind(intake.as_str())
        .fetch_one(state.db.pool())
        .await?;
    let today = crate::dates::today(state.clock.as_ref());
    // One line per product and date: the same item typed twice is summed.
    let mut merged: BTreeMap<(ProductId, Option<String>), (Product, i64)> = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        let named = |e: AppError| AppError::invalid("lines", format!("Line {}: {}", i + 1, e));
        let product = known.get(&line.product).ok_or_else(|| {
            named(AppError::invalid(
                "lines",
                "that product is not in this organization's catalog.",
            ))
        })?;
        catalog::refuse_archived(product).map_err(named)?;
        let quantity = inventory::positive(product.unit, &line.quantity)
            .map_err(|e| AppError::invalid("lines", format!("{}: {}", product.name, e)))?;
        let date = inventory::lot_date(today, product, &line.best_before, "lines")
            .map_err(|e| AppError::invalid("lines", format!("{}: {}", product.name, e)))?;
        let entry = merged
            .entry((product.id.clone(), date))
            .or_insert_with(|| (product.clone(), 0));
        entry.1 = entry
            .1
            .checked_add(quantity)
            .filter(|q| *q <= crate::catalog::model::MAX_QUANTITY)
            .ok_or_else(|| {
                AppError::invalid(
                    "lines",
                    format!(
                        "{}: that quantity is too large; one movement moves at most {}.",
                        product.name,
                        product.unit.format(crate::catalog::model::MAX_QUANTITY)
                    ),
                )
            })?;
    }
    let examples = matching_examples(&state.db, intake, lines).await?;
    let mut changes = Vec::new();
    let mut order = Vec::new();
    for ((id, date), (product, quantity)) in merged {
        changes.push((
            product.clone(),
            Change::donated(&product, quantity, date.clone(), donor.clone(), "lines")?,
        ));
        order.push((id, date));
    }
    let actor = Actor::of(caller);
    inventory::post_group(
        state,
        &header,
        changes,
        Arc::new(Confirmation {
            intake: intake.clone(),
            actor_id: actor.user_id.clone(),
            lines: order,
            pantry_id: header.id.clone(),
            examples,
        }),
        &actor,
    )
    .await?;
    confirmed_lines(&state.db, intake).await
}

/// The photos confirmed as showing one product: cited by lines of exactly
/// one product (a photo of a mixed box would teach every product in it the
/// look of the others). A photo of another intake is refused.
async fn matching_examples(
    db: &Db,
    intake: &IntakeId,
    lines: &[ConfirmLine],
) -> AppResult<Vec<(ProductId, PhotoId)>> {
    let own: Vec<String> = sqlx::query_scalar("select id from photos where intake_id = $1")
        .bind(intake.as_str())
        .fetch_all(db.pool())
        .await?;
    let mut cited: BTreeMap<&PhotoId, Vec<&ProductId>> = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        for photo in &line.photos {
            if !own.iter().any(|id| *id == photo.as_str()) {
                return Err(AppError::invalid(
                    "lines",
                    format!("Line {}: that photo is not one of this intake's.", i + 1),
                ));
            }
            let products = cited.entry(photo).or_default();
            if !products.contains(&&line.product) {
                products.push(&line.product);
            }
        }
    }
    Ok(cited
        .into_iter()
        .filter(|(_, products)| products.len() == 1)
        .map(|(photo, products)| (products[0].clone(), photo.clone()))
        .collect())
}
