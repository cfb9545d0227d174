//! Stock, lots and movements: the shared types.

use serde::{Deserialize, Serialize};

use crate::catalog::model::{Product, Unit};
use crate::error::AppError;
use crate::ids::{CampusId, LotId, MovementId, OrganizationId, PantryId, ProductId};

/// The kinds of stock movement: the only ways stock changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MovementKind {
    Received,
    Distributed,
    Adjusted,
    Transferred,
    Discarded,
}

impl MovementKind {
    pub const ALL: [MovementKind; 5] = [
        Self::Received,
        Self::Distributed,
        Self::Adjusted,
        Self::Transferred,
        Self::Discarded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Distributed => "distributed",
            Self::Adjusted => "adjusted",
            Self::Transferred => "transferred",
            Self::Discarded => "discarded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Received => "Received",
            Self::Distributed => "Distributed",
            Self::Adjusted => "Adjusted",
            Self::Transferred => "Transferred",
            Self::Discarded => "Discarded",
        }
    }
}

/// Where received stock came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReceiveSource {
    Donation,
    Purchase,
}

impl ReceiveSource {
    pub fn parse(s: &str, field: &str) -> Result<Self, AppError> {
        match s.trim() {
            "donation" | "" => Ok(Self::Donation),
            "purchase" => Ok(Self::Purchase),
            other => Err(AppError::invalid(
                field,
                format!("“{other}” is not a source; choose donation or purchase."),
            )),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Donation => "donation",
            Self::Purchase => "purchase",
        }
    }
}

/// Why stock was thrown away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiscardReason {
    Expired,
    Damaged,
    Recalled,
    Other,
}

impl DiscardReason {
    pub const ALL: [DiscardReason; 4] = [Self::Expired, Self::Damaged, Self::Recalled, Self::Other];

    pub fn parse(s: &str, field: &str) -> Result<Self, AppError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| {
                AppError::invalid(
                    field,
                    "Choose why it was discarded: expired, damaged, recalled or other.",
                )
            })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Damaged => "damaged",
            Self::Recalled => "recalled",
            Self::Other => "other",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Expired => "Expired",
            Self::Damaged => "Damaged",
            Self::Recalled => "Recalled",
            Self::Other => "Other",
        }
    }
}

/// A best-before date, `YYYY-MM-DD`, between 2000 and 2100.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BestBefore(String);

impl BestBefore {
    /// A day of the calendar between 2000 and 2100, written `YYYY-MM-DD`.
    #[cfg(feature = "ssr")]
    pub fn parse(input: &str, field: &str) -> Result<Self, AppError> {
        crate::dates::parse_field(input, field, 2000..=2100).map(|d| Self(crate::dates::iso(d)))
    }

    /// Parses an optional date ("" is none).
    #[cfg(feature = "ssr")]
    pub fn parse_optional(input: &str, field: &str) -> Result<Option<Self>, AppError> {
        if input.trim().is_empty() {
            Ok(None)
        } else {
            Self::parse(input, field).map(Some)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_stored(s: String) -> Self {
        Self(s)
    }
}

/// A short free-text line (a note, a reason, a donor): trimmed, at most
/// `max` characters, no control characters. Empty is none.
pub fn parse_text(input: &str, field: &str, max: usize) -> Result<Option<String>, AppError> {
    let s = crate::input::clean_text(input, field)?;
    if s.is_empty() {
        return Ok(None);
    }
    if s.chars().count() > max {
        return Err(AppError::invalid(
            field,
            format!("Keep it to {max} characters."),
        ));
    }
    Ok(Some(s))
}

/// The pantry a stock page is about, with the way up to its organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PantryHeader {
    pub id: PantryId,
    pub name: String,
    pub campus_id: CampusId,
    pub campus_name: String,
    pub organization_id: OrganizationId,
    pub organization_name: String,
    /// The IANA time zone the pantry counts its days in.
    pub time_zone: String,
}

/// Which rows an inventory list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StockFilter {
    /// Every product of the catalog, with what this pantry holds.
    All,
    /// What the pantry holds: products with no stock hidden.
    #[default]
    InStock,
    Low,
    Expiring,
}

