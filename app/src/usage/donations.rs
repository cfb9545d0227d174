//! Donations: the donor list with each donor's totals, and a printable
//! receipt per donation (a `received` movement whose source is a
//! donation). Both read the ledger, so they always agree with reports.

use sqlx::Row as _;

use super::model::{DonationLine, DonationReceipt, DonorTotal, Donors};
use crate::auth::model::Role;
use crate::auth::service::Caller;
use crate::catalog::model::Unit;
use crate::error::{AppError, AppResult};
use crate::ids::{OrganizationId, PantryId};
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
    let row = sqlx::query(
        "select m.id, m.pantry_id, m.kind, m.source, m.donor, m.quantity, m.weight_g, m.note, m.occurred_at, \
         p.name as product_name, p.unit, coalesce(u.display_name, '') as recorded_by \
         from movements m join products p on p.id = m.product_id left join users u on u.id = m.actor_id \
         where m.id = $1",
    )
    .bind(id)
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(not_found)?;
    let pantry = PantryId(row.try_get("pantry_id")?);
    let (header, place) = inventory::pantry_header(&state.db, &pantry).await?;
    caller.require(&place, Role::Viewer, "donation")?;
    let (kind, source): (String, Option<String>) = (row.try_get("kind")?, row.try_get("source")?);
    if kind != "received" || source.as_deref() != Some("donation") {
        return Err(not_found());
    }
    let unit = Unit::parse(&row.try_get::<String, _>("unit")?, "unit")?;
    let best_before: Vec<String> = sqlx::query_scalar(
        "select l.best_before from movement_lots ml join lots l on l.id = ml.lot_id \
         where ml.movement_id = $1 and l.best_before is not null order by l.best_before",
    )
    .bind(id)
    .fetch_all(state.db.pool())
    .await?;
    Ok(DonationReceipt {
        receipt_no: row.try_get("id")?,
        organization_id: header.organization_id.clone(),
        organization_name: header.organization_name.clone(),
        pantry_id: header.id.clone(),
        pantry_name: header.name.clone(),
        campus_name: header.campus_name.clone(),
        received_at: crate::zones::Zone::stored(&header.time_zone)
            .format(row.try_get("occurred_at")?),
        donor: donor_name(row.try_get("donor")?),
        product_name: row.try_get("product_name")?,
        quantity_text: unit.format(row.try_get("quantity")?),
        weight_text: row
            .try_get::<Option<i64>, _>("weight_g")?
            .map(format_weight),
        best_before,
        note: row.try_get("note")?,
        recorded_by: row.try_get("recorded_by")?,
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
    let totals = sqlx::query(
        "select coalesce(m.donor, '') as donor, count(*) as donations, \
         cast(sum(coalesce(m.weight_g, 0)) as bigint) as weight_g, \
         count(case when m.weight_g is null then 1 end) as unweighed, max(m.occurred_at) as last_at \
         from movements m where m.organization_id = $1 and m.kind = 'received' and m.source = 'donation' \
         group by coalesce(m.donor, '') order by weight_g desc, donations desc, donor",
    )
    .bind(o.id.as_str())
    .fetch_all(state.db.pool())
    .await?;
    // The organization's zone for its totals; each pantry's for its lines.
    let zone = crate::zones::Zone::stored(&o.time_zone);
    let mut donors = Vec::with_capacity(totals.len());
    for r in &totals {
        donors.push(DonorTotal {
            donor: donor_name(r.try_get("donor")?),
            donations: r.try_get("donations")?,
            weight_g: r.try_get("weight_g")?,
            unweighed: r.try_get("unweighed")?,
            last_received: zone.format(r.try_get("last_at")?),
        });
    }
    let rows = sqlx::query(
        "select m.id, m.donor, m.quantity, m.weight_g, m.occurred_at, p.name as product_name, p.unit, pa.name as pantry_name, \
         coalesce(pa.time_zone, $3) as time_zone \
         from movements m join products p on p.id = m.product_id join pantries pa on pa.id = m.pantry_id \
         where m.organization_id = $1 and m.kind = 'received' and m.source = 'donation' \
         order by m.occurred_at desc, m.id desc limit $2",
    )
    .bind(o.id.as_str())
    .bind(RECENT)
    .bind(&o.time_zone)
    .fetch_all(state.db.pool())
    .await?;
    let mut recent = Vec::with_capacity(rows.len());
    for r in &rows {
        let unit = Unit::parse(&r.try_get::<String, _>("unit")?, "unit")?;
        recent.push(DonationLine {
            receipt_no: r.try_get("id")?,
            received_at: crate::zones::Zone::stored(&r.try_get::<String, _>("time_zone")?)
                .format(r.try_get("occurred_at")?),
            pantry_name: r.try_get("pantry_name")?,
            donor: donor_name(r.try_get("donor")?),
            product_name: r.try_get("product_name")?,
            quantity_text: unit.format(r.try_get("quantity")?),
            weight_text: r.try_get::<Option<i64>, _>("weight_g")?.map(format_weight),
        });
    }
    Ok(Donors {
        organization_id: o.id.clone(),
        organization_name: o.name.clone(),
        donors,
        recent,
    })
}
