//! The navigation's types: sections of a pantry and where a page belongs.

use serde::{Deserialize, Serialize};

use crate::ids::{OrganizationId, PantryId};
use crate::org::model::Abilities;

/// A pantry the caller can switch to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NavPantry {
    pub id: PantryId,
    pub name: String,
    /// "Campus · Organization", to tell pantries of the same name apart.
    pub place: String,
    pub organization_id: OrganizationId,
}

/// What the navigation shows: the current pantry with what the caller may
/// do there, and every pantry they can switch to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Navigation {
    pub pantries: Vec<NavPantry>,
    pub current: Option<NavPantry>,
    /// The caller's abilities at the current pantry.
    pub abilities: Abilities,
    /// An admin of the current pantry's organization (people, invitations).
    pub administer_organization: bool,
}

/// One step of a new organization's first-run checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistStep {
    pub label: String,
    pub done: bool,
    /// Where to do it.
    pub href: String,
    /// The help topic that explains it.
    pub help: String,
}

/// What a new organization still has to set up; shown to its admins until
/// every step is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checklist {
    pub organization_id: OrganizationId,
    pub organization_name: String,
    pub steps: Vec<ChecklistStep>,
}

impl Checklist {
    pub fn complete(&self) -> bool {
        self.steps.iter().all(|s| s.done)
    }
}

/// The parts of Larder a pantry's navigation leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Section {
    Home,
    Counter,
    Inventory,
    Intake,
    Reports,
    Catalog,
    People,
    Settings,
}

impl Section {
    /// In the order the navigation shows them.
    pub const NAVIGATION: [Section; 7] = [
        Self::Counter,
        Self::Inventory,
        Self::Intake,
        Self::Reports,
        Self::Catalog,
        Self::People,
        Self::Settings,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Home => "Pantry",
            Self::Counter => "Counter",
            Self::Inventory => "Inventory",
            Self::Intake => "Intake",
            Self::Reports => "Reports",
            Self::Catalog => "Catalog",
            Self::People => "People",
            Self::Settings => "Settings",
        }
    }

    /// The help topic that explains this section.
    pub fn help_topic(self) -> &'static str {
        match self {
            Self::Home => "getting-started",
            Self::Counter => "counter",
            Self::Inventory => "inventory",
            Self::Intake => "intake",
            Self::Reports => "reports",
            Self::Catalog => "catalog",
            Self::People => "people",
            Self::Settings => "settings",
        }
    }

    /// Where the section starts for this pantry.
    pub fn href(self, pantry: &NavPantry) -> String {
        let (p, o) = (&pantry.id, &pantry.organization_id);
        match self {
            Self::Home => format!("/pantries/{p}"),
            Self::Counter => format!("/pantries/{p}/visit"),
            Self::Inventory => format!("/pantries/{p}/inventory"),
            Self::Intake => format!("/pantries/{p}/intake"),
            Self::Reports => format!("/reports?scope=pantry:{p}"),
            Self::Catalog => format!("/organizations/{o}/catalog"),
            Self::People => format!("/organizations/{o}/people?where=pantry:{p}"),
            Self::Settings => format!("/pantries/{p}/settings"),
        }
    }

    /// Whether someone with these abilities can use the section: pages a
    /// role cannot use are not offered.
    pub fn offered(self, abilities: Abilities, administer_organization: bool) -> bool {
        match self {
            Self::Home | Self::Inventory | Self::Reports | Self::Catalog => abilities.view,
            Self::Counter | Self::Intake => abilities.record,
            Self::Settings => abilities.manage,
            Self::People => administer_organization,
        }
    }

    /// The section a page belongs to, from its path; `None` for pages
    /// outside any pantry (home, sign-in, help).
    pub fn of_path(path: &str) -> Option<Section> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        Some(match parts.as_slice() {
            ["pantries", _] => Self::Home,
            ["pantries", _, "visit" | "visits" | "distribute"] | ["visits", ..] => Self::Counter,
            ["pantries", _, "inventory"] | ["pantries", _, "products", ..] | ["search"] => {
                Self::Inventory
            }
            ["pantries", _, "intake"]
            | ["intakes", ..]
            | ["donations", ..]
            | ["donors", ..]
            | ["organizations", _, "donors" | "donor", ..] => Self::Intake,
            ["reports"]
            | ["pantries", _, "forecasts", ..]
            | ["pantries", _, "recommendations" | "orders" | "issues"]
            | ["orders", ..]
            | ["suppliers", ..]
            | ["organizations", _, "import" | "suppliers" | "issues"] => Self::Reports,
            ["organizations", _, "catalog"] | ["products", ..] => Self::Catalog,
            ["organizations", _, "people"] => Self::People,
            ["pantries", _, "settings"] => Self::Settings,
            _ => return None,
        })
    }
}

