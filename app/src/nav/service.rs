//! Works out the navigation for a caller: which pantry is current and what
//! they may do there.

use crate::auth::model::Role;
use crate::auth::service::Caller;
use crate::db::Db;
use crate::error::AppResult;
use crate::org::service::{abilities, org_place, overview, pantry_place};

use super::model::{NavPantry, Navigation};

/// The cookie that remembers the pantry a person last worked in, so pages
/// outside any pantry (a product, a visit, the catalog) keep its navigation.
pub const PANTRY_COOKIE: &str = "larder_pantry";

/// The navigation for `caller`. The current pantry is the one the page is
/// about (`hint`) when they can see it, else the one they last worked in
/// (`remembered`), else their first. Returns whether the hint was taken, so
/// the caller can remember it.
pub async fn navigation(
    db: &Db,
    caller: &Caller,
    hint: Option<&str>,
    remembered: Option<&str>,
) -> AppResult<(Navigation, bool)> {
    let cards = overview(db, caller).await?.pantries;
    let find =
        |id: Option<&str>| id.and_then(|id| cards.iter().find(|c| c.pantry.id.as_str() == id));
    let hinted = find(hint);
    let current = hinted.or_else(|| find(remembered)).or(cards.first());
    let (abilities, administer_organization) = match current {
        Some(c) => (
            abilities(caller.role_at(&pantry_place(&c.pantry))),
            caller.role_at(&org_place(c.pantry.organization_id.as_str())) == Some(Role::Admin),
        ),
        None => Default::default(),
    };
    let nav = |c: &crate::org::model::PantryCard| NavPantry {
        id: c.pantry.id.clone(),
        name: c.pantry.name.clone(),
        place: format!("{} · {}", c.campus_name, c.organization_name),
        organization_id: c.pantry.organization_id.clone(),
    };
    Ok((
        Navigation {
            pantries: cards.iter().map(nav).collect(),
            current: current.map(nav),
            abilities,
            administer_organization,
        },
        hinted.is_some() && hint != remembered,
    ))
}

/// The first-run checklist of each organization the caller administers
/// that has not finished it: a pantry, products, a second person, a visit.
pub async fn checklists(db: &Db, caller: &Caller) -> AppResult<Vec<super::model::Checklist>> {
    use super::model::{Checklist, ChecklistStep};
    let mut out = Vec::new();
    for org in overview(db, caller).await?.organizations {
        let id = org.id.as_str();
        if caller.role_at(&org_place(id)) != Some(Role::Admin) {
            continue;
        }
        let count = |sql: &'static str| async move {
            let n: i64 = sqlx::query_scalar(sql)
                .bind(id)
                .fetch_one(db.pool())
                .await?;
            Ok::<_, crate::error::AppError>(n)
        };
        let first_pantry: Option<String> = sqlx::query_scalar(
            "select id from pantries where organization_id = $1 and archived_at is null \
             order by created_at limit 1",
        )
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
        let products = count("select count(*) from products where organization_id = $1").await?;
        let people = count(
            "select (select count(distinct user_id) from memberships where organization_id = $1) \
             + (select count(*) from invitations where organization_id = $1 and revoked_at is null \
                and accepted_at is null)",
        )
        .await?;
        let visits = count("select count(*) from visits where organization_id = $1").await?;
        let step = |label: &str, done: bool, href: String, help: &str| ChecklistStep {
            label: label.into(),
            done,
            href,
            help: help.into(),
        };
        let steps = vec![
            step(
                "Create a pantry",
                first_pantry.is_some(),
                format!("/organizations/{id}"),
                "getting-started",
            ),
            step(
                "Add products or import your catalog",
                products > 0,
                format!("/organizations/{id}/catalog"),
                "catalog",
            ),
            step(
                "Invite the people who work with you",
                people > 1,
                format!("/organizations/{id}/people"),
                "people",
            ),
            step(
                "Record the first visit",
                visits > 0,
                match &first_pantry {
                    Some(p) => format!("/pantries/{p}/visit"),
                    None => format!("/organizations/{id}"),
                },
                "counter",
            ),
        ];
        let list = Checklist {
            organization_id: org.id.clone(),
            organization_name: org.name.clone(),
            steps,
        };
        if !list.complete() {
            out.push(list);
        }
    }
    Ok(out)
}
