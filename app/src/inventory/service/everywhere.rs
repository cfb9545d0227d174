//! One product across every pantry the person can see: its stock and lots
//! at each, the latest movements everywhere in words, and its imported
//! history by month.

use std::collections::HashMap;

use sqlx::Row as _;

use crate::auth::model::Role;
use crate::auth::service::Caller;
use crate::error::AppResult;
use crate::ids::{MovementId, PantryId, ProductId};
use crate::inventory::model::*;
use crate::org::service::{overview, pantry_place};
use crate::state::AppState;

/// Movements the product page lists across pantries.
pub const LATEST_MOVEMENTS: i64 = 30;

#[tracing::instrument(level = "debug", skip_all)]
pub async fn product_everywhere(
    state: &AppState,
    caller: &Caller,
    product: &ProductId,
) -> AppResult<ProductEverywhere> {
    let db = &state.db;
    // Also checks the caller may read the product's catalog.
    let (product, _, _) = crate::catalog::service::get(db, caller, product).await?;
    let unit = product.unit;
    let visible: HashMap<String, (String, bool)> = overview(db, caller)
        .await?
        .pantries
        .into_iter()
        .filter(|c| c.pantry.organization_id == product.organization_id)
        .map(|c| {
            let can_move = caller.role_at(&pantry_place(&c.pantry)) >= Some(Role::Staff);
            (c.pantry.id.to_string(), (c.pantry.name.clone(), can_move))
        })
        .collect();
    let ids: Vec<String> = visible.keys().cloned().collect();
    let zones = crate::org::service::pantry_zones(db.pool(), &ids).await?;
    let name_of = |id: &str| visible.get(id).map(|v| v.0.clone()).unwrap_or_default();

    let mut lots: Vec<PantryLot> = Vec::new();
    for r in sqlx::query(
        "select pantry_id, best_before, cast(sum(quantity) as bigint) as quantity from lots \
         where product_id = $1 and quantity > 0 group by pantry_id, best_before",
    )
    .bind(product.id.as_str())
    .fetch_all(db.pool())
    .await?
    {
        let pantry: String = r.try_get("pantry_id")?;
        if !visible.contains_key(&pantry) {
            continue;
        }
        lots.push(PantryLot {
            pantry_name: name_of(&pantry),
            pantry_id: PantryId::from_stored(pantry),
            best_before: r.try_get("best_before")?,
            quantity: r.try_get("quantity")?,
        });
    }
    lots.sort_by(|a, b| {
        (a.best_before.is_none(), &a.best_before, &a.pantry_name).cmp(&(
            b.best_before.is_none(),
            &b.best_before,
            &b.pantry_name,
        ))
    });

    let mut holdings: Vec<PantryHolding> = Vec::new();
    for r in sqlx::query(
        "select pantry_id, on_hand from stock_levels where product_id = $1 and on_hand > 0",
    )
    .bind(product.id.as_str())
    .fetch_all(db.pool())
    .await?
    {
        let pantry: String = r.try_get("pantry_id")?;
        let Some((name, can_move)) = visible.get(&pantry) else {
            continue;
        };
        holdings.push(PantryHolding {
            next_best_before: lots
                .iter()
                .filter(|l| l.pantry_id.as_str() == pantry)
                .find_map(|l| l.best_before.clone()),
            pantry_id: PantryId::from_stored(pantry.clone()),
            pantry_name: name.clone(),
            campus_name: String::new(),
            on_hand: r.try_get("on_hand")?,
            can_move: *can_move,
        });
    }
    holdings.sort_by(|a, b| {
        b.on_hand
            .cmp(&a.on_hand)
            .then(a.pantry_name.cmp(&b.pantry_name))
    });

    let mut movements = Vec::new();
    if !ids.is_empty() {
        let mut sql = crate::db::Sql::default();
        sql.push(
            "select m.id, m.pantry_id, m.kind, m.quantity, m.occurred_at, m.reason, m.source, m.donor, \
             m.weight_g, m.note, m.visit_id, coalesce(u.display_name, '') as display_name, cp.name as counterpart \
             from movements m left join users u on u.id = m.actor_id \
             left join pantries cp on cp.id = m.counterpart_pantry_id where m.product_id = ",
        )
        .text(product.id.as_str())
        .push(" and m.pantry_id in ")
        .text_list(&ids)
        .push(" order by m.occurred_at desc, m.id desc limit ")
            .int(LATEST_MOVEMENTS);
        for r in sql.query().fetch_all(db.pool()).await? {
            let pantry: String = r.try_get("pantry_id")?;
            let kind: String = r.try_get("kind")?;
            let Some(kind) = MovementKind::parse(&kind) else {
                continue;
            };
            let at: i64 = r.try_get("occurred_at")?;
            movements.push(PantryMovement {
                pantry_name: name_of(&pantry),
                pantry_id: PantryId::from_stored(pantry.clone()),
                movement: MovementView {
                    id: MovementId::from_stored(r.try_get("id")?),
                    kind,
                    quantity: r.try_get("quantity")?,
                    occurred_at: zones
                        .get(&pantry)
                        .cloned()
                        .unwrap_or_else(crate::zones::Zone::utc)
                        .format(at),
                    actor: r.try_get("display_name")?,
                    reason: r.try_get("reason")?,
                    source: r.try_get("source")?,
                    donor: r.try_get("donor")?,
                    weight_g: r.try_get("weight_g")?,
                    counterpart: r.try_get("counterpart")?,
                    note: r.try_get("note")?,
                    visit_id: r.try_get("visit_id")?,
                },
            });
        }
    }

    // Imported history by month, from finished imports, in the pantries
    // the person can see (and rows that named no pantry, for those who
    // see the whole organization).
    let whole_org = caller
        .role_at(&crate::org::service::org_place(
            product.organization_id.as_str(),
        ))
        .is_some();
    let mut months: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for r in sqlx::query(
        "select h.pantry_id, substr(h.day, 1, 7) as month, cast(sum(h.quantity) as bigint) as quantity \
         from usage_history h join usage_imports i on i.id = h.import_id \
         where h.product_id = $1 and i.status = 'done' group by h.pantry_id, substr(h.day, 1, 7)",
    )
    .bind(product.id.as_str())
    .fetch_all(db.pool())
    .await?
    {
        let pantry: Option<String> = r.try_get("pantry_id")?;
        let seen = match &pantry {
            Some(p) => visible.contains_key(p),
            None => whole_org,
        };
        if seen {
            *months.entry(r.try_get("month")?).or_default() += r.try_get::<i64, _>("quantity")?;
        }
    }
    Ok(ProductEverywhere {
        unit,
        holdings,
        lots,
        movements,
        imported_by_month: months.into_iter().rev().collect(),
    })
}
