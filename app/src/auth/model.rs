//! Accounts, roles and memberships: the shared types.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::AppError;
use crate::ids::{ApiKeyId, InvitationId, MembershipId, UserId};

/// An email address, trimmed; compared case-insensitively through
/// [`Email::normalized`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    pub const MAX_CHARS: usize = 254;

    pub fn parse(input: &str, field: &str) -> Result<Self, AppError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(AppError::invalid(field, "Enter an email address."));
        }
        if s.chars().count() > Self::MAX_CHARS {
            return Err(AppError::invalid(
                field,
                "That email address is too long (254 characters at most).",
            ));
        }
        let bad = || {
            AppError::invalid(
                field,
                format!("“{s}” is not an email address like name@example.org."),
            )
        };
        let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '@' || c == '<' || c == '>');
        if !domain_ok || !local_ok {
            return Err(bad());
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form two addresses are compared in.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A person's name as shown to others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(input: &str, field: &str) -> Result<Self, AppError> {
        let s = crate::input::clean_text(input, field)?;
        if s.is_empty() {
            return Err(AppError::invalid(field, "Enter your name."));
        }
        if s.chars().count() > 80 {
            return Err(AppError::invalid(
                field,
                "That name is too long (80 characters at most).",
            ));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password. Length is what matters (NIST SP 800-63B): at least 10
/// characters, at most 256, and not the same character over and over.
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_CHARS: usize = 10;

    pub fn parse(input: &str, field: &str) -> Result<Self, AppError> {
        let n = input.chars().count();
        if n < Self::MIN_CHARS {
            return Err(AppError::invalid(
                field,
                format!(
                    "Use at least {} characters (you typed {n}).",
                    Self::MIN_CHARS
                ),
            ));
        }
        if n > 256 {
            return Err(AppError::invalid(field, "Use at most 256 characters."));
        }
        let mut chars = input.chars();
        let first = chars.next();
        if chars.all(|c| Some(c) == first) {
            return Err(AppError::invalid(
                field,
                "That password is one character repeated; choose another.",
            ));
        }
        Ok(Self(input.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

/// What a membership lets a person do, from most to least.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Staff,
    Manager,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Manager, Role::Staff, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Staff => "staff",
            Role::Viewer => "viewer",
        }
    }

    /// The role after "as": "as an admin", "as a manager", "as staff"
    /// (staff is a group, not one person's title).
    pub fn as_phrase(self) -> &'static str {
        match self {
            Role::Admin => "an admin",
            Role::Manager => "a manager",
            Role::Staff => "staff",
            Role::Viewer => "a viewer",
        }
    }

    /// The people holding the role: "Admins", "Staff".
    pub fn plural(self) -> &'static str {
        match self {
            Role::Admin => "Admins",
            Role::Manager => "Managers",
            Role::Staff => "Staff",
            Role::Viewer => "Viewers",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Admin",
            Role::Manager => "Manager",
            Role::Staff => "Staff",
            Role::Viewer => "Viewer",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Role::Admin => "everything, including people and invitations",
            Role::Manager => "runs the place: creates and renames pantries, manages stock",
            Role::Staff => "day-to-day work: records stock and distributions",
            Role::Viewer => "can look, cannot change anything",
        }
    }

    pub fn parse(input: &str, field: &str) -> Result<Self, AppError> {
        match input.trim() {
            "admin" => Ok(Role::Admin),
            "manager" => Ok(Role::Manager),
            "staff" => Ok(Role::Staff),
            "viewer" => Ok(Role::Viewer),
            other => Err(AppError::invalid(
                field,
                format!("“{other}” is not a role; choose admin, manager, staff or viewer."),
            )),
        }
    }
}

/// The level a membership is granted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    Organization,
    Campus,
    Pantry,
}

impl ScopeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeKind::Organization => "organization",
            ScopeKind::Campus => "campus",
            ScopeKind::Pantry => "pantry",
        }
    }

    pub fn parse(input: &str, field: &str) -> Result<Self, AppError> {
        match input.trim() {
            "organization" => Ok(ScopeKind::Organization),
            "campus" => Ok(ScopeKind::Campus),
            "pantry" => Ok(ScopeKind::Pantry),
            other => Err(AppError::invalid(
                field,
                format!("“{other}” is not a place; choose organization, campus or pantry."),
            )),
        }
    }
}

/// The signed-in person, as the views need them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub is_site_admin: bool,
}

/// A person with the role they hold at a place, and where it was granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonWithRole {
    pub membership_id: MembershipId,
    pub user_id: UserId,
    pub display_name: String,
    pub email: String,
    pub role: Role,
    pub scope_kind: ScopeKind,
    pub scope_name: String,
}

/// An invitation as its creator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationSummary {
    pub id: InvitationId,
    pub email: String,
    pub role: Role,
    pub scope_kind: ScopeKind,
    pub scope_name: String,
    pub status: InvitationStatus,
    pub expires_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

impl InvitationStatus {
    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Accepted => "Accepted",
            Self::Revoked => "Revoked",
            Self::Expired => "Expired",
        }
    }
}

