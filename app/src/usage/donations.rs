//! Donations: the donor list with each donor's totals, and a printable
//! receipt per donation (a `received` movement whose source is a
//! donation). Both read the ledger, so they always agree with reports.

use super::model::{DonationLine, DonationReceipt, DonorTotal, Donors};
use crate::auth::model::Role;
use crate::auth::service::Caller;
use crate::catalog::model::Unit;
use crate::error::{AppError, AppResult};
use crate::ids::{OrganizationId, PantryId};
use crate::inventory::ledger;
use crate::inventory::model::format_weight;
use crate::inventory::service as inventory;
use crate::state::AppState;

/// What a donation with no donor recorded is listed as.
pub const ANONYMOUS: &str = "Anonymous donor";

/// The latest donations the donor list shows.
pub const RECENT: i64 = 100;

fn donor_name(donor: Option<String>) -> String {
    match donor {
        Some(d) if !d.trim().is_empty() => d,
        _ => ANONYMOUS.to_string(),
    }
}

/// The receipt of one donation, for anyone who may see its pantry.
pub async fn receipt(state: &AppState, caller: &Caller, id: &str) -> AppResult<DonationReceipt> {
    let not_found = || AppError::not_found("donation");
    // Ids are UUIDs; anything else cannot be one.
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(not_found());
    }
    let line = ledger::line(&state.db, id).await?.ok_or_else(not_found)?;
    let pantry = PantryId::from_stored(line.pantry_id.clone());
    let (header, place) = inventory::pantry_header(&state.db, &pantry).await?;
    caller.require(&place, Role::Viewer, "donation")?;
    if line.kind != "received" || line.source.as_deref() != Some("donation") {
        return Err(not_found());
    }
    let unit = Unit::parse(&line.unit, "unit")?;
    let best_before = ledger::lot_dates(&state.db, id).await?;
    Ok(DonationReceipt {
        receipt_no: line.id,
        organization_id: header.organization_id.clone(),
        organization_name: header.organization_name.clone(),
        pantry_id: header.id.clone(),
        pantry_name: header.name.clone(),
        campus_name: header.campus_name.clone(),
        received_at: crate::zones::Zone::stored(&header.time_zone).format(line.occurred_at),
        donor: donor_name(line.donor),
        product_name: line.product_name,
        quantity_text: unit.format(line.quantity),
        weight_text: line.weight_g.map(format_weight),
        best_before,
        note: line.note,
        recorded_by: line.actor_name,
    })
}

/// Every donor of the organization with their totals (heaviest first),
/// and the latest donations with their receipts.
pub async fn donors(
    state: &AppState,
    caller: &Caller,
    organization: &OrganizationId,
) -> AppResult<Donors> {
    let (o, place) =
        crate::org::service::organization_with_place(&state.db, organization.as_str()).await?;
    caller.require(&place, Role::Viewer, "organization")?;
    // The organization's zone for its totals; each pantry's for its lines.
    let zone = crate::zones::Zone::stored(&o.time_zone);
    let donors = ledger::donor_sums(&state.db, o.id.as_str())
        .await?
        .into_iter()
        .map(|d| DonorTotal {
            donor: donor_name(Some(d.donor)),
            donations: d.donations,
            weight_g: d.weight_g,
            unweighed: d.unweighed,
            last_received: zone.format(d.last_at),
        })
        .collect();
    let lines = ledger::latest_donations(&state.db, o.id.as_str(), RECENT).await?;
    let mut pantries: Vec<String> = lines.iter().map(|l| l.pantry_id.clone()).collect();
    pantries.sort();
    pantries.dedup();
    let zones = crate::org::service::pantry_zones(state.db.pool(), &pantries).await?;
    let mut recent = Vec::with_capacity(lines.len());
    for l in lines {
        let unit = Unit::parse(&l.unit, "unit")?;
        recent.push(DonationLine {
            received_at: zones
                .get(&l.pantry_id)
                .unwrap_or(&zone)
                .format(l.occurred_at),
            receipt_no: l.id,
            pantry_name: l.pantry_name,
            donor: donor_name(l.donor),
            product_name: l.product_name,
            quantity_text: unit.format(l.quantity),
            weight_text: l.weight_g.map(format_weight),
        });
    }
    Ok(Donors {
        organization_id: o.id.clone(),
        organization_name: o.name.clone(),
        donors,
        recent,
    })
}
