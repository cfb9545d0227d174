//! The stock checker's reads: a page of a pantry's inventory, and one
//! product at a pantry with its lots and history.

use sqlx::Row as _;

use crate::auth::model::Role;
use crate::auth::service::{Caller, Place};
use crate::catalog::model::Unit;
use crate::catalog::service as catalog;
use crate::dates::iso;
use crate::db::{contains_pattern, Db, Sql};
use crate::error::{AppError, AppResult};
use crate::events::store as events;
use crate::ids::{LotId, MovementId, PantryId, ProductId};
use crate::input::PageNumber;
use crate::inventory::cache::CacheKey;
use crate::inventory::model::*;
use crate::state::AppState;

use super::{days_after, pantry_header};

/// Rows per page of an inventory list.
pub const STOCK_PAGE: i64 = 50;

/// Movements per page of a product's history.
pub const HISTORY_PAGE: i64 = 25;

/// What counts as expiring soon, in days.
pub const EXPIRING_DAYS: i64 = 7;

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
            &[header.id.to_string()],
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
    sql.push("select * from (select p.id, p.name, p.name_key, p.category, p.category_key, p.unit, p.unit_weight_g, \
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
            let unit = Unit::parse(&r.try_get::<String, _>("unit")?, "unit")?;
            let per_unit: Option<i64> = r.try_get("unit_weight_g")?;
            Ok(StockRow {
                product_id: ProductId::from_stored(r.try_get("id")?),
                name: r.try_get("name")?,
                category: r.try_get("category")?,
                unit,
                weight_g: stock_weight_g(unit, per_unit, on_hand),
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

/// The weight of `on_hand` (in the unit's parts) when the weight of one
/// unit is known, from the product or the unit itself.
pub fn stock_weight_g(unit: Unit, per_unit_g: Option<i64>, on_hand: i64) -> Option<i64> {
    let per_unit = per_unit_g.or(unit.intrinsic_weight_g())?;
    Some((i128::from(on_hand) * i128::from(per_unit) / i128::from(unit.scale())) as i64)
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
            id: LotId::from_stored(r.try_get("id")?),
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
         m.visit_id, u.display_name, cp.name as counterpart from movements m join users u on u.id = m.actor_id \
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
            id: MovementId::from_stored(r.try_get("id")?),
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
            visit_id: r.try_get("visit_id")?,
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
                organization_id: p.organization_id.to_string(),
                campus_id: Some(p.campus_id.to_string()),
                pantry_id: Some(p.id.to_string()),
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

/// Whether the product had come into the pantry before this movement, so
/// a receipt that brings it up from none is it coming back, not arriving
/// for the first time.
pub async fn stocked_before(
    conn: &mut sqlx::AnyConnection,
    pantry: &str,
    product: &str,
    movement: &str,
) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "select count(*) from movements m join movements t on t.id = $3 \
         where m.pantry_id = $1 and m.product_id = $2 and m.quantity > 0 and m.id <> t.id \
         and (m.occurred_at < t.occurred_at or (m.occurred_at = t.occurred_at and m.id < t.id))",
    )
    .bind(pantry)
    .bind(product)
    .bind(movement)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}
