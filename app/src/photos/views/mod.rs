//! The intake page, phone first: photograph a box of donations (or pick
//! or drop files), see each photo optimized and uploaded, watch the
//! analysis, then confirm, edit or reject the suggested lines.
//!
//! One file per part: the page ([`intake_page`]), taking photos
//! ([`capture`]), the photo grid ([`photo_grid`]), the lines
//! ([`lines`]), and what the pantry page shows of intakes ([`pantry`]).
//! The state the parts share (uploads under way, drafts of suggested
//! lines, lines added by hand) is here.

mod capture;
mod intake_page;
mod lines;
mod pantry;
mod photo_grid;

pub use intake_page::IntakePage;
pub use pantry::{NewIntakeButton, PantryIntakePage, RecentIntakes};

use leptos::prelude::*;

use crate::ids::{PhotoId, ProductId};

/// One file on its way: optimizing, uploading, done or refused.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum Upload {
    Optimizing,
    /// Kept on the phone until the connection is back.
    Waiting {
        saving: String,
    },
    Uploading {
        saving: String,
    },
    Done {
        saving: String,
    },
    Failed(String),
}

#[derive(Debug, Clone, PartialEq)]
struct Pending {
    /// The photo's key in the phone's queue (negative: never queued).
    key: f64,
    name: String,
    state: Upload,
}

/// What staff may change on a suggested line before confirming it. Its
/// signals belong to the page (see [`Suggestions`]).
#[derive(Clone, Copy)]
struct Draft {
    quantity: RwSignal<String>,
    best_before: RwSignal<String>,
    keep: RwSignal<bool>,
    touched: RwSignal<bool>,
}

/// A line staff added by hand (from a photo's match or the product
/// search); its signals belong to the page, like a [`Draft`]'s.
#[derive(Clone)]
struct Added {
    product: ProductId,
    name: String,
    unit: String,
    quantity: RwSignal<String>,
    best_before: RwSignal<String>,
    /// The photo that shows it ("" for none): confirmed, that photo joins
    /// the pantry's matching set.
    photo: RwSignal<String>,
}

/// Adds a line for `product` unless there is one.
fn add_line(
    added: RwSignal<Vec<Added>>,
    page: Owner,
    product: ProductId,
    name: String,
    unit: String,
    photo: Option<PhotoId>,
) {
    if added.with_untracked(|a| a.iter().any(|l| l.product == product)) {
        return;
    }
    let line = page.with(|| Added {
        product,
        name,
        unit,
        quantity: RwSignal::new("1".into()),
        best_before: RwSignal::new(String::new()),
        photo: RwSignal::new(photo.map(|p| p.to_string()).unwrap_or_default()),
    });
    added.update(|a| a.push(line));
}
