//! Visit and report types, shared by the server and the browser.

use serde::{Deserialize, Serialize};

use crate::catalog::model::Unit;
use crate::error::AppError;
use crate::ids::{OrganizationId, PantryId, ProductId, VisitId};
use crate::inventory::model::PantryHeader;

/// One line of a visit as typed: a product and a quantity in its unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineInput {
    pub product: ProductId,
    pub quantity: String,
}

/// A visit as the volunteer entered it. Household fields and the client
/// reference are optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitInput {
    pub pantry: PantryId,
    pub lines: Vec<LineInput>,
    #[serde(default)]
    pub adults: String,
    #[serde(default)]
    pub children: String,
    #[serde(default)]
    pub seniors: String,
    #[serde(default)]
    pub client_ref: String,
    #[serde(default)]
    pub note: String,
}

/// Household composition; every part optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Household {
    pub adults: Option<i64>,
    pub children: Option<i64>,
    pub seniors: Option<i64>,
}

impl Household {
    /// People in the household, when any part was recorded.
    pub fn size(&self) -> Option<i64> {
        match (self.adults, self.children, self.seniors) {
            (None, None, None) => None,
            (a, c, s) => Some(a.unwrap_or(0) + c.unwrap_or(0) + s.unwrap_or(0)),
        }
    }

    /// "2 adults, 1 child", or "" when nothing was recorded.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (n, one, many) in [
            (self.adults, "adult", "adults"),
            (self.children, "child", "children"),
            (self.seniors, "senior", "seniors"),
        ] {
            if let Some(n) = n.filter(|n| *n > 0) {
                parts.push(format!("{n} {}", if n == 1 { one } else { many }));
            }
        }
        parts.join(", ")
    }
}

/// Parses one household field: blank, or a whole number from 0 to 99.
pub fn parse_household_part(input: &str, field: &str) -> Result<Option<i64>, AppError> {
    let t = input.trim();
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<i64>() {
        Ok(n) if (0..=99).contains(&n) => Ok(Some(n)),
        _ => Err(AppError::invalid(
            field,
            format!(
                "Enter the number of {field} as a whole number from 0 to 99, or leave it blank."
            ),
        )),
    }
}

/// Normalizes a client reference (a card number or code): trimmed,
/// upper-cased, inner spaces removed. Letters, digits and `-` `_` `/` `.`
/// only, at most 40 characters; names do not belong here.
pub fn parse_client_ref(input: &str) -> Result<Option<String>, AppError> {
    let cleaned: String = input
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect();
    if cleaned.is_empty() {
        return Ok(None);
    }
    if cleaned.chars().count() > 40 {
        return Err(AppError::invalid(
            "client_ref",
            "A client reference is at most 40 characters (a card number or code).",
        ));
    }
    if !cleaned
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/' | '.'))
    {
        return Err(AppError::invalid(
            "client_ref",
            "Use the card number or code only: letters, digits, - _ / and . (no names).",
        ));
    }
    Ok(Some(cleaned))
}

/// The characters a stored client reference may carry besides letters and
/// digits; the same card written with or without them is one household.
pub const CLIENT_REF_SEPARATORS: [char; 4] = ['-', '_', '/', '.'];

/// What two client references are compared by: the stored (normalized)
/// reference without separators, so "card 104", "CARD-104" and "Card.104"
/// are one household in counts and visit rules.
pub fn client_key(stored: &str) -> String {
    stored
        .chars()
        .filter(|c| !CLIENT_REF_SEPARATORS.contains(c))
        .collect()
}

/// The same key computed in SQL from a stored `client_ref` column.
pub const CLIENT_KEY_SQL: &str =
    "replace(replace(replace(replace(client_ref, '-', ''), '_', ''), '/', ''), '.', '')";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitStatus {
    Recorded,
    Voided,
}

impl VisitStatus {
    pub fn parse(s: &str) -> Self {
        if s == "voided" {
            Self::Voided
        } else {
            Self::Recorded
        }
    }
}

/// A line of a saved visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitLine {
    pub product_id: ProductId,
    pub product_name: String,
    pub category: String,
    pub unit: Unit,
    pub quantity: i64,
}

impl VisitLine {
    pub fn quantity_text(&self) -> String {
        self.unit.format(self.quantity)
    }
}

/// A movement a visit posted (its own lines, corrections, the void).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitMovement {
    pub product_name: String,
    /// Signed change to the stock: negative went out, positive came back.
    pub quantity: i64,
    pub quantity_text: String,
    pub note: Option<String>,
    pub occurred_at: String,
    pub actor_name: String,
}

/// A saved visit, as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    pub id: VisitId,
    pub pantry: PantryHeader,
    pub occurred_at: String,
    pub household: Household,
    /// Shown to staff on the visit's own page only, never in reports.
    pub client_ref: Option<String>,
    pub rule_warning: Option<String>,
    pub note: Option<String>,
    pub status: VisitStatus,
    pub version: i64,
    pub lines: Vec<VisitLine>,
    pub movements: Vec<VisitMovement>,
    pub recorded_by: String,
    pub corrected_at: Option<String>,
    pub voided_at: Option<String>,
    pub void_reason: Option<String>,
}

