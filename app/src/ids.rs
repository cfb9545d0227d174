//! Typed identifiers. Every id is a UUID (v7, so time-ordered) carried as
//! text; the newtype keeps a pantry id from being passed where a campus id
//! belongs.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($($(#[$meta:meta])* $name:ident),* $(,)?) => {$(
        $(#[$meta])*
        /// Deserializing checks the form, so a malformed id in a request is
        /// refused before it reaches the database.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String")]
        pub struct $name(String);

        impl TryFrom<String> for $name {
            type Error = crate::error::AppError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl $name {
            /// A fresh, time-ordered id.
            #[cfg(feature = "ssr")]
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }

            /// An id taken as it is: one Larder stored itself (a database
            /// row, an event it wrote), or one a page passes on to the
            /// server, which parses it when the request arrives (see
            /// `Deserialize`). An id the server reads from a person or a
            /// client goes through `parse`.
            pub fn from_stored(s: String) -> Self {
                Self(s)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::error::AppError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_uuid_text(s).map(Self).ok_or_else(|| {
                    crate::error::AppError::NotFound(format!(
                        "“{}” is not a valid {} id.",
                        truncate(s, 40),
                        stringify!($name).trim_end_matches("Id").to_lowercase()
                    ))
                })
            }
        }
    )*};
}

id_type!(
    /// An organization: a college, a food bank, a shop.
    OrganizationId,
    /// A campus of an organization.
    CampusId,
    /// A pantry on a campus.
    PantryId,
    /// A person who can sign in.
    UserId,
    /// An invitation to join with a role.
    InvitationId,
    /// A membership: a user's role on an organization, campus or pantry.
    MembershipId,
    /// A product in an organization's catalog.
    ProductId,
    /// A lot: units of one product at one pantry sharing a best-before date.
    LotId,
    /// A stock movement, one line of the ledger.
    MovementId,
    /// An event in the event log.
    EventId,
    /// A parked event: one a consumer kept failing on.
    DeadLetterId,
    /// A visit at a pantry's counter: the lines one household took.
    VisitId,
    /// A box of donations being photographed and turned into stock.
    IntakeId,
    /// A photo of an intake.
    PhotoId,
    /// A donation of one or more products, received in one form.
    DonationId,
    /// An API key: a script's access to an organization or a pantry.
    ApiKeyId,
    /// Someone an organization buys from.
    SupplierId,
    /// One thing a supplier sells.
    SupplierItemId,
    /// A pantry's order to a supplier.
    PurchaseOrderId,
    /// Something the stock issue analyser found, with what it proposes.
    StockIssueId,
    /// One notification to one person.
    NotificationId,
    /// A post on a pantry's timeline.
    PostId,
    /// A comment on a post, or a reply to one.
    CommentId,
);

/// Whether `s` has the form of an id (any of the types above).
pub fn is_id(s: &str) -> bool {
    parse_uuid_text(s).is_some_and(|p| p == s)
}

/// Accepts the canonical 8-4-4-4-12 lowercase hex form and nothing else, so
/// ids in URLs are checked before they reach the database.
fn parse_uuid_text(s: &str) -> Option<String> {
    let s = s.trim().to_ascii_lowercase();
    let b = s.as_bytes();
    if b.len() != 36 {
        return None;
    }
    for (i, c) in b.iter().enumerate() {
        let ok = match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        };
        if !ok {
            return None;
        }
    }
    Some(s)
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n).collect::<String>() + "…"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_only_canonical_uuids() {
        let ok: PantryId = "0192F1C2-7A3B-7C4D-8E5F-0123456789AB".parse().unwrap();
        assert_eq!(ok.as_str(), "0192f1c2-7a3b-7c4d-8e5f-0123456789ab");
        assert!("not-an-id".parse::<PantryId>().is_err());
        assert!("0192f1c2x7a3b-7c4d-8e5f-0123456789ab"
            .parse::<PantryId>()
            .is_err());
        assert!(serde_json::from_str::<PantryId>("\"a\\u0000b\"").is_err());
        let id: PantryId =
            serde_json::from_str("\"0192f1c2-7a3b-7c4d-8e5f-0123456789ab\"").unwrap();
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"0192f1c2-7a3b-7c4d-8e5f-0123456789ab\""
        );
        assert!(is_id(id.as_str()) && !is_id("0192F1C2-7A3B-7C4D-8E5F-0123456789AB"));
        let msg = "x".parse::<CampusId>().unwrap_err().to_string();
        assert!(msg.contains("campus id"), "{msg}");
    }
}
