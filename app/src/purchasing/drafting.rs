//! Orders drafted for people: from a pantry's recommendations, and from a
//! stock issue's proposal. Each product comes from the supplier that sells
//! it with the cheapest pack per unit (priced offers before unpriced ones),
//! rounded up to whole packs, into that supplier's open draft at the
//! pantry when there is one.

use std::collections::BTreeMap;

use sqlx::Row as _;

use super::model::*;
use super::orders::{create_order, set_line};
use super::suppliers::pack_parts;
use crate::auth::model::Role;
use crate::auth::service::Caller;
use crate::catalog::model::Unit;
use crate::db::Db;
use crate::error::AppResult;
use crate::ids::{PantryId, PurchaseOrderId, SupplierId, SupplierItemId};
use crate::inventory::service as inventory;
use crate::state::AppState;

/// One item a supplier offers for a product, with what the next delivery
/// depends on.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub item_id: SupplierItemId,
    pub supplier_id: SupplierId,
    pub supplier_name: String,
    pub product_id: String,
    pub sku: String,
    /// The product's stored parts one pack holds.
    pub parts_per_pack: i64,
    pub price_cents: Option<i64>,
    pub lead_time_days: i64,
    /// ISO weekdays the supplier takes orders; empty for any day.
    pub order_days: Vec<u8>,
}

/// Every available item tied to a product, of the organization's active
/// suppliers, with its pack size as typed (units differ by product).
pub struct Offers(Vec<(Offer, String)>);

impl Offers {
    pub async fn of(db: &Db, organization: &str) -> AppResult<Self> {
        let rows = sqlx::query(
            "select i.id, i.supplier_id, s.name, i.product_id, i.sku, i.pack_size, i.price_cents, \
             s.lead_time_days, s.order_days \
             from supplier_items i join suppliers s on s.id = i.supplier_id \
             where i.organization_id = $1 and i.available = 1 and i.product_id is not null \
             and s.archived_at is null",
        )
        .bind(organization)
        .fetch_all(db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let days: String = r.try_get("order_days")?;
                Ok((
                    Offer {
                        item_id: SupplierItemId::from_stored(r.try_get("id")?),
                        supplier_id: SupplierId::from_stored(r.try_get("supplier_id")?),
                        supplier_name: r.try_get("name")?,
                        product_id: r.try_get("product_id")?,
                        sku: r.try_get("sku")?,
                        parts_per_pack: 0,
                        price_cents: r.try_get("price_cents")?,
                        lead_time_days: r.try_get("lead_time_days")?,
                        order_days: stored_order_days(&days),
                    },
                    r.try_get("pack_size")?,
                ))
            })
            .collect::<AppResult<Vec<_>>>()
            .map(Self)
    }

    /// The cheapest pack per unit of the product, if anyone sells it.
    pub fn best(&self, product: &str, unit: Unit) -> Option<Offer> {
        self.0
            .iter()
            .filter(|(o, _)| o.product_id == product)
            .filter_map(|(o, size)| {
                let parts = pack_parts(unit, size).ok()?;
                Some(Offer {
                    parts_per_pack: parts,
                    ..o.clone()
                })
            })
            .min_by(|a, b| {
                let per = |o: &Offer| {
                    o.price_cents
                        .map_or(f64::INFINITY, |c| c as f64 / o.parts_per_pack as f64)
                };
                per(a).total_cmp(&per(b))
            })
    }
}

/// Whole packs holding at least `parts`, and at least one.
pub fn packs_for(parts: i64, per_pack: i64) -> i64 {
    ((parts + per_pack - 1) / per_pack.max(1)).max(1)
}

/// Puts the lines into the supplier's open draft at the pantry, or a new
/// draft; returns the order.
pub async fn into_draft(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    supplier: &SupplierId,
    lines: &[(SupplierItemId, i64)],
    note: &str,
) -> AppResult<PurchaseOrderId> {
    let existing: Option<String> = sqlx::query_scalar(
        "select id from purchase_orders where pantry_id = $1 and supplier_id = $2 and status = 'draft' \
         order by number desc limit 1",
    )
    .bind(pantry.as_str())
    .bind(supplier.as_str())
    .fetch_optional(state.db.pool())
    .await?;
    let order = match existing {
        Some(id) => PurchaseOrderId::from_stored(id),
        None => create_order(state, caller, pantry, supplier, note).await?,
    };
    for (item, packs) in lines {
        set_line(state, caller, &order, item, &packs.to_string()).await?;
    }
    Ok(order)
}

/// Drafts orders from what the forecasts say the pantry should order:
/// one draft per supplier; products nobody sells are named.
pub async fn draft_from_recommendations(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
) -> AppResult<Drafted> {
    let (header, place) = inventory::pantry_header(&state.db, pantry).await?;
    caller.require(&place, Role::Manager, "pantry")?;
    let report = crate::forecasts::service::recommendations(state, caller, pantry).await?;
    let offers = Offers::of(&state.db, header.organization_id.as_str()).await?;
    let mut drafted = Drafted {
        orders: Vec::new(),
        unsupplied: Vec::new(),
    };
    // supplier → (name, [(item, packs)])
    let mut plan: BTreeMap<String, (String, Vec<(SupplierItemId, i64)>)> = BTreeMap::new();
    for rec in report.order.iter().filter(|r| r.order_quantity > 0.0) {
        let needed = (rec.order_quantity * rec.unit.scale() as f64).ceil() as i64;
        let Some(best) = offers.best(rec.product_id.as_str(), rec.unit) else {
            drafted.unsupplied.push(rec.product_name.clone());
            continue;
        };
        plan.entry(best.supplier_id.to_string())
            .or_insert_with(|| (best.supplier_name.clone(), Vec::new()))
            .1
            .push((best.item_id, packs_for(needed, best.parts_per_pack)));
    }
    for (supplier, (name, items)) in plan {
        let supplier = SupplierId::from_stored(supplier);
        let order = into_draft(
            state,
            caller,
            pantry,
            &supplier,
            &items,
            "Drafted from the recommendations",
        )
        .await?;
        let number: i64 = sqlx::query_scalar("select number from purchase_orders where id = $1")
            .bind(order.as_str())
            .fetch_one(state.db.pool())
            .await?;
        drafted.orders.push((order, order_label(number), name));
    }
    Ok(drafted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_round_up_and_never_to_nothing() {
        assert_eq!(packs_for(25, 24), 2);
        assert_eq!(packs_for(24, 24), 1);
        assert_eq!(packs_for(0, 24), 1);
        assert_eq!(packs_for(1, 1), 1);
    }
}
