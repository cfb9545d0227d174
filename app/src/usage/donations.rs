//! Donations: the donor list with each donor's totals, and a printable
//! receipt per donation (a `received` movement whose source is a
//! donation). Both read the ledger, so they always agree with reports.

use super::model::{
    DonationInput, DonationLine, DonationReceipt, DonorPage, DonorTotal, DonorYear, Donors,
    ReceiptLine, StatementLine,
};
use crate::auth::model::Role;
use crate::auth::service::Caller;
use crate::catalog::model::Unit;
use crate::db::{Backend, Conn};
use crate::error::{AppError, AppResult};
use crate::events::bus::BoxFuture;
use crate::events::domain::DomainEvent;
use crate::ids::{DonationId, ProductId};
use crate::ids::{OrganizationId, PantryId};
use crate::inventory::ledger;
use crate::inventory::model::format_weight;
use crate::inventory::model::parse_text;
use crate::inventory::service as inventory;
use crate::inventory::service::{Actor, Attachment, Change, Posted};
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

/// The receipt of one donation, for anyone who may see its pantry: a
/// donation received in one form (all its products), or one `received`
/// movement from a donor.
pub async fn receipt(state: &AppState, caller: &Caller, id: &str) -> AppResult<DonationReceipt> {
    let not_found = || AppError::not_found("donation");
    // Ids are UUIDs; anything else cannot be one.
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(not_found());
    }
    let movements: Vec<String> = sqlx::query_scalar(
        "select movement_id from donation_lines where donation_id = $1 order by position",
    )
    .bind(id)
    .fetch_all(state.db.pool())
    .await?;
    if !movements.is_empty() {
        let mut lines = Vec::new();
        for m in &movements {
            lines.push(ledger::line(&state.db, m).await?.ok_or_else(not_found)?);
        }
        let note: Option<String> = sqlx::query_scalar("select note from donations where id = $1")
            .bind(id)
            .fetch_one(state.db.pool())
            .await?;
        let mut r = receipt_of(state, caller, lines).await?;
        r.receipt_no = id.to_string();
        r.note = note;
        return Ok(r);
    }
    // A line of a donation received in one form: the whole donation's
    // receipt.
    let donation: Option<String> =
        sqlx::query_scalar("select donation_id from donation_lines where movement_id = $1")
            .bind(id)
            .fetch_optional(state.db.pool())
            .await?;
    if let Some(donation) = donation {
        return Box::pin(receipt(state, caller, &donation)).await;
    }
    let line = ledger::line(&state.db, id).await?.ok_or_else(not_found)?;
    receipt_of(state, caller, vec![line]).await
}

/// The receipt of these `received` lines (one pantry, one donor), the
/// first line's id its number.
async fn receipt_of(
    state: &AppState,
    caller: &Caller,
    all: Vec<ledger::Line>,
) -> AppResult<DonationReceipt> {
    let not_found = || AppError::not_found("donation");
    let line = all.first().cloned().ok_or_else(not_found)?;
    let id = line.id.clone();
    let pantry = PantryId::from_stored(line.pantry_id.clone());
    let (header, place) = inventory::pantry_header(&state.db, &pantry).await?;
    caller.require(&place, Role::Viewer, "donation")?;
    if line.kind != "received" || line.source.as_deref() != Some("donation") {
        return Err(not_found());
    }
    let mut lines = Vec::with_capacity(all.len());
    for l in &all {
        if l.kind != "received"
            || l.source.as_deref() != Some("donation")
            || l.pantry_id != line.pantry_id
        {
            return Err(not_found());
        }
        let unit = Unit::parse(&l.unit, "unit")?;
        lines.push(ReceiptLine {
            product_name: l.product_name.clone(),
            quantity_text: unit.format(l.quantity),
            weight_g: l.weight_g,
            best_before: ledger::lot_dates(&state.db, &l.id).await?,
        });
    }
    let total_weight_g = lines.iter().filter_map(|l| l.weight_g).sum();
    let unit = Unit::parse(&line.unit, "unit")?;
    let best_before = ledger::lot_dates(&state.db, &id).await?;
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
        lines,
        total_weight_g,
    })
}

/// Products one donation form may receive.
pub const MAX_DONATION_LINES: usize = 100;

/// The donation's rows, written in the transaction that posts its lines.
#[derive(Debug)]
struct NewDonation {
    id: DonationId,
    organization_id: String,
    pantry_id: String,
    donor: Option<String>,
    note: Option<String>,
    actor_id: String,
}