/// What saving a visit answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitSaved {
    pub id: VisitId,
    /// "3 items: 2 × Rice, …"
    pub summary: String,
    /// The pantry's visit rule, when it applied; saved with the visit.
    pub rule_warning: Option<String>,
}

/// One visit in a pantry's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitRow {
    pub id: VisitId,
    pub occurred_at: String,
    pub household: Household,
    pub items: i64,
    pub lines: i64,
    pub status: VisitStatus,
    pub rule_warning: bool,
    pub corrected: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitPage {
    pub pantry: PantryHeader,
    pub rows: Vec<VisitRow>,
    pub page: i64,
    pub has_more: bool,
    /// The pantry's rule: warn when a client returns within this many days.
    pub rule_days: Option<i64>,
}

/// How a report groups its periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grouping {
    Day,
    Week,
    Month,
}

impl Grouping {
    pub fn parse(s: &str) -> Result<Self, AppError> {
        match s.trim() {
            "" | "day" => Ok(Self::Day),
            "week" => Ok(Self::Week),
            "month" => Ok(Self::Month),
            other => Err(AppError::invalid(
                "group",
                format!("Group by day, week or month (not \"{other}\")."),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }
}

/// Figures for one period (or the whole report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PeriodFigures {
    /// First day of the period, ISO.
    pub start: String,
    /// "Mon 3 Nov", "Week of 3 Nov", "November 2026".
    pub label: String,
    pub visits: i64,
    /// Unduplicated by client reference within the period.
    pub households: i64,
    /// People in those households, where their size was recorded.
    pub individuals: i64,
    /// Units of counted products (each, pack) handed out.
    pub items: i64,
    /// Grams handed out, of every product whose weight is known.
    pub weight_g: i64,
    /// From imported history (what went out before Larder): units of
    /// counted products.
    #[serde(default)]
    pub imported_items: i64,
    /// From imported history: grams, where the weight is known.
    #[serde(default)]
    pub imported_weight_g: i64,
}

impl PeriodFigures {
    pub fn has_imported(&self) -> bool {
        self.imported_items != 0 || self.imported_weight_g != 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryFigures {
    pub category: String,
    pub items: i64,
    pub weight_g: i64,
    /// Products handed out by weight or volume, in their own unit.
    #[serde(default)]
    pub measured: Vec<(Unit, i64)>,
}

impl CategoryFigures {
    /// "12 items · 10 l".
    pub fn quantity_text(&self) -> String {
        crate::catalog::model::mixed_quantity(self.items, &self.measured)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductFigures {
    pub product_id: ProductId,
    pub name: String,
    pub category: String,
    pub quantity: i64,
    pub quantity_text: String,
    pub weight_g: i64,
    /// From imported history, in the product's smallest unit.
    #[serde(default)]
    pub imported: i64,
    #[serde(default)]
    pub imported_text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DonorFigures {
    pub donor: String,
    pub donations: i64,
    pub items: i64,
    pub weight_g: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WasteFigures {
    pub reason: String,
    pub items: i64,
    pub weight_g: i64,
}

/// The usage report for a scope and period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageReport {
    pub scope: String,
    pub scope_label: String,
    pub from: String,
    pub to: String,
    pub group: Grouping,
    pub periods: Vec<PeriodFigures>,
    /// The whole period: households unduplicated across all of it, so not
    /// the sum of the rows.
    pub totals: PeriodFigures,
    pub by_category: Vec<CategoryFigures>,
    pub top_products: Vec<ProductFigures>,
    pub donations: Vec<DonorFigures>,
    pub waste: Vec<WasteFigures>,
    /// Visits whose household size was not recorded (not in individuals).
    pub visits_without_size: i64,
    /// The way up from the scope to its organization, for breadcrumbs:
    /// (label, address).
    #[serde(default)]
    pub trail: Vec<(String, String)>,
    /// The first and last day of imported history in the scope, whatever
    /// the report's dates.
    #[serde(default)]
    pub imported_span: Option<(String, String)>,
}

/// An import's progress and outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ImportStatus {
    pub id: String,
    pub file_name: String,
    /// running, done, refused or failed.
    pub status: String,
    pub bytes_total: i64,
    pub bytes_done: i64,
    pub rows_read: i64,
    pub rows_imported: i64,
    pub rows_duplicate: i64,
    pub rows_bad: i64,
    pub skip_bad: bool,
    pub message: Option<String>,
    /// Where the bad rows can be downloaded, when there are any.
    pub errors_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_refs_are_normalized_and_names_refused() {
        assert_eq!(
            parse_client_ref("  ab 12-3 ").unwrap(),
            Some("AB12-3".into())
        );
        assert_eq!(parse_client_ref("   ").unwrap(), None);
        assert!(parse_client_ref("María").is_err());
        assert!(parse_client_ref(&"1".repeat(41)).is_err());
    }

    #[test]
    fn one_card_written_three_ways_is_one_household() {
        let key = |s: &str| client_key(&parse_client_ref(s).unwrap().unwrap());
        assert_eq!(key("card 104"), key("CARD-104"));
        assert_eq!(key("Card.104"), key("card_104"));
        assert_ne!(key("card 104"), key("card 1040"));
    }

    #[test]
    fn household_parts_are_small_whole_numbers() {
        assert_eq!(parse_household_part(" 3 ", "adults").unwrap(), Some(3));
        assert_eq!(parse_household_part("", "adults").unwrap(), None);
        for bad in ["-1", "100", "2.5", "two"] {
            let e = parse_household_part(bad, "children").unwrap_err();
            assert_eq!(e.field(), Some("children"), "{bad}");
        }
        let h = Household {
            adults: Some(2),
            children: Some(1),
            seniors: None,
        };
        assert_eq!(h.size(), Some(3));
        assert_eq!(h.describe(), "2 adults, 1 child");
        assert_eq!(Household::default().size(), None);
    }
}

/// A donation as entered in the intake form: who it is from and one line
/// per product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DonationInput {
    pub pantry: PantryId,
    #[serde(default)]
    pub donor: String,
    #[serde(default)]
    pub note: String,
    pub lines: Vec<DonationLineInput>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DonationLineInput {
    pub product: ProductId,
    /// In the product's unit, as typed ("12", "2.5").
    pub quantity: String,
    #[serde(default)]
    pub best_before: String,
    /// Grams, when weighed; otherwise the catalog's weight is used.
    #[serde(default)]
    pub weight_g: String,
}

/// One product of a donation's receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptLine {
    pub product_name: String,
    pub quantity_text: String,
    pub weight_g: Option<i64>,
    pub best_before: Vec<String>,
}

/// A donation's receipt, printable for the donor's records: one donation
/// received in one form (several products), or one `received` movement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DonationReceipt {
    /// The movement's id: unique, and what the pantry can look it up by.
    pub receipt_no: String,
    pub organization_id: OrganizationId,
    pub organization_name: String,
    pub pantry_id: PantryId,
    pub pantry_name: String,
    pub campus_name: String,
    pub received_at: String,
    /// "Anonymous donor" when none was recorded.
    pub donor: String,
    pub product_name: String,
    pub quantity_text: String,
    pub weight_text: Option<String>,
    pub best_before: Vec<String>,
    pub note: Option<String>,
    pub recorded_by: String,
    /// Every product received (the fields above are the first one's).
    #[serde(default)]
    pub lines: Vec<ReceiptLine>,
    /// The weight of the lines whose weight is known.
    #[serde(default)]
    pub total_weight_g: i64,
}

/// One donor's donations, all time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DonorTotal {
    pub donor: String,
    pub donations: i64,
    pub weight_g: i64,
    /// Donations whose weight nobody knows (no recorded or catalog weight).
    pub unweighed: i64,
    pub last_received: String,
}

/// A donation in the donor list, with its receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DonationLine {
    pub receipt_no: String,
    pub received_at: String,
    pub pantry_name: String,
    pub donor: String,
    pub product_name: String,
    pub quantity_text: String,
    pub weight_text: Option<String>,
}

/// An organization's donors with their totals, and its latest donations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Donors {
    pub organization_id: OrganizationId,
    pub organization_name: String,
    pub donors: Vec<DonorTotal>,
    pub recent: Vec<DonationLine>,
}

/// One year of a donor's giving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DonorYear {
    pub year: i32,
    pub donations: i64,
    /// Recorded weights only.
    pub weight_g: i64,
    /// Donations with no recorded weight.
    pub unweighed: i64,
}

/// One donation on a donor's page or statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementLine {
    pub receipt_no: String,
    /// The local day it was received, `YYYY-MM-DD`.
    pub date: String,
    pub pantry_name: String,
    pub product_name: String,
    pub quantity_text: String,
    pub weight_g: Option<i64>,
}

/// A donor: their giving year by year, and one year's donations, which is
/// also their year-end statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DonorPage {
    pub organization_id: OrganizationId,
    pub organization_name: String,
    /// As recorded; "Anonymous donor" for donations with none.
    pub donor: String,
    /// Newest first.
    pub years: Vec<DonorYear>,
    /// The year shown.
    pub year: i32,
    pub lines: Vec<StatementLine>,
    /// The shown year's totals.
    pub total: DonorYear,
}

/// Where a donor's page is.
pub fn donor_href(organization: &str, donor: &str) -> String {
    format!(
        "/organizations/{organization}/donor?name={}",
        crate::inventory::views::encode(donor)
    )
}
