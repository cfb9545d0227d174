//! Every event Larder writes, as one type.
//!
//! The log stores an event as its type name, a version and a JSON payload.
//! In code it is a [`DomainEvent`]: writers build a variant, consumers
//! `match` on it, and nobody compares type strings or digs into JSON by
//! key. Each variant has a version; when a payload's shape changes, the
//! variant's version goes up and [`DomainEvent::decode`] upcasts the older
//! payloads, here and only here, so consumers only ever see the current
//! shape.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::bus::Parked;
use crate::auth::members::{MemberChanged, MemberJoined};
use crate::catalog::model::Product;
use crate::community::service::{CommentChanged, Liked, PostChanged};
use crate::community::social::{BlockChanged, FollowChanged};
use crate::forecasts::run::ForecastsGenerated;
use crate::inventory::service::{MinimumSet, StockMoved};
use crate::org::service::PlaceChanged;
use crate::photos::analysis::{PhotoAnalyzed, PhotoDescribed};
use crate::photos::service::{IntakeConfirmed, PhotoRemoved, PhotoUploaded};
use crate::purchasing::orders::OrderChanged;
use crate::purchasing::sync::{CatalogUpdated, SyncFailed};
use crate::stock_issues::analyser::{IssueClosed, IssueRaised};
use crate::usage::import::HistoryImported;
use crate::usage::service::{VisitChanged, VisitRecorded};

/// One event, with its payload. Serialized as `{"type": …, "payload": …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum DomainEvent {
    // Stock (the inventory module). The payload of the five movements is
    // one shape; the variant says which movement it was.
    StockReceived(StockMoved),
    StockDistributed(StockMoved),
    StockAdjusted(StockMoved),
    StockTransferred(StockMoved),
    StockDiscarded(StockMoved),
    StockMinimumSet(MinimumSet),
    // The catalog: the product as it stands after the change.
    ProductCreated(Product),
    ProductUpdated(Product),
    ProductArchived(Product),
    // Visits.
    VisitRecorded(VisitRecorded),
    VisitCorrected(VisitChanged),
    VisitVoided(VisitChanged),
    // Photo intake.
    PhotoUploaded(PhotoUploaded),
    PhotoAnalyzed(PhotoAnalyzed),
    PhotoDescribed(PhotoDescribed),
    PhotoRemoved(PhotoRemoved),
    IntakeConfirmed(IntakeConfirmed),
    // Organizations, campuses, pantries and who belongs to them.
    OrganizationCreated(PlaceChanged),
    OrganizationRenamed(PlaceChanged),
    OrganizationArchived(PlaceChanged),
    CampusCreated(PlaceChanged),
    CampusRenamed(PlaceChanged),
    CampusArchived(PlaceChanged),
    PantryCreated(PlaceChanged),
    PantryRenamed(PlaceChanged),
    PantryArchived(PlaceChanged),
    OrganizationTimeZoneSet(PlaceChanged),
    PantryTimeZoneSet(PlaceChanged),
    MemberJoined(MemberJoined),
    MemberRoleChanged(MemberChanged),
    MemberRemoved(MemberChanged),
    // History and forecasts.
    HistoryImported(HistoryImported),
    ForecastsGenerated(ForecastsGenerated),
    // Purchase orders (the purchasing module).
    PurchaseOrderCreated(OrderChanged),
    PurchaseOrderSubmitted(OrderChanged),
    PurchaseOrderReceived(OrderChanged),
    PurchaseOrderCancelled(OrderChanged),
    SupplierCatalogUpdated(CatalogUpdated),
    SupplierSyncFailed(SyncFailed),
    // Stock issues (the analyser raises them; people accept or dismiss).
    StockIssueRaised(IssueRaised),
    StockIssueAccepted(IssueClosed),
    StockIssueDismissed(IssueClosed),
    // The community: posts, comments, likes, follows and blocks.
    PostPublished(PostChanged),
    PostEdited(PostChanged),
    PostDeleted(PostChanged),
    PostReported(PostChanged),
    /// The pantry's managers looked at a reported post and kept it.
    ReportsDismissed(PostChanged),
    CommentAdded(CommentChanged),
    CommentDeleted(CommentChanged),
    Liked(Liked),
    Followed(FollowChanged),
    FollowAccepted(FollowChanged),
    Unfollowed(FollowChanged),
    PersonBlocked(BlockChanged),
    PersonUnblocked(BlockChanged),
    // The pipeline itself: a consumer parked an event, or a parked event
    // went through when retried.
    EventParked(Parked),
    ParkedEventDelivered(Parked),
}

