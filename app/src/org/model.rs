//! Organizations, campuses and pantries: the shared types.

use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::ids::{CampusId, OrganizationId, PantryId};

/// The name of an organization, campus or pantry: trimmed, inner runs of
/// whitespace collapsed, 1–80 characters, no control or invisible
/// characters (see [`crate::input::clean_text`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityName(String);

impl EntityName {
    pub const MAX_CHARS: usize = 80;

    /// Parses user input; `field` names the form field for the error.
    pub fn parse(input: &str, field: &str, what: &str) -> Result<Self, AppError> {
        let collapsed = crate::input::clean_text(input, field)?;
        if collapsed.is_empty() {
            return Err(AppError::invalid(
                field,
                format!("Enter a name for the {what}."),
            ));
        }
        let n = collapsed.chars().count();
        if n > Self::MAX_CHARS {
            return Err(AppError::invalid(
                field,
                format!(
                    "The name is {n} characters long; the most is {}.",
                    Self::MAX_CHARS
                ),
            ));
        }
        Ok(Self(collapsed))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key two names are compared by for duplicates: case-insensitive.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    pub id: OrganizationId,
    pub name: String,
    pub archived: bool,
    /// The IANA time zone its pantries count days in unless they chose
    /// their own.
    pub time_zone: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campus {
    pub id: CampusId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub archived: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pantry {
    pub id: PantryId,
    pub organization_id: OrganizationId,
    pub campus_id: CampusId,
    pub name: String,
    pub archived: bool,
    /// Its own IANA time zone; `None`: the organization's.
    pub time_zone: Option<String>,
}

/// What the caller may do at a place, worked out on the server from their
/// memberships, so views can hide what would be refused anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Abilities {
    /// Holds a role here (or above): sees the stock of the whole place.
    pub view: bool,
    /// Holds staff or above: records stock movements.
    pub record: bool,
    pub manage: bool,
    pub administer: bool,
}

/// A pantry as seen from the caller's dashboard, with its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PantryCard {
    pub pantry: Pantry,
    pub campus_name: String,
    pub organization_name: String,
}

/// The organization page: the organization and the campuses the caller sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationView {
    pub organization: Organization,
    pub campuses: Vec<CampusSummary>,
    pub abilities: Abilities,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampusSummary {
    pub campus: Campus,
    pub pantry_count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampusView {
    pub campus: Campus,
    pub organization_name: String,
    pub pantries: Vec<Pantry>,
    pub abilities: Abilities,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PantryView {
    pub pantry: Pantry,
    pub campus_name: String,
    pub organization_name: String,
    /// The zone the pantry uses when it has none of its own.
    pub organization_time_zone: String,
    pub abilities: Abilities,
    /// People with access to this pantry, through it or a place above it.
    pub people: Vec<crate::auth::model::PersonWithRole>,
}

impl PantryView {
    /// The breadcrumbs from the organization down to a page of this pantry
    /// called `page` (`None`: the pantry's own page).
    pub fn trail(&self, page: Option<&str>) -> Vec<(String, Option<String>)> {
        let p = &self.pantry;
        let mut trail = vec![
            (
                self.organization_name.clone(),
                Some(format!("/organizations/{}", p.organization_id)),
            ),
            (
                self.campus_name.clone(),
                Some(format!("/campuses/{}", p.campus_id)),
            ),
            (p.name.clone(), page.map(|_| format!("/pantries/{}", p.id))),
        ];
        trail.extend(page.map(|label| (label.to_string(), None)));
        trail
    }
}

/// Everything the caller can see, for the home page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Overview {
    pub organizations: Vec<Organization>,
    pub pantries: Vec<PantryCard>,
    pub can_create_organization: bool,
}

/// A place whose figures are asked for: a pantry, a campus or a whole
/// organization (`pantry:<id>`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Pantry(PantryId),
    Campus(CampusId),
    Organization(OrganizationId),
}

impl Scope {
    pub fn parse(s: &str) -> Result<Self, crate::error::AppError> {
        let (kind, id) = s.split_once(':').ok_or_else(|| {
            crate::error::AppError::invalid("scope", "Choose a pantry, campus or organization.")
        })?;
        match kind {
            "pantry" => Ok(Self::Pantry(id.parse()?)),
            "campus" => Ok(Self::Campus(id.parse()?)),
            "organization" => Ok(Self::Organization(id.parse()?)),
            _ => Err(crate::error::AppError::invalid(
                "scope",
                "Choose a pantry, campus or organization.",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_collapsed() {
        let n = EntityName::parse("  North   Campus \t", "name", "campus").unwrap();
        assert_eq!(n.as_str(), "North Campus");
        assert_eq!(n.key(), "north campus");
    }

    #[test]
    fn empty_long_and_control_names_are_refused_with_the_field() {
        let e = EntityName::parse("   ", "name", "pantry").unwrap_err();
        assert_eq!(e.field(), Some("name"));
        assert!(e.to_string().contains("pantry"));
        assert!(EntityName::parse(&"a".repeat(81), "name", "pantry").is_err());
        assert!(EntityName::parse(&"é".repeat(80), "name", "pantry").is_ok());
        assert!(EntityName::parse("a\u{7}b", "name", "pantry").is_err());
    }
}
