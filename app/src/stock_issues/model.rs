//! What the stock issue analyser raises, as pages and tests see it.

use serde::{Deserialize, Serialize};

use crate::ids::{
    OrganizationId, PantryId, ProductId, PurchaseOrderId, StockIssueId, SupplierId, SupplierItemId,
};

/// What kind of trouble an issue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// Runs out before the next possible delivery.
    Stockout,
    /// Below the reorder point, nothing on order.
    Reorder,
    /// Stock that will pass its date before it is used.
    Expiring,
    /// Far more than the pantry will use, with more on order.
    Overstock,
    /// A supplier's price moved past the threshold in a sync.
    PriceChange,
    /// Events a part of Larder kept failing on were set aside (for the
    /// organization's admins).
    ParkedEvents,
}

impl IssueKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stockout => "stockout",
            Self::Reorder => "reorder",
            Self::Expiring => "expiring",
            Self::Overstock => "overstock",
            Self::PriceChange => "price_change",
            Self::ParkedEvents => "parked_events",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Stockout,
            Self::Reorder,
            Self::Expiring,
            Self::Overstock,
            Self::PriceChange,
            Self::ParkedEvents,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Stockout => "Runs out",
            Self::Reorder => "Reorder",
            Self::Expiring => "Expiring",
            Self::Overstock => "Overstock",
            Self::PriceChange => "Price change",
            Self::ParkedEvents => "Parked events",
        }
    }
}

/// How soon someone should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Urgent,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Urgent => "urgent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Info, Self::Warning, Self::Urgent]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// What accepting an issue does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Proposal {
    /// Puts whole packs of the supplier's item into the pantry's draft
    /// order to that supplier (a new draft if there is none).
    DraftOrder {
        supplier_id: SupplierId,
        supplier_name: String,
        item_id: SupplierItemId,
        sku: String,
        packs: i64,
        /// What the packs hold, in the product's unit ("40 kg").
        quantity: String,
    },
    /// Lowers a draft order's line.
    ReduceLine {
        order_id: PurchaseOrderId,
        order_label: String,
        item_id: SupplierItemId,
        from_packs: i64,
        to_packs: i64,
    },
    /// Moves stock to a pantry of the organization that will use it first.
    Transfer {
        to_pantry_id: PantryId,
        to_pantry_name: String,
        /// In the product's unit, as typed into a movement ("12").
        quantity: String,
        quantity_text: String,
    },
    /// Runs the organization's parked events through their consumers
    /// again.
    RetryParked { events: i64 },
    /// Nothing Larder can do for you: accepting says it has been seen.
    Acknowledge,
}

impl Proposal {
    /// The accept button's words.
    pub fn action_label(&self) -> String {
        match self {
            Self::DraftOrder {
                supplier_name,
                packs,
                quantity,
                ..
            } => format!(
                "Draft the order: {packs} pack{} ({quantity}) from {supplier_name}",
                if *packs == 1 { "" } else { "s" }
            ),
            Self::ReduceLine {
                order_label,
                to_packs,
                ..
            } if *to_packs == 0 => format!("Take the line off {order_label}"),
            Self::ReduceLine {
                order_label,
                to_packs,
                ..
            } => format!(
                "Lower {order_label} to {to_packs} pack{}",
                if *to_packs == 1 { "" } else { "s" }
            ),
            Self::Transfer {
                to_pantry_name,
                quantity_text,
                ..
            } => format!("Transfer {quantity_text} to {to_pantry_name}"),
            Self::RetryParked { events: 1 } => "Retry the event".into(),
            Self::RetryParked { events } => format!("Retry the {events} events"),
            Self::Acknowledge => "Mark as seen".into(),
        }
    }
}

/// One issue, as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockIssue {
    pub id: StockIssueId,
    pub pantry_id: Option<PantryId>,
    pub pantry_name: Option<String>,
    pub product_id: Option<ProductId>,
    pub product_name: Option<String>,
    pub kind: IssueKind,
    pub severity: Severity,
    /// open, accepted, dismissed or resolved (the trouble went away).
    pub status: String,
    pub title: String,
    pub explanation: String,
    /// The numbers behind it, each with its label.
    pub numbers: Vec<(String, String)>,
    pub proposal: Proposal,
    /// The optional advisor's words.
    pub advice: Option<String>,
    pub raised_at: String,
    /// How it was closed, for closed ones: "Dismissed by Ada: …".
    pub closing: Option<String>,
    /// The order accepting it drafted or changed.
    pub order_id: Option<PurchaseOrderId>,
}

/// A pantry's or an organization's issues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueList {
    pub organization_id: OrganizationId,
    pub organization_name: String,
    /// The pantry, for a pantry's list.
    pub pantry: Option<(PantryId, String)>,
    /// Most urgent first.
    pub open: Vec<StockIssue>,
    /// The last ones closed, newest first.
    pub closed: Vec<StockIssue>,
    pub can_act: bool,
}

/// What accepting did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    pub message: String,
    /// The order to open next, when it drafted or changed one.
    pub order_id: Option<PurchaseOrderId>,
}
