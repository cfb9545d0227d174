//! The overview of a pantry, a campus or a whole organization: units and
//! weight by category, low stock and expiring lots, cached until a
//! movement in its scope lands.

use sqlx::Row as _;

use crate::auth::model::Role;
use crate::auth::service::Caller;
use crate::catalog::model::Unit;
use crate::dates::iso;
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::ids::{PantryId, ProductId};
use crate::inventory::cache::CacheKey;
use crate::inventory::model::*;
use crate::state::AppState;

use super::queries::EXPIRING_DAYS;
use super::{days_after, pantry_header};

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
                organization: h.organization_id.to_string(),
                label: h.name.clone(),
                pantries: vec![h.id.to_string()],
                condition: "s.pantry_id = $1",
                lot_condition: "l.pantry_id = $1",
                organization_totals: false,
                id: h.id.to_string(),
            })
        }
        Scope::Campus(id) => {
            let (c, place) = crate::org::service::campus_with_place(db, id.as_str()).await?;
            caller.require(&place, Role::Viewer, "campus")?;
            let tree = crate::org::service::organization_tree(db, &c.organization_id).await?;
            Ok(ScopeSql {
                organization: c.organization_id.to_string(),
                label: c.name.clone(),
                pantries: tree.pantries.iter().filter(|p| p.campus_id == c.id).map(|p| p.id.to_string()).collect(),
                condition: "s.pantry_id in (select id from pantries where campus_id = $1 and archived_at is null)",
                lot_condition: "l.pantry_id in (select id from pantries where campus_id = $1 and archived_at is null)",
                organization_totals: false,
                id: c.id.to_string(),
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
                organization: o.id.to_string(),
                label: o.name.clone(),
                pantries: tree.pantries.iter().map(|p| p.id.to_string()).collect(),
                condition: if archived_stock == 0 {
                    "s.organization_id = $1"
                } else {
                    "s.organization_id = $1 and s.pantry_id not in (select p.id from pantries p join campuses c on c.id = p.campus_id \
                     where p.organization_id = $1 and (p.archived_at is not null or c.archived_at is not null))"
                },
                lot_condition: "l.pantry_id in (select p.id from pantries p join campuses c on c.id = p.campus_id \
                                where p.organization_id = $1 and p.archived_at is null and c.archived_at is null)",
                organization_totals: archived_stock == 0,
                id: o.id.to_string(),
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
         count(case when {WEIGHT_PER_UNIT} is null then 1 end) as unweighed, \
         cast(sum(case when p.unit = 'kg' then t.on_hand else 0 end) as bigint) as kg_parts, \
         cast(sum(case when p.unit = 'lb' then t.on_hand else 0 end) as bigint) as lb_parts, \
         cast(sum(case when p.unit = 'l' then t.on_hand else 0 end) as bigint) as l_parts \
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
                measured: [
                    (Unit::Kg, "kg_parts"),
                    (Unit::L, "l_parts"),
                    (Unit::Lb, "lb_parts"),
                ]
                .into_iter()
                .map(|(u, col)| Ok((u, r.try_get::<i64, _>(col)?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()?
                .into_iter()
                .filter(|(_, q)| *q != 0)
                .collect(),
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    let low_stock = low?
        .iter()
        .map(|r| -> AppResult<LowStockRow> {
            Ok(LowStockRow {
                pantry_id: PantryId::from_stored(r.try_get("pantry_id")?),
                pantry_name: r.try_get("pantry_name")?,
                product_id: ProductId::from_stored(r.try_get("product_id")?),
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
                pantry_id: PantryId::from_stored(r.try_get("pantry_id")?),
                pantry_name: r.try_get("pantry_name")?,
                product_id: ProductId::from_stored(r.try_get("product_id")?),
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
