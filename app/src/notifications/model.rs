//! Notifications as the pages see them, and the kinds people choose
//! channels for.

use serde::{Deserialize, Serialize};

use crate::ids::NotificationId;

/// What a notification is about; each has its own preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A stock issue that cannot wait.
    UrgentIssue,
    /// An order proposed by the analyser, waiting for someone to accept.
    ProposedOrder,
    /// Stock that will expire before it is used.
    Expiring,
    /// A purchase order came in.
    OrderReceived,
    /// A supplier's catalog sync failed.
    SyncFailed,
    /// Events a part of Larder kept failing on were set aside (admins).
    ParkedEvents,
    /// Someone commented on your post.
    Comment,
    /// Someone answered your comment.
    Reply,
    /// Someone named you with an @mention.
    Mention,
    /// Someone follows you, or asks to.
    NewFollower,
    /// People liked what you wrote.
    Likes,
    /// Someone reported a post on a pantry's timeline (its managers).
    PostReport,
}

impl Kind {
    pub const ALL: [Kind; 12] = [
        Kind::UrgentIssue,
        Kind::ProposedOrder,
        Kind::Expiring,
        Kind::OrderReceived,
        Kind::SyncFailed,
        Kind::ParkedEvents,
        Kind::Comment,
        Kind::Reply,
        Kind::Mention,
        Kind::NewFollower,
        Kind::Likes,
        Kind::PostReport,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UrgentIssue => "urgent_issue",
            Self::ProposedOrder => "proposed_order",
            Self::Expiring => "expiring",
            Self::OrderReceived => "order_received",
            Self::SyncFailed => "sync_failed",
            Self::ParkedEvents => "parked_events",
            Self::Comment => "comment",
            Self::Reply => "reply",
            Self::Mention => "mention",
            Self::NewFollower => "new_follower",
            Self::Likes => "likes",
            Self::PostReport => "post_report",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::UrgentIssue => "Urgent stock issues",
            Self::ProposedOrder => "Proposed orders waiting",
            Self::Expiring => "Stock expiring soon",
            Self::OrderReceived => "Orders received",
            Self::SyncFailed => "Supplier syncs that failed",
            Self::ParkedEvents => "Parked events (admins)",
            Self::Comment => "Comments on my posts",
            Self::Reply => "Replies to my comments",
            Self::Mention => "Mentions of me",
            Self::NewFollower => "New followers and follow requests",
            Self::Likes => "Likes of what I wrote",
            Self::PostReport => "Posts reported on my pantries' timelines",
        }
    }
}

/// Where a kind of notification reaches a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    InApp,
    Push,
    Both,
    Off,
}

impl Channel {
    pub const ALL: [Channel; 4] = [Channel::Both, Channel::InApp, Channel::Push, Channel::Off];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InApp => "in_app",
            Self::Push => "push",
            Self::Both => "both",
            Self::Off => "off",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::InApp => "In Larder",
            Self::Push => "Phone or browser push",
            Self::Both => "Both",
            Self::Off => "Off",
        }
    }

    pub fn in_app(self) -> bool {
        matches!(self, Self::InApp | Self::Both)
    }

    pub fn push(self) -> bool {
        matches!(self, Self::Push | Self::Both)
    }
}

/// One notification in the centre.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: NotificationId,
    pub kind: Kind,
    pub title: String,
    pub body: String,
    /// The page it opens.
    pub link: String,
    pub at: String,
    pub read: bool,
}

/// The centre: newest first, with how many are unread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Centre {
    pub notifications: Vec<Notification>,
    pub unread: i64,
}

/// A person's choices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preferences {
    pub channels: Vec<(Kind, Channel)>,
    /// Push once a day with what came, instead of each as it comes.
    pub daily_digest: bool,
}