impl StockFilter {
    pub fn parse(s: &str) -> Self {
        match s {
            "all" => Self::All,
            "low" => Self::Low,
            "expiring" => Self::Expiring,
            _ => Self::InStock,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::InStock => "in_stock",
            Self::Low => "low",
            Self::Expiring => "expiring",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StockSort {
    #[default]
    Name,
    Category,
    OnHand,
    BestBefore,
}

impl StockSort {
    pub fn parse(s: &str) -> Self {
        match s {
            "category" => Self::Category,
            "on_hand" => Self::OnHand,
            "best_before" => Self::BestBefore,
            _ => Self::Name,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Category => "category",
            Self::OnHand => "on_hand",
            Self::BestBefore => "best_before",
        }
    }
}

/// A search of one pantry's stock.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct StockQuery {
    pub q: crate::input::SearchText,
    pub category: crate::input::SearchText,
    pub filter: StockFilter,
    pub sort: StockSort,
    pub page: crate::input::PageNumber,
}

/// One product's line in a pantry's inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockRow {
    pub product_id: ProductId,
    pub name: String,
    pub category: String,
    pub unit: Unit,
    pub on_hand: i64,
    /// The weight on hand, in grams, when the weight of one unit is known.
    pub weight_g: Option<i64>,
    pub minimum: i64,
    /// Below its minimum.
    pub low: bool,
    /// The earliest best-before date among lots with stock.
    pub next_best_before: Option<String>,
    /// Units with a best-before date within the expiry window.
    pub expiring: i64,
    /// Units already past their best-before date.
    pub expired: i64,
}

impl StockRow {
    pub fn on_hand_text(&self) -> String {
        self.unit.format(self.on_hand)
    }

