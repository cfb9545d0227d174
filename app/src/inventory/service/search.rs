//! Search across every pantry a person can see: "where do we have rice?",
//! with each pantry's stock and earliest best-before date.

use std::collections::HashMap;

use sqlx::Row as _;

use crate::auth::model::Role;
use crate::auth::service::Caller;
use crate::catalog::model::{Gtin, Unit};
use crate::db::{contains_pattern, Sql};
use crate::error::AppResult;
use crate::ids::{PantryId, ProductId};
use crate::input::SearchText;
use crate::inventory::model::*;
use crate::org::service::{overview, pantry_place};
use crate::state::AppState;

/// Products a search shows at most; more asks for a narrower search.
pub const SEARCH_PRODUCTS: i64 = 30;

#[tracing::instrument(level = "debug", skip_all)]
pub async fn search_stock(
    state: &AppState,
    caller: &Caller,
    q: &SearchText,
) -> AppResult<StockSearch> {
    let mut out = StockSearch {
        q: q.as_str().to_string(),
        ..Default::default()
    };
    if q.is_empty() {
        return Ok(out);
    }
    let db = &state.db;
    let cards = overview(db, caller).await?;
    let pantries: HashMap<String, (&crate::org::model::PantryCard, bool)> = cards
        .pantries
        .iter()
        .map(|c| {
            let can_move = caller.role_at(&pantry_place(&c.pantry)) >= Some(Role::Staff);
            (c.pantry.id.to_string(), (c, can_move))
        })
        .collect();
    let organizations: Vec<String> = cards
        .organizations
        .iter()
        .map(|o| o.id.to_string())
        .collect();
    if organizations.is_empty() {
        return Ok(out);
    }
    let mut sql = Sql::default();
    sql.push("select p.id, p.name, p.category, p.unit, p.organization_id from products p where p.archived_at is null and p.organization_id in ");
    sql.text_list(&organizations);
    sql.push(" and (p.name_key like ")
        .text(contains_pattern(q.as_str()))
        .push(" escape '\\'");
    if let Ok(gtin) = Gtin::parse(q.as_str(), "q") {
        sql.push(" or p.id in (select product_id from product_barcodes where gtin = ")
            .text(gtin.as_str())
            .push(")");
    }
    sql.push(") order by p.name_key, p.id limit ")
        .int(SEARCH_PRODUCTS + 1);
    let rows = sql.query().fetch_all(db.pool()).await?;
    out.more = rows.len() as i64 > SEARCH_PRODUCTS;
    let org_names: HashMap<String, String> = cards
        .organizations
        .iter()
        .map(|o| (o.id.to_string(), o.name.clone()))
        .collect();
    for r in rows.iter().take(SEARCH_PRODUCTS as usize) {
        let organization: String = r.try_get("organization_id")?;
        out.products.push(ProductAcross {
            product_id: ProductId::from_stored(r.try_get("id")?),
            name: r.try_get("name")?,
            category: r.try_get("category")?,
            unit: Unit::parse(&r.try_get::<String, _>("unit")?, "unit")?,
            organization_name: org_names.get(&organization).cloned().unwrap_or_default(),
            pantries: Vec::new(),
        });
    }
    if out.products.is_empty() {
        return Ok(out);
    }
    let ids: Vec<String> = out
        .products
        .iter()
        .map(|p| p.product_id.to_string())
        .collect();
    let mut sql = Sql::default();
    sql.push(
        "select s.pantry_id, s.product_id, s.on_hand, \
         (select min(l.best_before) from lots l where l.pantry_id = s.pantry_id \
            and l.product_id = s.product_id and l.quantity > 0) as next_best_before \
         from stock_levels s where s.on_hand > 0 and s.product_id in ",
    );
    sql.text_list(&ids);
    let mut held: HashMap<String, Vec<PantryHolding>> = HashMap::new();
    for r in sql.query().fetch_all(db.pool()).await? {
        let pantry: String = r.try_get("pantry_id")?;
        // Only the pantries this person can see.
        let Some((card, can_move)) = pantries.get(&pantry) else {
            continue;
        };
        held.entry(r.try_get("product_id")?)
            .or_default()
            .push(PantryHolding {
                pantry_id: PantryId::from_stored(pantry.clone()),
                pantry_name: card.pantry.name.clone(),
                campus_name: card.campus_name.clone(),
                on_hand: r.try_get("on_hand")?,
                next_best_before: r.try_get("next_best_before")?,
                can_move: *can_move,
            });
    }
    for p in &mut out.products {
        let mut list = held.remove(p.product_id.as_str()).unwrap_or_default();
        list.sort_by(|a, b| {
            b.on_hand
                .cmp(&a.on_hand)
                .then(a.pantry_name.cmp(&b.pantry_name))
        });
        p.pantries = list;
    }
    Ok(out)
}