impl DomainEvent {
    /// The name stored in the log's `type` column.
    pub fn type_name(&self) -> &'static str {
        use DomainEvent::*;
        match self {
            StockReceived(_) => "StockReceived",
            StockDistributed(_) => "StockDistributed",
            StockAdjusted(_) => "StockAdjusted",
            StockTransferred(_) => "StockTransferred",
            StockDiscarded(_) => "StockDiscarded",
            StockMinimumSet(_) => "StockMinimumSet",
            ProductCreated(_) => "ProductCreated",
            ProductUpdated(_) => "ProductUpdated",
            ProductArchived(_) => "ProductArchived",
            VisitRecorded(_) => "VisitRecorded",
            VisitCorrected(_) => "VisitCorrected",
            VisitVoided(_) => "VisitVoided",
            PhotoUploaded(_) => "PhotoUploaded",
            PhotoAnalyzed(_) => "PhotoAnalyzed",
            PhotoDescribed(_) => "PhotoDescribed",
            PhotoRemoved(_) => "PhotoRemoved",
            IntakeConfirmed(_) => "IntakeConfirmed",
            OrganizationCreated(_) => "OrganizationCreated",
            OrganizationRenamed(_) => "OrganizationRenamed",
            OrganizationArchived(_) => "OrganizationArchived",
            CampusCreated(_) => "CampusCreated",
            CampusRenamed(_) => "CampusRenamed",
            CampusArchived(_) => "CampusArchived",
            PantryCreated(_) => "PantryCreated",
            PantryRenamed(_) => "PantryRenamed",
            PantryArchived(_) => "PantryArchived",
            OrganizationTimeZoneSet(_) => "OrganizationTimeZoneSet",
            PantryTimeZoneSet(_) => "PantryTimeZoneSet",
            MemberJoined(_) => "MemberJoined",
            MemberRoleChanged(_) => "MemberRoleChanged",
            MemberRemoved(_) => "MemberRemoved",
            HistoryImported(_) => "HistoryImported",
            ForecastsGenerated(_) => "ForecastsGenerated",
            PurchaseOrderCreated(_) => "PurchaseOrderCreated",
            PurchaseOrderSubmitted(_) => "PurchaseOrderSubmitted",
            PurchaseOrderReceived(_) => "PurchaseOrderReceived",
            PurchaseOrderCancelled(_) => "PurchaseOrderCancelled",
            SupplierCatalogUpdated(_) => "SupplierCatalogUpdated",
            SupplierSyncFailed(_) => "SupplierSyncFailed",
            StockIssueRaised(_) => "StockIssueRaised",
            StockIssueAccepted(_) => "StockIssueAccepted",
            StockIssueDismissed(_) => "StockIssueDismissed",
            PostPublished(_) => "PostPublished",
            PostEdited(_) => "PostEdited",
            PostDeleted(_) => "PostDeleted",
            PostReported(_) => "PostReported",
            ReportsDismissed(_) => "ReportsDismissed",
            CommentAdded(_) => "CommentAdded",
            CommentDeleted(_) => "CommentDeleted",
            Liked(_) => "Liked",
            Followed(_) => "Followed",
            FollowAccepted(_) => "FollowAccepted",
            Unfollowed(_) => "Unfollowed",
            PersonBlocked(_) => "PersonBlocked",
            PersonUnblocked(_) => "PersonUnblocked",
            EventParked(_) => "EventParked",
            ParkedEventDelivered(_) => "ParkedEventDelivered",
        }
    }

    /// The version of the payload's shape this code writes. Every variant
    /// is at version 1 so far; the first to change goes to 2 here and gets
    /// an arm in [`Self::upcast`].
    pub fn version(&self) -> i64 {
        1
    }

    /// The payload as stored.
    pub fn payload(&self) -> Result<Value, serde_json::Error> {
        match serde_json::to_value(self)? {
            Value::Object(mut o) => Ok(o.remove("payload").unwrap_or(Value::Null)),
            other => Ok(other),
        }
    }

    /// The event from the log's columns: older versions upcast first.
    pub fn decode(type_name: &str, version: i64, payload: Value) -> Result<Self, String> {
        let payload = Self::upcast(type_name, version, payload)?;
        serde_json::from_value(serde_json::json!({ "type": type_name, "payload": payload }))
            .map_err(|e| format!("{type_name} version {version} does not parse: {e}"))
    }

    /// Brings a stored payload to the current version of its type. The one
    /// place that knows the history of every payload's shape.
    fn upcast(type_name: &str, version: i64, payload: Value) -> Result<Value, String> {
        match version {
            1 => Ok(payload),
            other => Err(format!(
                "{type_name} version {other} is newer than this Larder understands"
            )),
        }
    }

    /// The product a stock or catalog event is about.
    pub fn product_id(&self) -> Option<&str> {
        use DomainEvent::*;
        match self {
            StockReceived(m) | StockDistributed(m) | StockAdjusted(m) | StockTransferred(m)
            | StockDiscarded(m) => Some(&m.product_id),
            StockMinimumSet(m) => Some(&m.product_id),
            ProductCreated(p) | ProductUpdated(p) | ProductArchived(p) => Some(p.id.as_str()),
            _ => None,
        }
    }

    /// The event of a stock movement: its kind says which.
    pub fn moved(moved: StockMoved) -> Self {
        use crate::inventory::model::MovementKind::*;
        match moved.kind {
            Received => Self::StockReceived(moved),
            Distributed => Self::StockDistributed(moved),
            Adjusted => Self::StockAdjusted(moved),
            Transferred => Self::StockTransferred(moved),
            Discarded => Self::StockDiscarded(moved),
        }
    }

    /// The movement, for the five stock movement events.
    pub fn movement(&self) -> Option<&StockMoved> {
        use DomainEvent::*;
        match self {
            StockReceived(m) | StockDistributed(m) | StockAdjusted(m) | StockTransferred(m)
            | StockDiscarded(m) => Some(m),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::model::MovementKind;

    fn moved() -> StockMoved {
        StockMoved {
            movement_id: "m1".into(),
            product_id: "p1".into(),
            kind: MovementKind::Received,
            quantity: 3,
            on_hand: 7,
            lots: vec![],
            reason: None,
            source: Some("donation".into()),
            donor: None,
            weight_g: Some(1275),
            counterpart_pantry_id: None,
        }
    }

    #[test]
    fn events_round_trip_through_the_log_columns() {
        let event = DomainEvent::StockReceived(moved());
        let (name, version, payload) =
            (event.type_name(), event.version(), event.payload().unwrap());
        assert_eq!((name, version), ("StockReceived", 1));
        assert_eq!(payload["on_hand"], 7);
        assert_eq!(DomainEvent::decode(name, version, payload).unwrap(), event);
        assert_eq!(event.product_id(), Some("p1"));
    }

    #[test]
    fn unknown_types_newer_versions_and_bad_payloads_are_errors_not_panics() {
        let payload = DomainEvent::StockReceived(moved()).payload().unwrap();
        let e = DomainEvent::decode("StockTeleported", 1, payload.clone()).unwrap_err();
        assert!(e.contains("StockTeleported"), "{e}");
        let e = DomainEvent::decode("StockReceived", 2, payload).unwrap_err();
        assert!(e.contains("version 2 is newer"), "{e}");
        let e = DomainEvent::decode("StockReceived", 1, serde_json::json!("not an object"))
            .unwrap_err();
        assert!(e.contains("does not parse"), "{e}");
    }
}
