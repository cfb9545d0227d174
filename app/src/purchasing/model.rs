//! Suppliers, what they sell, and purchase orders, as the pages and the
//! server functions exchange them.

use serde::{Deserialize, Serialize};

use crate::catalog::model::Unit;
use crate::error::AppError;
use crate::ids::{
    OrganizationId, PantryId, ProductId, PurchaseOrderId, SupplierId, SupplierItemId,
};

/// Weekday names in ISO order (Monday is 1).
pub const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// The weekdays a supplier takes orders, from what people type: "Mon, Thu",
/// "monday thursday", "Tue/Fri". Empty means any day. ISO numbers, sorted.
pub fn parse_order_days(input: &str, field: &str) -> Result<Vec<u8>, AppError> {
    let mut days = Vec::new();
    for word in input
        .split(|c: char| c == ',' || c == '/' || c == ';' || c.is_whitespace())
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        let lower = word.to_lowercase();
        let day = WEEKDAYS
            .iter()
            .position(|d| lower.len() >= 2 && d.to_lowercase().starts_with(&lower))
            .filter(|_| lower.chars().all(|c| c.is_alphabetic()))
            .ok_or_else(|| {
                AppError::invalid(
                    field,
                    format!(
                        "“{}” is not a day of the week; write them like Mon, Thu.",
                        word.chars().take(20).collect::<String>()
                    ),
                )
            })?;
        days.push(day as u8 + 1);
    }
    days.sort_unstable();
    days.dedup();
    Ok(days)
}

/// The order days as stored ("1,4"): ISO weekday numbers.
pub fn stored_order_days(stored: &str) -> Vec<u8> {
    stored.split(',').filter_map(|d| d.parse().ok()).collect()
}

/// The order days as people read them: "Mon, Thu", or "Any day".
pub fn order_days_label(days: &[u8]) -> String {
    if days.is_empty() {
        return "Any day".into();
    }
    days.iter()
        .filter_map(|d| WEEKDAYS.get(usize::from(*d).wrapping_sub(1)))
        .map(|d| &d[..3])
        .collect::<Vec<_>>()
        .join(", ")
}

/// Money in cents as people write it: `12.50`.
pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    format!("{sign}{}.{:02}", c / 100, c % 100)
}

/// Money typed into a form: `3`, `3.5`, `$3.50`, `1,234.56`; empty is none.
pub fn parse_money(input: &str, field: &str) -> Result<Option<i64>, AppError> {
    crate::input::money_cents(input).map_err(|()| {
        AppError::invalid(
            field,
            format!(
                "“{}” is not an amount such as 12.50.",
                input.trim().chars().take(20).collect::<String>()
            ),
        )
    })
}

/// A supplier, with how much it is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supplier {
    pub id: SupplierId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub contact_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub lead_time_days: i64,
    /// ISO weekday numbers; empty for any day.
    pub order_days: Vec<u8>,
    pub minimum_order_cents: Option<i64>,
    pub notes: Option<String>,
    /// Items it sells, and how many of them are not tied to a product yet.
    pub items: i64,
    pub unmapped: i64,
    /// Orders submitted and not yet all received.
    pub open_orders: i64,
}

/// A supplier as the form sends it; `id` empty makes a new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplierInput {
    pub organization: OrganizationId,
    #[serde(default)]
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub contact_name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub lead_time_days: String,
    #[serde(default)]
    pub order_days: String,
    #[serde(default)]
    pub minimum_order: String,
    #[serde(default)]
    pub notes: String,
}

/// An organization's suppliers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplierList {
    pub organization_id: OrganizationId,
    pub organization_name: String,
    pub suppliers: Vec<Supplier>,
    pub can_edit: bool,
}

/// A supplier's catalog address and schedule, as its page shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedView {
    /// Empty for those who do not keep the supplier.
    pub url: String,
    /// The cron pattern, empty for on demand only.
    pub schedule: String,
    /// The pattern in words ("At 02:00").
    pub schedule_text: Option<String>,
    pub next_run: Option<String>,
    /// Whether a sync is under way.
    pub running: bool,
}

