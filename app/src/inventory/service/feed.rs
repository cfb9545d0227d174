//! A pantry's ledger for scripts: every movement in the order it happened,
//! filtered by period, kind and product, read page by page with a cursor
//! (the last movement's time and id), so a sync that follows the cursor
//! sees each movement once even while new ones are written.

use serde::Serialize;
use sqlx::Row as _;

use super::pantry_header;
use crate::auth::model::Role;
use crate::auth::service::Caller;
use crate::db::Sql;
use crate::error::{AppError, AppResult};
use crate::ids::PantryId;
use crate::inventory::model::MovementKind;
use crate::state::AppState;

/// One movement as the API gives it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MovementRecord {
    pub id: String,
    pub product_id: String,
    pub product_name: String,
    /// `received`, `distributed`, `adjusted`, `transferred` or `discarded`.
    pub kind: String,
    /// Signed: what the movement added to (+) or took from (−) the stock,
    /// in the unit's parts (grams for kg, millilitres for l, ounces for lb;
    /// see a product's `parts_per_unit`).
    pub quantity: i64,
    /// The product's unit: `each`, `pack`, `kg`, `lb` or `l`.
    pub unit: String,
    /// When it happened, RFC 3339 in UTC.
    pub occurred_at: String,
    pub reason: Option<String>,
    pub source: Option<String>,
    pub donor: Option<String>,
    pub weight_g: Option<i64>,
    /// The other pantry of a transfer.
    pub counterpart_pantry_id: Option<String>,
    /// The visit a distribution was part of.
    pub visit_id: Option<String>,
    pub note: Option<String>,
}

/// Which movements, from where.
#[derive(Debug, Clone, Default)]
pub struct FeedFilter {
    /// From this time on (ms since the epoch, inclusive).
    pub since: Option<i64>,
    /// Before this time (ms, exclusive).
    pub until: Option<i64>,
    pub kind: Option<MovementKind>,
    pub product: Option<String>,
    /// After this movement: its time and id (the cursor).
    pub after: Option<(i64, String)>,
}

/// Up to `limit` movements of `pantry` after the filter's cursor, oldest
/// first, and whether more follow.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn movement_feed(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    filter: &FeedFilter,
    limit: i64,
) -> AppResult<(Vec<MovementRecord>, bool)> {
    let (header, place) = pantry_header(&state.db, pantry).await?;
    caller.require(&place, Role::Viewer, "pantry")?;
    let mut sql = Sql::default();
    sql.push(
        "select m.id, m.product_id, p.name, p.unit, m.kind, m.quantity, m.occurred_at, m.reason, m.source, m.donor, \
         m.weight_g, m.counterpart_pantry_id, m.visit_id, m.note \
         from movements m join products p on p.id = m.product_id where m.pantry_id = ",
    )
    .text(header.id.as_str());
    if let Some(since) = filter.since {
        sql.push(" and m.occurred_at >= ").int(since);
    }
    if let Some(until) = filter.until {
        sql.push(" and m.occurred_at < ").int(until);
    }
    if let Some(kind) = filter.kind {
        sql.push(" and m.kind = ").text(kind.as_str());
    }
    if let Some(product) = &filter.product {
        sql.push(" and m.product_id = ").text(product.as_str());
    }
    if let Some((at, id)) = &filter.after {
        sql.push(" and (m.occurred_at > ")
            .int(*at)
            .push(" or (m.occurred_at = ")
            .int(*at)
            .push(" and m.id > ")
            .text(id.as_str())
            .push("))");
    }
    sql.push(" order by m.occurred_at, m.id limit ")
        .int(limit + 1);
    let rows = sql.query().fetch_all(state.db.pool()).await?;
    let more = rows.len() as i64 > limit;
    let records = rows
        .iter()
        .take(limit as usize)
        .map(|r| {
            let at: i64 = r.try_get("occurred_at")?;
            Ok(MovementRecord {
                id: r.try_get("id")?,
                product_id: r.try_get("product_id")?,
                product_name: r.try_get("name")?,
                kind: r.try_get("kind")?,
                quantity: r.try_get("quantity")?,
                unit: r.try_get("unit")?,
                occurred_at: rfc3339(at),
                reason: r.try_get("reason")?,
                source: r.try_get("source")?,
                donor: r.try_get("donor")?,
                weight_g: r.try_get("weight_g")?,
                counterpart_pantry_id: r.try_get("counterpart_pantry_id")?,
                visit_id: r.try_get("visit_id")?,
                note: r.try_get("note")?,
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok((records, more))
}

/// A time in ms as RFC 3339 UTC with milliseconds: `2026-12-05T08:00:00.000Z`.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// The time in ms of an RFC 3339 timestamp, for `since` and `until`.
pub fn parse_rfc3339(input: &str, field: &str) -> AppResult<i64> {
    let t =
        time::OffsetDateTime::parse(input.trim(), &time::format_description::well_known::Rfc3339)
            .map_err(|_| {
            let shown: String = input.chars().take(40).collect();
            AppError::invalid(
                field,
                format!("“{shown}” is not a time; use RFC 3339, like 2026-12-01T00:00:00Z."),
            )
        })?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}
