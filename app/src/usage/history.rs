//! Usage history for the JSON API: what went out per day (distributions
//! recorded in Larder, and history imported from CSV), per product and in
//! total, scoped by the caller's memberships and paginated.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::auth::model::Role;
use crate::auth::service::Caller;
use crate::error::{AppError, AppResult};
use crate::inventory::ledger;
use crate::org::model::Scope;
use crate::state::AppState;
use crate::usage::report::{iso, parse_date};
use crate::zones::LocalDays;

/// Days (or products) per page.
pub const PAGE: usize = 100;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DayUsage {
    /// `YYYY-MM-DD`, in the pantry's time zone.
    pub day: String,
    /// Handed out in Larder (net of corrections), in the product's smallest unit.
    pub distributed: i64,
    /// From imported history.
    pub imported: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductUsage {
    pub product_id: String,
    pub name: String,
    pub unit: String,
    pub pantry_id: Option<String>,
    pub from: String,
    pub to: String,
    /// Newest first.
    pub days: Vec<DayUsage>,
    pub page: usize,
    pub has_more: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductTotal {
    pub product_id: String,
    pub name: String,
    pub unit: String,
    pub distributed: i64,
    pub imported: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsageSummary {
    pub organization_id: String,
    pub from: String,
    pub to: String,
    pub products: Vec<ProductTotal>,
    pub page: usize,
    pub has_more: bool,
}

/// The days asked for (default: the year up to today).
fn period(state: &AppState, q: &HashMap<String, String>) -> AppResult<(time::Date, time::Date)> {
    let today = crate::dates::today(state.clock.as_ref());
    let to = match q.get("to").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        Some(t) => parse_date(t, "to")?,
        None => today,
    };
    let from = match q.get("from").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        Some(f) => parse_date(f, "from")?,
        None => to - time::Duration::days(364),
    };
    if to < from {
        return Err(AppError::invalid(
            "to",
            "The end date comes before the start date.",
        ));
    }
    Ok((from, to))
}

fn page(q: &HashMap<String, String>) -> AppResult<usize> {
    match q.get("page").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(1),
        Some(p) => p
            .parse::<usize>()
            .ok()
            .filter(|p| (1..=100_000).contains(p))
            .ok_or_else(|| AppError::invalid("page", "page is a whole number from 1.")),
    }
}

/// Daily usage of one product, over a period (default: the last year).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn product_usage(
    state: &AppState,
    caller: &Caller,
    product: &str,
    q: &HashMap<String, String>,
) -> AppResult<ProductUsage> {
    let product: crate::ids::ProductId = product.parse()?;
    let row: Option<(String, String, String)> =
        sqlx::query_as("select organization_id, name, unit from products where id = $1")
            .bind(product.as_str())
            .fetch_optional(state.db.pool())
            .await?;
    let (organization, name, unit) = row.ok_or_else(|| AppError::not_found("product"))?;
    let pantry = match q.get("pantry").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        Some(p) => {
            let id: crate::ids::PantryId = p.parse()?;
            let (header, place) = crate::inventory::service::pantry_header(&state.db, &id).await?;
            if header.organization_id.as_str() != organization {
                return Err(AppError::not_found("pantry"));
            }
            caller.require(&place, Role::Viewer, "pantry")?;
            Some(header.id.to_string())
        }
        None => {
            let (_, place) =
                crate::org::service::organization_with_place(&state.db, &organization).await?;
            caller.require(&place, Role::Viewer, "product")?;
            None
        }
    };
    let (from_day, to_day) = period(state, q)?;
    let (from, to) = (iso(from_day), iso(to_day));
    let page = page(q)?;
    // The figures only read, and may be a moment behind: the read replica,
    // when there is one in use.
    let reads = state.db.reads();
    // Each pantry's own days, in its time zone.
    let days_of = match &pantry {
        Some(p) => LocalDays::of(&reads, "p.id = $1", p, from_day, to_day).await?,
        None => {
            LocalDays::of(
                &reads,
                "p.organization_id = $1",
                &organization,
                from_day,
                to_day,
            )
            .await?
        }
    };
    let scope = match &pantry {
        Some(p) => Scope::Pantry(crate::ids::PantryId::from_stored(p.clone())),
        None => Scope::Organization(crate::ids::OrganizationId::from_stored(
            organization.clone(),
        )),
    };
    let filter = ledger::Filter {
        scope: &scope,
        product: Some(product.as_str()),
    };
    let mut out = ledger::distributed_per_own_day(&reads, &filter, &days_of).await?;
    let hist_cond = if pantry.is_some() {
        " and h.pantry_id = $4"
    } else {
        ""
    };
    let imported: Vec<(String, i64)> = sqlx::query_as(&format!(
        "select h.day, cast(sum(h.quantity) as bigint) from usage_history h join usage_imports i on i.id = h.import_id \
         where h.product_id = $1 and i.status = 'done' and h.day >= $2 and h.day <= $3{hist_cond} group by h.day"
    ))
    .bind(product.as_str())
    .bind(&from)
    .bind(&to)
    .bind(pantry.clone().unwrap_or_default())
    .fetch_all(reads.pool())
    .await?;
    let mut days: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (d, q) in out.drain(..) {
        days.entry(iso(crate::zones::date_of(d))).or_default().0 += q;
    }
    for (d, q) in imported {
        days.entry(d).or_default().1 += q;
    }
    let all: Vec<DayUsage> = days
        .into_iter()
        .rev()
        .map(|(day, (distributed, imported))| DayUsage {
            day,
            distributed,
            imported,
        })
        .collect();
    let has_more = all.len() > page * PAGE;
    let days = all.into_iter().skip((page - 1) * PAGE).take(PAGE).collect();
    Ok(ProductUsage {
        product_id: product.to_string(),
        name,
        unit,
        pantry_id: pantry,
        from,
        to,
        days,
        page,
        has_more,
    })
}