/// One thing a supplier sells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplierItem {
    pub id: SupplierItemId,
    pub sku: String,
    pub description: String,
    /// The barcode as printed (its GTIN's usual spelling).
    pub barcode: Option<String>,
    pub product_id: Option<ProductId>,
    pub product_name: Option<String>,
    pub unit: Option<Unit>,
    /// What one pack holds, in the product's unit as typed ("24").
    pub pack_size: String,
    pub price_cents: Option<i64>,
    pub available: bool,
}

/// An item as the form sends it; `id` empty adds one (or updates the item
/// with the same SKU).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemInput {
    pub supplier: SupplierId,
    pub sku: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub barcode: String,
    /// A product id, or empty to find it by barcode.
    #[serde(default)]
    pub product: String,
    #[serde(default)]
    pub pack_size: String,
    #[serde(default)]
    pub price: String,
    /// "on" (a ticked box) or empty.
    #[serde(default)]
    pub unavailable: String,
}

/// A supplier's page: who they are, what they sell, the products an item
/// can be tied to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplierDetail {
    pub supplier: Supplier,
    pub organization_name: String,
    pub items: Vec<SupplierItem>,
    /// The catalog (id, name, unit), for choosing an item's product.
    pub products: Vec<(ProductId, String, Unit)>,
    pub can_edit: bool,
    /// Where its catalog is fetched from, when it is.
    pub feed: Option<FeedView>,
}

/// What a catalog sync did, or why it changed nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    /// `done` or `failed`.
    pub status: String,
    pub message: String,
    pub new: i64,
    pub price_changed: i64,
    pub discontinued: i64,
    pub unchanged: i64,
    /// What changed, a line each (the first 200).
    pub changes: Vec<String>,
    /// Why a refused file was refused, by line.
    pub errors: Vec<SyncError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncError {
    pub line: i64,
    pub message: String,
}

/// One sync in a supplier's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRow {
    /// The file's name.
    pub source: String,
    pub status: String,
    pub at: String,
    pub duration_ms: i64,
    pub message: String,
    pub changes: Vec<String>,
}

/// Where a purchase order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Draft,
    Submitted,
    PartlyReceived,
    Received,
    Cancelled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Submitted => "submitted",
            Self::PartlyReceived => "partly_received",
            Self::Received => "received",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Draft => "Draft",
            Self::Submitted => "Submitted",
            Self::PartlyReceived => "Partly received",
            Self::Received => "Received",
            Self::Cancelled => "Cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Draft,
            Self::Submitted,
            Self::PartlyReceived,
            Self::Received,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// Submitted and still waiting for some of it: counts as on order.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Submitted | Self::PartlyReceived)
    }
}

/// The label an order number goes by.
pub fn order_label(number: i64) -> String {
    format!("PO-{number:04}")
}

/// One product of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub product_id: ProductId,
    pub product_name: String,
    pub unit: Unit,
    /// The supplier's SKU, when the line came from one of its items.
    pub sku: Option<String>,
    pub packs: i64,
    /// Stored parts in a pack, and in the whole line; received so far.
    pub pack_parts: i64,
    pub ordered_parts: i64,
    pub received_parts: i64,
    /// Price of a pack, and of the line, in cents.
    pub price_cents: Option<i64>,
    pub line_cents: Option<i64>,
}

impl OrderLine {
    /// Still to come (never below nothing, even if more arrived).
    pub fn outstanding_parts(&self) -> i64 {
        (self.ordered_parts - self.received_parts).max(0)
    }
}