    /// The weight on hand as the list and its CSV show it: none for
    /// nothing held or an unknown weight.
    pub fn weight_text(&self) -> Option<String> {
        self.weight_g
            .filter(|_| self.on_hand > 0)
            .map(format_weight)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockPage {
    pub pantry: PantryHeader,
    pub rows: Vec<StockRow>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    pub categories: Vec<String>,
    pub expiring_days: i64,
    /// The caller may record movements here.
    pub can_move: bool,
    /// The position of the newest event when this page was read; the live
    /// stream resumes after it.
    pub as_of: i64,
}

impl StockPage {
    pub fn pages(&self) -> i64 {
        ((self.total + self.per_page - 1) / self.per_page).max(1)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotView {
    pub id: LotId,
    pub best_before: Option<String>,
    pub quantity: i64,
    pub expired: bool,
    pub expiring: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovementView {
    pub id: MovementId,
    pub kind: MovementKind,
    /// Signed change to this pantry's stock.
    pub quantity: i64,
    pub occurred_at: String,
    pub actor: String,
    pub reason: Option<String>,
    pub source: Option<String>,
    pub donor: Option<String>,
    pub weight_g: Option<i64>,
    pub counterpart: Option<String>,
    pub note: Option<String>,
    /// The visit it went out with (or came back from).
    #[serde(default)]
    pub visit_id: Option<String>,
}

/// The notes a visit's compensating movements carry (see
/// `usage::service::compensations`).
pub const VISIT_VOIDED_NOTE: &str = "Visit voided";
pub const VISIT_CORRECTED_NOTE: &str = "Visit corrected";

impl MovementView {
    /// What happened, in the words people use at a pantry: "Given out",
    /// "Returned (visit voided)", "Moved to Library Pantry".
    pub fn what_happened(&self) -> String {
        let up = self.quantity > 0;
        match self.kind {
            MovementKind::Received if self.source.as_deref() == Some("purchase") => "Bought".into(),
            MovementKind::Received if self.source.as_deref() == Some("donation") => {
                "Donated".into()
            }
            MovementKind::Received => "Received".into(),
            MovementKind::Distributed if !up && self.visit_id.is_some() => {
                "Given out at a visit".into()
            }
            MovementKind::Distributed if !up => "Given out".into(),
            MovementKind::Distributed => match self.note.as_deref() {
                Some(VISIT_VOIDED_NOTE) => "Returned (visit voided)".into(),
                Some(VISIT_CORRECTED_NOTE) => "Returned (visit corrected)".into(),
                _ => "Returned".into(),
            },
            MovementKind::Adjusted if up => "Counted more".into(),
            MovementKind::Adjusted => "Counted less".into(),
            MovementKind::Transferred => match (&self.counterpart, up) {
                (Some(c), true) => format!("Moved here from {c}"),
                (Some(c), false) => format!("Moved to {c}"),
                (None, true) => "Moved here".into(),
                (None, false) => "Moved away".into(),
            },
            MovementKind::Discarded => match self.reason.as_deref() {
                Some(r) => format!("Thrown away ({})", r.to_lowercase()),
                None => "Thrown away".into(),
            },
        }
    }
}

/// A product at one pantry: its stock, lots and history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductStockView {
    pub pantry: PantryHeader,
    pub product: Product,
    pub on_hand: i64,
    pub minimum: i64,
    pub lots: Vec<LotView>,
    pub movements: Vec<MovementView>,
    pub movements_total: i64,
    pub page: i64,
    pub per_page: i64,
    /// Other active pantries of the organization, for transfers.
    pub transfer_to: Vec<(PantryId, String)>,
    pub can_move: bool,
    pub can_manage: bool,
}

/// A search across every pantry the person can see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StockSearch {
    pub q: String,
    pub products: Vec<ProductAcross>,
    /// More products matched than are shown.
    pub more: bool,
}

/// A product found by a search, with its stock at each pantry that holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductAcross {
    pub product_id: ProductId,
    pub name: String,
    pub category: String,
    pub unit: Unit,
    pub organization_name: String,
    /// Pantries holding some, most first.
    pub pantries: Vec<PantryHolding>,
}

impl ProductAcross {
    pub fn total(&self) -> i64 {
        self.pantries.iter().map(|p| p.on_hand).sum()
    }
}

/// One pantry's stock of a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PantryHolding {
    pub pantry_id: PantryId,
    pub pantry_name: String,
    pub campus_name: String,
    pub on_hand: i64,
    /// The earliest best-before date among its lots.
    pub next_best_before: Option<String>,
    /// The person may move stock out of this pantry.
    pub can_move: bool,
}

/// A product across every pantry the person can see, for its page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductEverywhere {
    pub unit: Unit,
    /// Pantries holding some, most first.
    pub holdings: Vec<PantryHolding>,
    /// Lots with stock, soonest best-before first.
    pub lots: Vec<PantryLot>,
    /// The latest movements anywhere, newest first.
    pub movements: Vec<PantryMovement>,
    /// Imported history (before Larder), `YYYY-MM` and quantity, newest first.
    pub imported_by_month: Vec<(String, i64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PantryLot {
    pub pantry_id: PantryId,
    pub pantry_name: String,
    pub best_before: Option<String>,
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PantryMovement {
    pub pantry_id: PantryId,
    pub pantry_name: String,
    pub movement: MovementView,
}

/// What a recorded movement left behind, for the confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovementReceipt {
    pub movement_id: MovementId,
    pub product_name: String,
    pub quantity_text: String,
    pub on_hand: i64,
    pub on_hand_text: String,
}

/// Units and weight of one category in an overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryTotals {
    pub category: String,
    /// Products with stock.
    pub products: i64,
    /// Items counted each or by the pack.
    pub units: i64,
    /// Known weight, in grams.
    pub weight_g: i64,
    /// Products in stock whose weight is unknown (not in `weight_g`).
    pub unweighed: i64,
    /// Products sold by weight or volume, in their own unit (kg, lb, l).
    #[serde(default)]
    pub measured: Vec<(Unit, i64)>,
}

impl CategoryTotals {
    /// "12 items · 10 l".
    pub fn quantity_text(&self) -> String {
        crate::catalog::model::mixed_quantity(self.units, &self.measured)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LowStockRow {
    pub pantry_id: PantryId,
    pub pantry_name: String,
    pub product_id: ProductId,
    pub product_name: String,
    pub unit: Unit,
    pub on_hand: i64,
    pub minimum: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiringLot {
    pub pantry_id: PantryId,
    pub pantry_name: String,
    pub product_id: ProductId,
    pub product_name: String,
    pub unit: Unit,
    pub best_before: String,
    pub quantity: i64,
}

/// Stock at a pantry, a campus or a whole organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockOverview {
    pub scope_label: String,
    pub categories: Vec<CategoryTotals>,
    pub low_stock: Vec<LowStockRow>,
    pub low_stock_total: i64,
    pub expiring: Vec<ExpiringLot>,
    pub expiring_total: i64,
    pub expiring_days: i64,
}

/// Formats grams for people: `850 g`, `12.4 kg`.
pub fn format_weight(grams: i64) -> String {
    if grams.abs() < 1000 {
        format!("{grams} g")
    } else {
        let tenths = (grams as f64 / 100.0).round() / 10.0;
        format!("{tenths} kg")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_before_dates_are_real_days() {
        assert!(BestBefore::parse("2027-03-31", "d").is_ok());
        assert!(BestBefore::parse("2028-02-29", "d").is_ok());
        assert!(BestBefore::parse("2027-02-29", "d").is_err());
        assert!(BestBefore::parse("2027-13-01", "d").is_err());
        assert!(BestBefore::parse("31/03/2027", "d").is_err());
        assert!(BestBefore::parse("1900-01-01", "d").is_err());
        assert_eq!(BestBefore::parse_optional(" ", "d").unwrap(), None);
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(
            parse_text("  a  b ", "n", 5).unwrap().as_deref(),
            Some("a b")
        );
        assert_eq!(parse_text("", "n", 5).unwrap(), None);
        assert!(parse_text("abcdef", "n", 5).is_err());
    }

    #[test]
    fn weights_read_naturally() {
        assert_eq!(format_weight(850), "850 g");
        assert_eq!(format_weight(12_430), "12.4 kg");
    }
}