/// The pantry a page is about, when its address names one: `/pantries/<id>…`
/// or a report scoped to one pantry.
pub fn pantry_in(path: &str, query: &str) -> Option<String> {
    let mut parts = path.trim_matches('/').split('/');
    if parts.next() == Some("pantries") {
        return parts.next().filter(|s| !s.is_empty()).map(String::from);
    }
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("scope=pantry:"))
        .or_else(|| {
            query
                .split('&')
                .find_map(|kv| kv.strip_prefix("scope=pantry%3A"))
        })
        .filter(|s| !s.is_empty())
        .map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_belong_to_their_section() {
        assert_eq!(Section::of_path("/pantries/p1"), Some(Section::Home));
        assert_eq!(
            Section::of_path("/pantries/p1/visit"),
            Some(Section::Counter)
        );
        assert_eq!(Section::of_path("/visits/v1"), Some(Section::Counter));
        assert_eq!(
            Section::of_path("/pantries/p1/products/x"),
            Some(Section::Inventory)
        );
        assert_eq!(Section::of_path("/search"), Some(Section::Inventory));
        assert_eq!(Section::of_path("/donations/d"), Some(Section::Intake));
        assert_eq!(
            Section::of_path("/organizations/o/import"),
            Some(Section::Reports)
        );
        assert_eq!(Section::of_path("/products/x"), Some(Section::Catalog));
        assert_eq!(
            Section::of_path("/pantries/p/settings"),
            Some(Section::Settings)
        );
        assert_eq!(Section::of_path("/"), None);
        assert_eq!(Section::of_path("/help/counter"), None);
    }

    #[test]
    fn the_pantry_comes_from_the_path_or_a_report_scope() {
        assert_eq!(
            pantry_in("/pantries/p1/inventory", "").as_deref(),
            Some("p1")
        );
        assert_eq!(
            pantry_in("/reports", "from=2026-01-01&scope=pantry:p2").as_deref(),
            Some("p2")
        );
        assert_eq!(
            pantry_in("/reports", "scope=pantry%3Ap3").as_deref(),
            Some("p3")
        );
        assert_eq!(pantry_in("/reports", "scope=campus:c"), None);
        assert_eq!(pantry_in("/organizations/o", ""), None);
    }

    #[test]
    fn roles_see_only_what_they_can_use() {
        let viewer = Abilities {
            view: true,
            ..Default::default()
        };
        let staff = Abilities {
            record: true,
            ..viewer
        };
        let offered = |a, admin| {
            Section::NAVIGATION
                .into_iter()
                .filter(|s| s.offered(a, admin))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            offered(viewer, false),
            [Section::Inventory, Section::Reports, Section::Catalog]
        );
        assert_eq!(
            offered(staff, false),
            [
                Section::Counter,
                Section::Inventory,
                Section::Intake,
                Section::Reports,
                Section::Catalog
            ]
        );
        let admin = Abilities {
            manage: true,
            administer: true,
            ..staff
        };
        assert_eq!(offered(admin, true).len(), 7);
    }
}