impl Attachment for NewDonation {
    fn check<'a>(&'a self, _conn: &'a mut Conn, _backend: Backend) -> BoxFuture<'a, AppResult<()>> {
        Box::pin(async { Ok(()) })
    }

    fn write<'a>(
        &'a self,
        conn: &'a mut Conn,
        _backend: Backend,
        posted: &'a [Posted],
        now: i64,
    ) -> BoxFuture<'a, AppResult<Vec<DomainEvent>>> {
        Box::pin(async move {
            sqlx::query(
                "insert into donations (id, organization_id, pantry_id, donor, note, received_at, recorded_by) \
                 values ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(self.id.as_str())
            .bind(self.organization_id.as_str())
            .bind(self.pantry_id.as_str())
            .bind(self.donor.clone())
            .bind(self.note.clone())
            .bind(now)
            .bind(self.actor_id.as_str())
            .execute(&mut *conn)
            .await?;
            for (i, p) in posted.iter().enumerate() {
                sqlx::query(
                    "insert into donation_lines (donation_id, movement_id, position) values ($1, $2, $3)",
                )
                .bind(self.id.as_str())
                .bind(p.movement_id.as_str())
                .bind(i as i64)
                .execute(&mut *conn)
                .await?;
            }
            // Each line's movement carries its own event; the donation
            // only groups them for the receipt.
            Ok(vec![])
        })
    }
}

/// Receives a donation of several products in one go: every line or (when
/// any is wrong) none, with one receipt. Errors name the line.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn receive_donation(
    state: &AppState,
    caller: &Caller,
    input: &DonationInput,
) -> AppResult<DonationId> {
    let (pantry, place) = inventory::pantry_header(&state.db, &input.pantry).await?;
    caller.require(&place, Role::Staff, "pantry")?;
    if input.lines.is_empty() {
        return Err(AppError::invalid(
            "lines",
            "Add at least one product to the donation.",
        ));
    }
    if input.lines.len() > MAX_DONATION_LINES {
        return Err(AppError::invalid(
            "lines",
            format!("One donation takes at most {MAX_DONATION_LINES} lines; receive the rest as another."),
        ));
    }
    let donor = parse_text(&input.donor, "donor", 120)?;
    let note = parse_text(&input.note, "note", 500)?;
    let ids: Vec<&ProductId> = input.lines.iter().map(|l| &l.product).collect();
    let known = crate::catalog::service::products_with_ids(
        &state.db,
        pantry.organization_id.as_str(),
        &ids,
    )
    .await?;
    let today = crate::dates::today(state.clock.as_ref());
    let mut changes = Vec::with_capacity(input.lines.len());
    for (i, line) in input.lines.iter().enumerate() {
        let n = i + 1;
        let Some(product) = known.get(&line.product) else {
            return Err(AppError::invalid(
                "lines",
                format!("Line {n} is not a product of this organization's catalog."),
            ));
        };
        let on_line =
            |e: AppError| AppError::invalid("lines", format!("Line {n} ({}): {e}", product.name));
        if product.archived {
            return Err(on_line(AppError::invalid("lines", "it is archived.")));
        }
        let quantity = inventory::positive(product.unit, &line.quantity).map_err(on_line)?;
        let best_before = inventory::lot_date(today, product, &line.best_before, "best_before")
            .map_err(on_line)?;
        let weight_g = match crate::catalog::model::parse_optional_count(
            &line.weight_g,
            "weight_g",
            crate::catalog::model::MAX_WEIGHT_G,
            "the weight in grams",
        )
        .map_err(on_line)?
        {
            Some(w) => Some(w),
            None => product.weight_of(quantity, "quantity").map_err(on_line)?,
        };
        changes.push((
            product.clone(),
            Change::Received {
                quantity,
                best_before,
                source: "donation".into(),
                donor: donor.clone(),
                weight_g,
                note: None,
            },
        ));
    }
    let id = DonationId::new();
    let donation = NewDonation {
        id: id.clone(),
        organization_id: pantry.organization_id.to_string(),
        pantry_id: pantry.id.to_string(),
        donor,
        note,
        actor_id: caller.me.id.to_string(),
    };
    inventory::post_group(
        state,
        &pantry,
        changes,
        std::sync::Arc::new(donation),
        &Actor::of(caller),
    )
    .await?;
    Ok(id)
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