/// A purchase order, whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseOrder {
    pub id: PurchaseOrderId,
    pub number: i64,
    pub organization_id: OrganizationId,
    pub organization_name: String,
    pub pantry_id: PantryId,
    pub pantry_name: String,
    pub supplier_id: SupplierId,
    pub supplier_name: String,
    pub supplier_email: Option<String>,
    pub supplier_phone: Option<String>,
    pub lead_time_days: i64,
    pub status: OrderStatus,
    pub note: Option<String>,
    /// Times in the pantry's zone.
    pub created: String,
    pub submitted: Option<String>,
    pub closed: Option<String>,
    pub created_by: String,
    pub lines: Vec<OrderLine>,
    /// The sum of the priced lines, and whether every line had a price.
    pub total_cents: i64,
    pub all_priced: bool,
    pub minimum_order_cents: Option<i64>,
    /// The supplier's available items (id, label), to add to a draft or
    /// change its packs.
    pub addable: Vec<(SupplierItemId, String)>,
    pub can_edit: bool,
    pub can_receive: bool,
}

impl PurchaseOrder {
    pub fn label(&self) -> String {
        order_label(self.number)
    }

    /// Below the supplier's minimum, when both are known.
    pub fn below_minimum(&self) -> Option<i64> {
        self.minimum_order_cents
            .filter(|m| self.all_priced && self.total_cents < *m)
    }
}

/// One order in a pantry's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRow {
    pub id: PurchaseOrderId,
    pub number: i64,
    pub supplier_name: String,
    pub status: OrderStatus,
    pub created: String,
    pub lines: i64,
    pub total_cents: i64,
}

/// A pantry's purchase orders, newest first, and the suppliers it can
/// order from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderList {
    pub pantry_id: PantryId,
    pub pantry_name: String,
    pub organization_id: OrganizationId,
    pub organization_name: String,
    pub orders: Vec<OrderRow>,
    pub suppliers: Vec<(SupplierId, String)>,
    pub can_order: bool,
}

/// One line of a receipt: how much of a product came, and its date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptLine {
    pub product: ProductId,
    /// In the product's unit; empty or 0 for none of it.
    #[serde(default)]
    pub quantity: String,
    #[serde(default)]
    pub best_before: String,
}

/// What drafting from the recommendations made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drafted {
    /// Orders made or added to (id, label, supplier).
    pub orders: Vec<(PurchaseOrderId, String, String)>,
    /// Products to order that no supplier sells, by name.
    pub unsupplied: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_days_read_the_way_people_write_them() {
        assert_eq!(parse_order_days("Mon, Thu", "d").unwrap(), vec![1, 4]);
        assert_eq!(
            parse_order_days("thursday monday mon", "d").unwrap(),
            vec![1, 4]
        );
        assert_eq!(parse_order_days("  ", "d").unwrap(), Vec::<u8>::new());
        assert_eq!(parse_order_days("Tu/Fr", "d").unwrap(), vec![2, 5]);
        let e = parse_order_days("Mon, Funday", "order_days").unwrap_err();
        assert!(e.to_string().contains("“Funday” is not a day"), "{e}");
        // One letter is ambiguous (Tuesday or Thursday).
        assert!(parse_order_days("T", "d").is_err());
        assert_eq!(order_days_label(&[1, 4]), "Mon, Thu");
        assert_eq!(order_days_label(&[]), "Any day");
    }

    #[test]
    fn money_reads_and_prints_in_cents() {
        assert_eq!(parse_money("12.5", "p").unwrap(), Some(1250));
        assert_eq!(parse_money("$1,234.56", "p").unwrap(), Some(123_456));
        assert_eq!(parse_money(" ", "p").unwrap(), None);
        assert!(parse_money("12.345", "p").is_err());
        assert!(parse_money("-3", "p").is_err());
        assert!(parse_money("ten", "p").is_err());
        assert_eq!(money(123_456), "1234.56");
        assert_eq!(money(5), "0.05");
    }

    #[test]
    fn statuses_round_trip_and_only_submitted_ones_are_on_order() {
        for s in [
            OrderStatus::Draft,
            OrderStatus::Submitted,
            OrderStatus::PartlyReceived,
            OrderStatus::Received,
            OrderStatus::Cancelled,
        ] {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
        }
        assert!(OrderStatus::Submitted.is_open() && OrderStatus::PartlyReceived.is_open());
        assert!(!OrderStatus::Draft.is_open() && !OrderStatus::Received.is_open());
        assert_eq!(order_label(7), "PO-0007");
    }
}