/// A freshly created invitation: the link is shown once, to be passed on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedInvitation {
    pub link: String,
    pub email: String,
    pub role: Role,
    pub scope_name: String,
    /// The address the invitation was also emailed to, when mail is set up.
    pub emailed_to: Option<String>,
    /// Why the email could not be sent (the link above still works).
    pub mail_error: Option<String>,
}

/// What the invitation page shows the person who follows a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationOffer {
    pub email: String,
    pub role: Role,
    pub scope_kind: ScopeKind,
    pub scope_name: String,
    pub organization_name: String,
    pub invited_by: String,
    /// An account with this email already exists: accept by signing in.
    pub account_exists: bool,
    /// The caller is already signed in as the invited email.
    pub signed_in_as_invitee: bool,
}

/// A place an admin can invite to, for the invitation form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitablePlace {
    pub scope_kind: ScopeKind,
    pub scope_id: String,
    pub label: String,
}

/// The organization's people page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeopleView {
    pub organization_name: String,
    pub people: Vec<PersonWithRole>,
    pub invitations: Vec<InvitationSummary>,
    pub places: Vec<InvitablePlace>,
}

/// What an API key may do: read, or read and write (post movements, import
/// history). Neither manages people or keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyAccess {
    Read,
    ReadWrite,
}

impl KeyAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::ReadWrite => "read_write",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Read => "Read only",
            Self::ReadWrite => "Read and write",
        }
    }

    pub fn parse(input: &str, field: &str) -> Result<Self, AppError> {
        match input.trim() {
            "read" => Ok(Self::Read),
            "read_write" => Ok(Self::ReadWrite),
            other => Err(AppError::invalid(
                field,
                format!("“{other}” is not an access; choose read or read_write."),
            )),
        }
    }

    /// The role the key acts with at its place.
    pub fn role(self) -> Role {
        match self {
            Self::Read => Role::Viewer,
            Self::ReadWrite => Role::Manager,
        }
    }
}

/// An API key as its organization's admins see it (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeySummary {
    pub id: ApiKeyId,
    pub name: String,
    /// The key's first characters, to tell keys apart: `lk_AbCdEf…`.
    pub prefix: String,
    pub access: KeyAccess,
    pub place: String,
    pub created_by: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// A key just made: the only time the whole key is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedApiKey {
    pub id: ApiKeyId,
    pub key: String,
    pub name: String,
    pub access: KeyAccess,
    pub place: String,
}

/// The API keys page of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeysView {
    pub organization_name: String,
    pub keys: Vec<ApiKeySummary>,
    /// The organization and its pantries, for the place picker.
    pub places: Vec<InvitablePlace>,
}

/// A session as its owner sees it on the account page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSummary {
    pub created_at: String,
    pub last_seen_at: String,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// The session this page was loaded with.
    pub current: bool,
}

/// An organization the person belongs to, and what they are there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Belonging {
    pub organization_id: String,
    pub organization_name: String,
    /// "Admin of State College", "Staff at North Campus · Main Pantry".
    pub roles: Vec<String>,
}

/// The account page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    pub me: Me,
    /// "Password", "Google (through Cognito)".
    pub sign_in_methods: Vec<String>,
    pub sessions: Vec<SessionSummary>,
    pub organizations: Vec<Belonging>,
}

/// What the password reset page shows before the new password is chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetOffer {
    pub email: String,
    pub display_name: String,
}

/// A reset link just made, for the admin to pass on; shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedResetLink {
    pub link: String,
    pub display_name: String,
    pub valid_hours: i64,
    /// The address the link was also emailed to, when mail is set up.
    pub emailed_to: Option<String>,
    /// Why the email could not be sent (the link above still works).
    pub mail_error: Option<String>,
}

/// What the sign-in page says for an error code (also used by tests).
pub fn sso_message(code: &str) -> &'static str {
    match code {
        "state" => "That sign-in link was already used, had expired, or was started in another browser. Start again with the button below.",
        "provider" => "The sign-in service refused the sign-in. Try again, or sign in with your email and password.",
        "code" => "The sign-in service did not accept the sign-in code (it works once). Start again.",
        "signature" => "The sign-in answer was not signed by the configured sign-in service, so it was refused.",
        "audience" => "The sign-in answer was meant for another application, so it was refused.",
        "issuer" => "The sign-in answer came from an unexpected sign-in service, so it was refused.",
        "expired" => "The sign-in answer had expired. Start again.",
        "token" => "The sign-in answer could not be checked, so it was refused. Start again.",
        "unverified" => "Your email address is not verified with the sign-in service, so it cannot be matched to an account.",
        "no_account" => "There is no Larder account or open invitation for that email address. Ask an admin of your pantry to invite you.",
        "unreachable" => "The sign-in service could not be reached. Try again in a minute.",
        _ => "Single sign-on did not work. Try again, or sign in with your email and password.",
    }
}

