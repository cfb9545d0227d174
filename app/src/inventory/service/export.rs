//! The inventory list as CSV: every page of exactly the list the page
//! shows (the same query, filter and sort), in the words the page uses.

use super::super::model::*;
use super::queries::stock_page;
use crate::auth::service::Caller;
use crate::error::AppResult;
use crate::ids::PantryId;
use crate::input::PageNumber;
use crate::state::AppState;

/// The CSV's columns, in order.
pub const COLUMNS: [&str; 9] = [
    "Product",
    "Category",
    "On hand",
    "Unit",
    "Best before",
    "Weight",
    "Low",
    "Expiring",
    "Expired",
];

/// The whole list for `query` (all its pages) as CSV, and a file name.
pub async fn stock_csv(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    query: &StockQuery,
) -> AppResult<(String, String)> {
    let mut rows = Vec::new();
    let mut page = 1;
    let header = loop {
        let q = StockQuery {
            page: PageNumber::parse(page, "page")?,
            ..query.clone()
        };
        let p = stock_page(state, caller, pantry, &q).await?;
        let last = p.page >= p.pages();
        rows.extend(p.rows);
        if last {
            break p.pantry;
        }
        page += 1;
    };
    let mut out = Vec::new();
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        // Writing to memory cannot fail.
        let _ = w.write_record(COLUMNS);
        for r in &rows {
            let unit = r.unit;
            let amount = |parts: i64| {
                if parts > 0 {
                    unit.format(parts)
                } else {
                    String::new()
                }
            };
            let record = [
                r.name.clone(),
                r.category.clone(),
                r.on_hand_text(),
                unit.as_str().to_string(),
                r.next_best_before.clone().unwrap_or_default(),
                r.weight_text().unwrap_or_default(),
                if r.low { "yes".into() } else { String::new() },
                amount(r.expiring),
                amount(r.expired),
            ];
            let _ = w.write_record(
                record
                    .iter()
                    .map(|f| crate::spreadsheet::cell(f).into_owned()),
            );
        }
        let _ = w.flush();
    }
    let name = format!(
        "inventory-{}-{}.csv",
        crate::spreadsheet::file_slug(&header.name),
        query.filter.as_str().replace('_', "-")
    );
    Ok((name, String::from_utf8_lossy(&out).into_owned()))
}
