//! Stock on the server: recording movements (the write path) and the stock
//! checker's queries (the read path).
//!
//! A movement is checked here (input, access, the product), then queued
//! for the movement writer (`writer.rs`), which writes it with the rest of
//! its batch (`batch.rs`): stock row, lots, ledger line, lot lines and
//! event, all in one transaction.
//!
//! One file per part: [`posting`] (from a checked change to the movement
//! writer), [`commands`] (each movement staff record), [`queries`] (the
//! inventory and product pages) and [`overview`] (a scope's summary). Who
//! records, the events' payloads and the pantry lookup they share are here.

mod commands;
mod everywhere;
mod export;
mod feed;
mod overview;
mod posting;
mod queries;
mod search;

pub(crate) use commands::positive;
pub use commands::{adjust, discard, distribute, receive, set_minimum, transfer, MovementFields};
pub use everywhere::product_everywhere;
pub use export::stock_csv;
pub use feed::{movement_feed, parse_rfc3339, rfc3339, FeedFilter, MovementRecord};
pub use overview::{overview, Scope};
pub(crate) use posting::lot_date;
pub(super) use posting::{moved_event, not_enough, Command, PendingEvent, Written};
pub use posting::{post_group, taken_by_visit, Attachment, Change, MovementContext, Posted};
pub use queries::{
    product_stock, stock_page, stock_weight_g, stocked_before, EXPIRING_DAYS, HISTORY_PAGE,
    STOCK_PAGE,
};
pub use search::{search_stock, SEARCH_PRODUCTS};

use serde::{Deserialize, Serialize};

use super::model::*;
use crate::auth::service::{Caller, Place};
use crate::dates::iso;
use crate::db::Db;
use crate::error::AppResult;
use crate::ids::PantryId;

/// Who is recording, and the request it came in on.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: String,
    pub correlation_id: String,
    /// The client's address, for the audit log.
    pub client_ip: Option<String>,
    /// The request's trace, for the events it appends.
    pub trace_parent: Option<String>,
}

impl Actor {
    pub fn of(caller: &Caller) -> Self {
        Self {
            user_id: caller.me.id.to_string(),
            correlation_id: crate::request::current_request_id(),
            client_ip: crate::request::current_client_ip(),
            trace_parent: crate::request::current_trace_parent(),
        }
    }
}

/// The payload of every stock movement event (`StockReceived`, …), version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockMoved {
    pub movement_id: String,
    pub product_id: String,
    pub kind: MovementKind,
    /// Signed change to the pantry's stock.
    pub quantity: i64,
    /// The pantry's stock of the product after the movement.
    pub on_hand: i64,
    pub lots: Vec<LotChange>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub donor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub weight_g: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub counterpart_pantry_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotChange {
    pub lot_id: String,
    pub best_before: Option<String>,
    pub quantity: i64,
}

/// The payload of `StockMinimumSet`, version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinimumSet {
    pub product_id: String,
    pub minimum: i64,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn pantry_header(db: &Db, id: &PantryId) -> AppResult<(PantryHeader, Place)> {
    let (pantry, campus, organization, place) =
        crate::org::service::pantry_with_parents(db, id.as_str()).await?;
    Ok((
        PantryHeader {
            id: pantry.id,
            name: pantry.name,
            campus_id: campus.id,
            campus_name: campus.name,
            organization_id: organization.id,
            organization_name: organization.name,
            time_zone: pantry.time_zone.unwrap_or(organization.time_zone),
        },
        place,
    ))
}

/// The day `days` after `today`, `YYYY-MM-DD`.
fn days_after(today: time::Date, days: i64) -> String {
    iso(today.saturating_add(time::Duration::days(days)))
}