/// A user of the Cognito user pool, for the site admin's pool page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolUser {
    pub username: String,
    pub email: String,
    pub name: Option<String>,
    /// Cognito's: `CONFIRMED`, `FORCE_CHANGE_PASSWORD`, `EXTERNAL_PROVIDER`, …
    pub status: String,
    pub enabled: bool,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolView {
    pub pool_id: String,
    pub users: Vec<PoolUser>,
    pub groups: Vec<String>,
    /// Pass back for the next page of users.
    pub next_page: Option<String>,
}

/// One line of an organization's audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// In the organization's time zone: `2026-12-05 09:14 EST`.
    pub at: String,
    /// ms since the epoch, for "older" links.
    pub at_ms: i64,
    /// "Ada Admin (ada@college.example)", or the email tried at a failed sign-in.
    pub who: String,
    /// "Stock given out", "Signed in with Google", "Sign-in failed".
    pub what: String,
    /// The pantry, or the organization.
    pub place: String,
    /// The client's address (sign-ins; not yet recorded for other changes).
    pub address: Option<String>,
}

/// What the audit log shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    All,
    Changes,
    SignIns,
}

impl AuditKind {
    pub fn parse(s: &str) -> Self {
        match s {
            "changes" => Self::Changes,
            "sign_ins" => Self::SignIns,
            _ => Self::All,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Changes => "changes",
            Self::SignIns => "sign_ins",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub organization_name: String,
    pub entries: Vec<AuditEntry>,
    /// The period shown, `YYYY-MM-DD`, both days included.
    pub from: String,
    pub to: String,
    /// More entries older than the last one shown exist.
    pub more: bool,
}

/// What an event type is, in the audit log's words.
pub fn audit_label(type_name: &str) -> String {
    let known = match type_name {
        "StockReceived" => "Stock received",
        "StockDistributed" => "Stock given out",
        "StockAdjusted" => "Stock count corrected",
        "StockTransferred" => "Stock moved between pantries",
        "StockDiscarded" => "Stock thrown away",
        "StockMinimumSet" => "Minimum stock set",
        "ProductCreated" => "Product added",
        "ProductUpdated" => "Product changed",
        "ProductArchived" => "Product archived",
        "VisitRecorded" => "Visit recorded",
        "VisitCorrected" => "Visit corrected",
        "VisitVoided" => "Visit voided",
        "PhotoUploaded" => "Photo uploaded",
        "PhotoRemoved" => "Photo removed",
        "IntakeConfirmed" => "Photo intake confirmed",
        "OrganizationCreated" => "Organization created",
        "OrganizationRenamed" => "Organization renamed",
        "OrganizationArchived" => "Organization archived",
        "CampusCreated" => "Campus created",
        "CampusRenamed" => "Campus renamed",
        "CampusArchived" => "Campus archived",
        "PantryCreated" => "Pantry created",
        "PantryRenamed" => "Pantry renamed",
        "PantryArchived" => "Pantry archived",
        "OrganizationTimeZoneSet" | "PantryTimeZoneSet" => "Time zone set",
        "MemberJoined" => "Member joined",
        "MemberRoleChanged" => "Member's role changed",
        "MemberRemoved" => "Member removed or left",
        "HistoryImported" => "Usage history imported",
        "PurchaseOrderCreated" => "Purchase order started",
        "PurchaseOrderSubmitted" => "Purchase order submitted",
        "PurchaseOrderReceived" => "Purchase order received",
        "PurchaseOrderCancelled" => "Purchase order cancelled",
        "SupplierCatalogUpdated" => "Supplier catalog updated",
        "SupplierSyncFailed" => "Supplier catalog sync failed",
        "StockIssueRaised" => "Stock issue raised",
        "StockIssueAccepted" => "Stock issue accepted",
        "StockIssueDismissed" => "Stock issue dismissed",
        "EventParked" => "Event set aside after failing",
        "ParkedEventDelivered" => "Parked event delivered on retry",
        "ForecastsGenerated" => "Forecasts made",
        _ => "",
    };
    if known.is_empty() {
        type_name.to_string()
    } else {
        known.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert_eq!(
            Email::parse(" Ana@Example.org ", "email")
                .unwrap()
                .normalized(),
            "ana@example.org"
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.org",
            "ana@example",
            "ana@exa mple.org",
            "a b@example.org",
            "ana@example..org",
        ] {
            let e = Email::parse(bad, "email").unwrap_err();
            assert_eq!(e.field(), Some("email"), "{bad}");
        }
    }

    #[test]
    fn passwords_need_length_and_variety() {
        assert!(NewPassword::parse("short", "password").is_err());
        assert!(NewPassword::parse("aaaaaaaaaaaa", "password").is_err());
        assert!(NewPassword::parse("correct horse", "password").is_ok());
        assert_eq!(
            format!("{:?}", NewPassword::parse("correct horse", "p").unwrap()),
            "NewPassword(***)"
        );
    }

    #[test]
    fn roles_are_ordered_by_power() {
        assert!(
            Role::Admin > Role::Manager
                && Role::Manager > Role::Staff
                && Role::Staff > Role::Viewer
        );
        assert_eq!(Role::parse("staff", "role").unwrap(), Role::Staff);
        assert!(Role::parse("owner", "role").is_err());
    }
}
