//! Usage pages: the visit counter (phone first), a visit with its
//! corrections and void, a pantry's visits and its visit rule, and the
//! usage report with its chart, CSV and print view.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::api::*;
use super::model::*;
use crate::catalog::model::Unit;
use crate::ids::{PantryId, ProductId, VisitId};
use crate::inventory::api::get_stock;
use crate::inventory::model::format_weight;
use crate::inventory::views::{encode, LiveUpdates};
use crate::ui::*;

mod counter;
mod donors;
mod import;
mod report;
mod visits;

pub use counter::VisitCounterPage;
pub use donors::{DonationForm, DonationReceiptPage, DonorPage, DonorStatementPage, DonorsPage};
pub use import::ImportHistoryPage;
pub use report::ReportPage;
pub use visits::{VisitPage, VisitsPage};

/// Opens the browser's print dialog (a handler, not an inline `onclick`,
/// which the pages' Content-Security-Policy refuses).
fn print_page() {
    let _ = window().print();
}