/// Per-product totals for an organization over a period.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn summary(
    state: &AppState,
    caller: &Caller,
    q: &HashMap<String, String>,
) -> AppResult<UsageSummary> {
    let organization = q.get("organization").map(|s| s.trim()).unwrap_or("");
    if organization.is_empty() {
        return Err(AppError::invalid(
            "organization",
            "Say which organization: ?organization=<id>.",
        ));
    }
    let (o, place) = crate::org::service::organization_with_place(&state.db, organization).await?;
    caller.require(&place, Role::Viewer, "organization")?;
    let (from_day, to_day) = period(state, q)?;
    let (from, to) = (iso(from_day), iso(to_day));
    let page = page(q)?;
    // As in `product_usage`: figures from the read replica when in use.
    let reads = state.db.reads();
    // Each pantry's period in its own time zone.
    let days_of = LocalDays::of(
        &reads,
        "p.organization_id = $1",
        o.id.as_str(),
        from_day,
        to_day,
    )
    .await?;
    let scope = Scope::Organization(o.id.clone());
    let filter = ledger::Filter {
        scope: &scope,
        product: None,
    };
    let distributed = ledger::distributed_per_product(&reads, &filter, &days_of).await?;
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "select p.id, p.name, p.unit, \
         coalesce((select cast(sum(h.quantity) as bigint) from usage_history h join usage_imports i on i.id = h.import_id \
                   where h.product_id = p.id and i.status = 'done' and h.day >= $2 and h.day <= $3), 0) \
         from products p where p.organization_id = $1 order by p.name_key, p.id limit $4 offset $5",
    )
    .bind(o.id.as_str())
    .bind(&from)
    .bind(&to)
    .bind((PAGE + 1) as i64)
    .bind(((page - 1) * PAGE) as i64)
    .fetch_all(reads.pool())
    .await?;
    let has_more = rows.len() > PAGE;
    Ok(UsageSummary {
        organization_id: o.id.to_string(),
        from,
        to,
        products: rows
            .into_iter()
            .take(PAGE)
            .map(|(product_id, name, unit, imported)| ProductTotal {
                distributed: distributed.get(&product_id).copied().unwrap_or(0),
                product_id,
                name,
                unit,
                imported,
            })
            .collect(),
        page,
        has_more,
    })
}

/// Imported history of one pantry per (product, day), from finished
/// imports: the demand before Larder, which forecasting adds to what went
/// out. One product's when `product` is given.
pub async fn imported_per_day(
    db: &crate::db::Db,
    pantry: &str,
    product: Option<&str>,
) -> AppResult<Vec<(String, String, i64)>> {
    Ok(sqlx::query_as(
        "select h.product_id, h.day, cast(sum(h.quantity) as bigint) from usage_history h \
         join usage_imports i on i.id = h.import_id \
         where h.pantry_id = $1 and ($2 = '' or h.product_id = $2) and i.status = 'done' \
         group by h.product_id, h.day order by h.product_id, h.day",
    )
    .bind(pantry)
    .bind(product.unwrap_or(""))
    .fetch_all(db.pool())
    .await?)
}
