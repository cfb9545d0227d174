//! Stock pages: a pantry's inventory, a product at a pantry with its lots,
//! history and movement forms, the quick distribute flow for the counter,
//! and the stock overview card. All of them follow changes live.
//!
//! One file per page ([`inventory_page`], [`product_page`],
//! [`quick_distribute`]), the overview card ([`overview_card`]) and the
//! live updates every page follows ([`live`]); the small helpers they share
//! are here.

mod everywhere;
mod inventory_page;
mod live;
mod overview_card;
mod product_page;
mod quick_distribute;
mod search_page;

pub use everywhere::ProductEverywhereCard;
pub use inventory_page::InventoryPage;
pub use live::{LiveStream, LiveUpdates};
pub use overview_card::StockOverviewCard;
pub use product_page::ProductStockPage;
pub use quick_distribute::QuickDistributePage;
pub use search_page::SearchPage;

use super::model::*;

/// Percent-encodes a query value.
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub(crate) fn pantry_trail(
    p: &PantryHeader,
    last: Vec<(String, Option<String>)>,
) -> Vec<(String, Option<String>)> {
    let mut trail = vec![
        (
            p.organization_name.clone(),
            Some(format!("/organizations/{}", p.organization_id)),
        ),
        (
            p.campus_name.clone(),
            Some(format!("/campuses/{}", p.campus_id)),
        ),
        (p.name.clone(), Some(format!("/pantries/{}", p.id))),
    ];
    trail.extend(last);
    trail
}
