//! Donations: the donor list with each donor's totals, and a printable
//! receipt per donation (a `received` movement whose source is a
//! donation). Both read the ledger, so they always agree with reports.

use super::model::{
    DonationLine, DonationReceipt, DonorPage, DonorTotal, DonorYear, Donors, StatementLine,
};
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

/// One donor's page: their giving year by year and the donations of `year`
/// (the latest year they gave in when `None`), counted in the
/// organization's time zone. Also their year-end statement.
pub async fn donor_page(
    state: &AppState,
    caller: &Caller,
    organization: &OrganizationId,
    donor: &str,
    year: Option<i32>,
) -> AppResult<DonorPage> {
    let (o, place) =
        crate::org::service::organization_with_place(&state.db, organization.as_str()).await?;
    caller.require(&place, Role::Viewer, "organization")?;
    let donor = donor.trim();
    let stored = if donor == ANONYMOUS { "" } else { donor };
    let lines = ledger::donor_lines(&state.db, o.id.as_str(), stored).await?;
    if lines.is_empty() {
        return Err(AppError::NotFound(format!(
            "No donations from “{}” are recorded here.",
            donor.chars().take(80).collect::<String>()
        )));
    }
    let zone = crate::zones::Zone::stored(&o.time_zone);
    let mut years: Vec<DonorYear> = Vec::new();
    let mut dated = Vec::with_capacity(lines.len());
    for l in lines {
        let day = zone.day_of(l.occurred_at);
        let y = day.year();
        match years.iter_mut().find(|t| t.year == y) {
            Some(t) => add(t, l.weight_g),
            None => {
                let mut t = DonorYear {
                    year: y,
                    donations: 0,
                    weight_g: 0,
                    unweighed: 0,
                };
                add(&mut t, l.weight_g);
                years.push(t);
            }
        }
        dated.push((day, l));
    }
    years.sort_by(|a, b| b.year.cmp(&a.year));
    let year = year
        .filter(|y| years.iter().any(|t| t.year == *y))
        .unwrap_or(years[0].year);
    let total = years
        .iter()
        .find(|t| t.year == year)
        .cloned()
        .unwrap_or(DonorYear {
            year,
            donations: 0,
            weight_g: 0,
            unweighed: 0,
        });
    let mut out = Vec::new();
    for (day, l) in dated.into_iter().filter(|(d, _)| d.year() == year) {
        let unit = Unit::parse(&l.unit, "unit")?;
        out.push(StatementLine {
            receipt_no: l.id,
            date: crate::dates::iso(day),
            pantry_name: l.pantry_name,
            product_name: l.product_name,
            quantity_text: unit.format(l.quantity),
            weight_g: l.weight_g,
        });
    }
    Ok(DonorPage {
        organization_id: o.id.clone(),
        organization_name: o.name.clone(),
        donor: donor_name(Some(stored.to_string())),
        years,
        year,
        lines: out,
        total,
    })
}

fn add(t: &mut DonorYear, weight_g: Option<i64>) {
    t.donations += 1;
    match weight_g {
        Some(w) => t.weight_g += w,
        None => t.unweighed += 1,
    }
}

/// A donor's year-end statement as CSV: one line per donation, then the
/// year's totals.
pub fn statement_csv(page: &DonorPage) -> String {
    let mut out = Vec::new();
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .flexible(true)
            .from_writer(&mut out);
        let cell = |s: &str| crate::spreadsheet::cell(s).into_owned();
        // Writing to memory cannot fail.
        let _ = w.write_record([
            cell(&format!(
                "Donations from {} to {}",
                page.donor, page.organization_name
            )),
            page.year.to_string(),
        ]);
        let _ = w.write_record([
            "Date",
            "Receipt",
            "Pantry",
            "Item",
            "Quantity",
            "Weight (kg)",
        ]);
        for l in &page.lines {
            let _ = w.write_record([
                l.date.clone(),
                l.receipt_no.clone(),
                cell(&l.pantry_name),
                cell(&l.product_name),
                cell(&l.quantity_text),
                l.weight_g.map(kilograms).unwrap_or_default(),
            ]);
        }
        let _ = w.write_record([
            "Total".to_string(),
            format!("{} donations", page.total.donations),
            String::new(),
            String::new(),
            String::new(),
            kilograms(page.total.weight_g),
        ]);
        let _ = w.flush();
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Grams as kilograms with three decimals, exact (`1234` is `1.234`).
fn kilograms(grams: i64) -> String {
    let sign = if grams < 0 { "-" } else { "" };
    let g = grams.unsigned_abs();
    format!("{sign}{}.{:03}", g / 1000, g % 1000)
}

#[cfg(test)]
mod tests {
    #[test]
    fn kilograms_are_exact() {
        assert_eq!(super::kilograms(1234), "1.234");
        assert_eq!(super::kilograms(5), "0.005");
        assert_eq!(super::kilograms(12_000), "12.000");
    }
}
