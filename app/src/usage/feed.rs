//! A pantry's visits for scripts: oldest first, by period, a page at a time
//! with a cursor (the last visit's time and id), like the movement ledger.
//! Household counts and what was taken only: never the client reference or
//! the note, which stay on the visit's own page for staff.

use serde::Serialize;
use sqlx::Row as _;

use crate::auth::model::Role;
use crate::auth::service::Caller;
use crate::db::Sql;
use crate::error::AppResult;
use crate::ids::PantryId;
use crate::inventory::service::{pantry_header, rfc3339};
use crate::state::AppState;

/// One visit as the API gives it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VisitRecord {
    pub id: String,
    /// When it happened, RFC 3339 in UTC.
    pub occurred_at: String,
    pub adults: Option<i64>,
    pub children: Option<i64>,
    pub seniors: Option<i64>,
    /// `recorded` or `voided` (a voided visit's stock went back).
    pub status: String,
    /// Whether it was corrected after it was recorded.
    pub corrected: bool,
    pub lines: Vec<VisitLineRecord>,
}

/// A product a household took.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VisitLineRecord {
    pub product_id: String,
    pub product_name: String,
    /// `each`, `pack`, `kg`, `lb` or `l`.
    pub unit: String,
    /// In the unit's parts (see a product's `parts_per_unit`).
    pub quantity: i64,
}

/// Which visits: a period and the cursor (ms since the epoch; the period's
/// start inclusive, its end exclusive).
#[derive(Debug, Clone, Default)]
pub struct VisitFilter {
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub after: Option<(i64, String)>,
}

/// Up to `limit` visits of `pantry` after the cursor, oldest first, and
/// whether more follow.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn visit_feed(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    filter: &VisitFilter,
    limit: i64,
) -> AppResult<(Vec<VisitRecord>, bool)> {
    let (header, place) = pantry_header(&state.db, pantry).await?;
    caller.require(&place, Role::Viewer, "pantry")?;
    let mut sql = Sql::default();
    sql.push(
        "select v.id, v.occurred_at, v.adults, v.children, v.seniors, v.status, v.corrected_at \
         from visits v where v.pantry_id = ",
    )
    .text(header.id.as_str());
    if let Some(since) = filter.since {
        sql.push(" and v.occurred_at >= ").int(since);
    }
    if let Some(until) = filter.until {
        sql.push(" and v.occurred_at < ").int(until);
    }
    if let Some((at, id)) = &filter.after {
        sql.push(" and (v.occurred_at > ")
            .int(*at)
            .push(" or (v.occurred_at = ")
            .int(*at)
            .push(" and v.id > ")
            .text(id.as_str())
            .push("))");
    }
    sql.push(" order by v.occurred_at, v.id limit ")
        .int(limit + 1);
    let rows = sql.query().fetch_all(state.db.pool()).await?;
    let more = rows.len() as i64 > limit;
    let mut visits = rows
        .iter()
        .take(limit as usize)
        .map(|r| {
            Ok(VisitRecord {
                id: r.try_get("id")?,
                occurred_at: rfc3339(r.try_get("occurred_at")?),
                adults: r.try_get::<Option<i64>, _>("adults")?,
                children: r.try_get::<Option<i64>, _>("children")?,
                seniors: r.try_get::<Option<i64>, _>("seniors")?,
                status: r.try_get("status")?,
                corrected: r.try_get::<Option<i64>, _>("corrected_at")?.is_some(),
                lines: Vec::new(),
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    if visits.is_empty() {
        return Ok((visits, more));
    }
    // Every line of the page in one query.
    let mut lines = Sql::default();
    lines.push(
        "select l.visit_id, l.product_id, p.name, p.unit, l.quantity from visit_lines l \
             join products p on p.id = l.product_id where l.visit_id in (",
    );
    for (i, v) in visits.iter().enumerate() {
        if i > 0 {
            lines.push(", ");
        }
        lines.text(v.id.as_str());
    }
    lines.push(") order by l.visit_id, p.name_key");
    for r in lines.query().fetch_all(state.db.pool()).await? {
        let visit: String = r.try_get("visit_id")?;
        if let Some(v) = visits.iter_mut().find(|v| v.id == visit) {
            v.lines.push(VisitLineRecord {
                product_id: r.try_get("product_id")?,
                product_name: r.try_get("name")?,
                unit: r.try_get("unit")?,
                quantity: r.try_get("quantity")?,
            });
        }
    }
    Ok((visits, more))
}
