//! The event log as people see it: parked events and how far each consumer
//! has read.

use serde::{Deserialize, Serialize};

use crate::ids::{DeadLetterId, OrganizationId};

/// An event a consumer kept failing on, parked so the others could go on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParkedEvent {
    pub id: DeadLetterId,
    pub consumer: String,
    pub event_seq: i64,
    pub event_type: String,
    pub pantry_name: Option<String>,
    pub occurred_at: String,
    pub attempts: i64,
    pub error: String,
    pub parked_at: String,
    pub retried_at: Option<String>,
}

/// How far one consumer has read the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerStatus {
    pub name: String,
    pub position: i64,
    pub behind: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsAdminView {
    pub organization_id: OrganizationId,
    pub organization_name: String,
    pub parked: Vec<ParkedEvent>,
    pub consumers: Vec<ConsumerStatus>,
    pub head: i64,
}

/// What retrying a parked event did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetryOutcome {
    Delivered,
    FailedAgain(String),
}
