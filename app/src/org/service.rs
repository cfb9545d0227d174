//! Organizations, campuses and pantries on the server: the SQL that owns
//! their tables and the rules for who may see and change them.
//!
//! Nothing here is deleted: archiving hides a place from lists and refuses
//! new work there, while everything that refers to it stays intact.

use sqlx::Row as _;

use super::model::*;
use crate::auth::model::{PersonWithRole, Role, ScopeKind};
use crate::auth::service::{Caller, Place};
use crate::db::{self, Db};
use crate::error::{AppError, AppResult};
use crate::events::domain::DomainEvent;
use crate::events::store::{self as events, NewEvent};
use crate::ids::{CampusId, MembershipId, OrganizationId, PantryId, UserId};
use crate::state::AppState;

/// The payload of every organization, campus and pantry event
/// (`PantryRenamed`, …), version 1: the place as it stands after the change.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlaceChanged {
    pub id: String,
    pub organization_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campus_id: Option<String>,
    pub name: String,
    /// Set by the time zone events: the zone chosen (`None` for a pantry:
    /// back to its organization's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

impl From<&Organization> for PlaceChanged {
    fn from(o: &Organization) -> Self {
        Self {
            id: o.id.to_string(),
            organization_id: o.id.to_string(),
            campus_id: None,
            name: o.name.clone(),
            time_zone: Some(o.time_zone.clone()),
        }
    }
}

impl From<&Campus> for PlaceChanged {
    fn from(c: &Campus) -> Self {
        Self {
            id: c.id.to_string(),
            organization_id: c.organization_id.to_string(),
            campus_id: Some(c.id.to_string()),
            name: c.name.clone(),
            time_zone: None,
        }
    }
}

impl From<&Pantry> for PlaceChanged {
    fn from(p: &Pantry) -> Self {
        Self {
            id: p.id.to_string(),
            organization_id: p.organization_id.to_string(),
            campus_id: Some(p.campus_id.to_string()),
            name: p.name.clone(),
            time_zone: p.time_zone.clone(),
        }
    }
}

/// Appends a place's event in the transaction that changed it.
async fn place_event(
    tx: &mut db::Tx,
    state: &AppState,
    caller: &Caller,
    event: DomainEvent,
    place: &PlaceChanged,
    pantry: Option<&str>,
) -> AppResult<()> {
    let correlation = crate::request::current_request_id();
    events::append(
        tx,
        state.db.backend(),
        &NewEvent {
            event: &event,
            organization_id: &place.organization_id,
            pantry_id: pantry,
            actor_id: Some(caller.me.id.as_str()),
            correlation_id: &correlation,
            client_ip: crate::request::current_client_ip().as_deref(),
            trace_parent: crate::request::current_trace_parent().as_deref(),
            occurred_at: state.clock.now_ms(),
        },
    )
    .await?;
    Ok(())
}

/// After a place changed: this process forgets what it knew of places at
/// once (the person who changed it reads their own write); the bus tells
/// every consumer, and through them every other process.
fn place_committed(state: &AppState) {
    state.callers.forget_all();
    state.contexts.forget_all();
    state.bus.committed();
}

pub(crate) fn org_place(id: &str) -> Place {
    Place {
        organization_id: id.into(),
        campus_id: None,
        pantry_id: None,
    }
}

fn campus_place(c: &Campus) -> Place {
    Place {
        organization_id: c.organization_id.to_string(),
        campus_id: Some(c.id.to_string()),
        pantry_id: None,
    }
}

pub(crate) fn pantry_place(p: &Pantry) -> Place {
    Place {
        organization_id: p.organization_id.to_string(),
        campus_id: Some(p.campus_id.to_string()),
        pantry_id: Some(p.id.to_string()),
    }
}

pub(crate) fn abilities(role: Option<Role>) -> Abilities {
    Abilities {
        view: role.is_some(),
        record: role >= Some(Role::Staff),
        manage: role >= Some(Role::Manager),
        administer: role == Some(Role::Admin),
    }
}

// ------------------------------------------------------------------ reads

fn organization_from(r: &db::Row) -> Result<Organization, sqlx::Error> {
    Ok(Organization {
        id: OrganizationId::from_stored(r.try_get("id")?),
        name: r.try_get("name")?,
        archived: r.try_get::<Option<i64>, _>("archived_at")?.is_some(),
        time_zone: r.try_get("time_zone")?,
    })
}

fn campus_from(r: &db::Row) -> Result<Campus, sqlx::Error> {
    Ok(Campus {
        id: CampusId::from_stored(r.try_get("id")?),
        organization_id: OrganizationId::from_stored(r.try_get("organization_id")?),
        name: r.try_get("name")?,
        archived: r.try_get::<Option<i64>, _>("archived_at")?.is_some(),
    })
}

fn pantry_from(r: &db::Row) -> Result<Pantry, sqlx::Error> {
    Ok(Pantry {
        id: PantryId::from_stored(r.try_get("id")?),
        organization_id: OrganizationId::from_stored(r.try_get("organization_id")?),
        campus_id: CampusId::from_stored(r.try_get("campus_id")?),
        name: r.try_get("name")?,
        archived: r.try_get::<Option<i64>, _>("archived_at")?.is_some(),
        time_zone: r.try_get("time_zone")?,
    })
}

async fn active_organization(db: &Db, id: &str) -> AppResult<Organization> {
    if !crate::ids::is_id(id) {
        return Err(AppError::not_found("organization"));
    }
    let row = sqlx::query(
        "select id, name, archived_at, time_zone from organizations where id = $1 and archived_at is null",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| AppError::not_found("organization"))?;
    Ok(organization_from(&row)?)
}

async fn active_campus(db: &Db, id: &str) -> AppResult<Campus> {
    if !crate::ids::is_id(id) {
        return Err(AppError::not_found("campus"));
    }
    let row = sqlx::query(
        "select c.id, c.organization_id, c.name, c.archived_at from campuses c \
         join organizations o on o.id = c.organization_id \
         where c.id = $1 and c.archived_at is null and o.archived_at is null",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| AppError::not_found("campus"))?;
    Ok(campus_from(&row)?)
}

async fn active_pantry(db: &Db, id: &str) -> AppResult<Pantry> {
    if !crate::ids::is_id(id) {
        return Err(AppError::not_found("pantry"));
    }
    let row = sqlx::query(
        "select p.id, p.organization_id, p.campus_id, p.name, p.archived_at, p.time_zone from pantries p \
         join campuses c on c.id = p.campus_id join organizations o on o.id = p.organization_id \
         where p.id = $1 and p.archived_at is null and c.archived_at is null and o.archived_at is null",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| AppError::not_found("pantry"))?;
    Ok(pantry_from(&row)?)
}

/// An active pantry with its campus and organization, and the place
/// access checks need.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn pantry_with_parents(
    db: &Db,
    id: &str,
) -> AppResult<(Pantry, Campus, Organization, Place)> {
    if !crate::ids::is_id(id) {
        return Err(AppError::not_found("pantry"));
    }
    // One round trip: every stock request starts here.
    let r = sqlx::query(
        "select p.id, p.organization_id, p.campus_id, p.name, p.archived_at, p.time_zone, c.name as campus_name, \
         o.name as organization_name, o.time_zone as organization_time_zone \
         from pantries p join campuses c on c.id = p.campus_id join organizations o on o.id = p.organization_id \
         where p.id = $1 and p.archived_at is null and c.archived_at is null and o.archived_at is null",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| AppError::not_found("pantry"))?;
    let pantry = pantry_from(&r)?;
    let campus = Campus {
        id: pantry.campus_id.clone(),
        organization_id: pantry.organization_id.clone(),
        name: r.try_get("campus_name")?,
        archived: false,
    };
    let organization = Organization {
        id: pantry.organization_id.clone(),
        name: r.try_get("organization_name")?,
        archived: false,
        time_zone: r.try_get("organization_time_zone")?,
    };
    let place = pantry_place(&pantry);
    Ok((pantry, campus, organization, place))
}

/// An active campus and the place access checks need.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn campus_with_place(db: &Db, id: &str) -> AppResult<(Campus, Place)> {
    let campus = active_campus(db, id).await?;
    let place = campus_place(&campus);
    Ok((campus, place))
}

/// An active organization and the place access checks need.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn organization_with_place(db: &Db, id: &str) -> AppResult<(Organization, Place)> {
    let o = active_organization(db, id).await?;
    let place = org_place(o.id.as_str());
    Ok((o, place))
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn organization_name(db: &Db, id: &str) -> AppResult<String> {
    Ok(active_organization(db, id).await?.name)
}

/// The place a membership or invitation scope names, with a label for it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn resolve_scope(db: &Db, kind: ScopeKind, id: &str) -> AppResult<(Place, String)> {
    match kind {
        ScopeKind::Organization => {
            let o = active_organization(db, id).await?;
            Ok((org_place(o.id.as_str()), o.name))
        }
        ScopeKind::Campus => {
            let c = active_campus(db, id).await?;
            Ok((campus_place(&c), c.name))
        }
        ScopeKind::Pantry => {
            let p = active_pantry(db, id).await?;
            let campus = active_campus(db, p.campus_id.as_str()).await?;
            Ok((pantry_place(&p), format!("{} · {}", campus.name, p.name)))
        }
    }
}

/// An organization with all its active campuses and pantries.
pub struct OrganizationTree {
    pub organization: Organization,
    pub campuses: Vec<Campus>,
    pub pantries: Vec<Pantry>,
}

impl OrganizationTree {
    /// Every place in the tree, top down, labelled for people.
    pub fn places(&self) -> Vec<(ScopeKind, String, Place, String)> {
        let mut out = vec![(
            ScopeKind::Organization,
            self.organization.id.to_string(),
            org_place(self.organization.id.as_str()),
            format!("{} (whole organization)", self.organization.name),
        )];
        for c in &self.campuses {
            out.push((
                ScopeKind::Campus,
                c.id.to_string(),
                campus_place(c),
                format!("{} (campus)", c.name),
            ));
            for p in self.pantries.iter().filter(|p| p.campus_id == c.id) {
                out.push((
                    ScopeKind::Pantry,
                    p.id.to_string(),
                    pantry_place(p),
                    format!("{} · {}", c.name, p.name),
                ));
            }
        }
        out
    }
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn organization_tree(db: &Db, id: &OrganizationId) -> AppResult<OrganizationTree> {
    let organization = active_organization(db, id.as_str()).await?;
    let campuses = sqlx::query(
        "select id, organization_id, name, archived_at from campuses \
         where organization_id = $1 and archived_at is null order by name_key",
    )
    .bind(id.as_str())
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(campus_from)
    .collect::<Result<Vec<_>, _>>()?;
    let pantries = sqlx::query(
        "select p.id, p.organization_id, p.campus_id, p.name, p.archived_at, p.time_zone from pantries p \
         join campuses c on c.id = p.campus_id \
         where p.organization_id = $1 and p.archived_at is null and c.archived_at is null order by p.name_key",
    )
    .bind(id.as_str())
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(pantry_from)
    .collect::<Result<Vec<_>, _>>()?;
    Ok(OrganizationTree {
        organization,
        campuses,
        pantries,
    })
}

/// What the home page shows: the caller's organizations and every pantry
/// they can see.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn overview(db: &Db, caller: &Caller) -> AppResult<Overview> {
    let mut org_ids: Vec<String> = caller
        .grants
        .iter()
        .map(|g| g.organization_id.to_string())
        .collect();
    org_ids.sort();
    org_ids.dedup();
    let mut organizations = Vec::new();
    let mut pantries = Vec::new();
    for id in org_ids {
        let tree = match organization_tree(db, &OrganizationId::from_stored(id)).await {
            Ok(t) => t,
            Err(AppError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        for p in &tree.pantries {
            if caller.role_at(&pantry_place(p)).is_some() {
                let campus_name = tree
                    .campuses
                    .iter()
                    .find(|c| c.id == p.campus_id)
                    .map(|c| c.name.clone())
                    .unwrap_or_default();
                pantries.push(PantryCard {
                    pantry: p.clone(),
                    campus_name,
                    organization_name: tree.organization.name.clone(),
                });
            }
        }
        organizations.push(tree.organization);
    }
    organizations.sort_by_key(|o| o.name.to_lowercase());
    Ok(Overview {
        organizations,
        pantries,
        can_create_organization: caller.me.is_site_admin,
    })
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn organization_view(
    db: &Db,
    caller: &Caller,
    id: &OrganizationId,
) -> AppResult<OrganizationView> {
    if !caller.belongs_to(id.as_str()) {
        return Err(AppError::not_found("organization"));
    }
    let tree = organization_tree(db, id).await?;
    let role = caller.role_at(&org_place(id.as_str()));
    let campuses = tree
        .campuses
        .iter()
        .filter_map(|c| {
            let visible_pantries = tree
                .pantries
                .iter()
                .filter(|p| p.campus_id == c.id && caller.role_at(&pantry_place(p)).is_some())
                .count();
            (caller.role_at(&campus_place(c)).is_some() || visible_pantries > 0).then(|| {
                CampusSummary {
                    campus: c.clone(),
                    pantry_count: visible_pantries as i64,
                }
            })
        })
        .collect();
    Ok(OrganizationView {
        organization: tree.organization,
        campuses,
        abilities: abilities(role),
    })
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn campus_view(db: &Db, caller: &Caller, id: &CampusId) -> AppResult<CampusView> {
    let campus = active_campus(db, id.as_str()).await?;
    let tree = organization_tree(db, &campus.organization_id).await?;
    let pantries: Vec<Pantry> = tree
        .pantries
        .into_iter()
        .filter(|p| p.campus_id == campus.id && caller.role_at(&pantry_place(p)).is_some())
        .collect();
    let role = caller.role_at(&campus_place(&campus));
    if role.is_none() && pantries.is_empty() {
        return Err(AppError::not_found("campus"));
    }
    Ok(CampusView {
        organization_name: tree.organization.name,
        campus,
        pantries,
        abilities: abilities(role),
    })
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn pantry_view(db: &Db, caller: &Caller, id: &PantryId) -> AppResult<PantryView> {
    let pantry = active_pantry(db, id.as_str()).await?;
    let place = pantry_place(&pantry);
    let role = caller.require(&place, Role::Viewer, "pantry")?;
    let campus = active_campus(db, pantry.campus_id.as_str()).await?;
    let organization = active_organization(db, pantry.organization_id.as_str()).await?;
    let organization_name = organization.name;
    let people = if role == Role::Admin {
        people_at(db, &pantry, &campus, &organization_name).await?
    } else {
        vec![]
    };
    Ok(PantryView {
        pantry,
        campus_name: campus.name,
        organization_name,
        organization_time_zone: organization.time_zone,
        abilities: abilities(Some(role)),
        people,
    })
}

/// Everyone with access to a pantry, through it, its campus or its
/// organization.
async fn people_at(
    db: &Db,
    pantry: &Pantry,
    campus: &Campus,
    organization_name: &str,
) -> AppResult<Vec<PersonWithRole>> {
    let rows = sqlx::query(
        "select m.id, m.user_id, u.display_name, u.email, m.role, m.scope_kind from memberships m \
         join users u on u.id = m.user_id \
         where u.disabled_at is null and ((m.scope_kind = 'organization' and m.scope_id = $1) \
            or (m.scope_kind = 'campus' and m.scope_id = $2) or (m.scope_kind = 'pantry' and m.scope_id = $3)) \
         order by u.display_name",
    )
    .bind(pantry.organization_id.as_str())
    .bind(campus.id.as_str())
    .bind(pantry.id.as_str())
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let kind = ScopeKind::parse(&r.try_get::<String, _>("scope_kind")?, "scope")?;
            Ok(PersonWithRole {
                membership_id: MembershipId::from_stored(r.try_get("id")?),
                user_id: UserId::from_stored(r.try_get("user_id")?),
                display_name: r.try_get("display_name")?,
                email: r.try_get("email")?,
                role: Role::parse(&r.try_get::<String, _>("role")?, "role")?,
                scope_kind: kind,
                scope_name: match kind {
                    ScopeKind::Organization => organization_name.to_string(),
                    ScopeKind::Campus => campus.name.clone(),
                    ScopeKind::Pantry => pantry.name.clone(),
                },
            })
        })
        .collect()
}

// ----------------------------------------------------------------- writes

/// How the names of one kind of place stay unique: case-insensitively,
/// among the active places of the same parent.
struct NameRule {
    table: &'static str,
    /// The parent column (`None`: unique across the instance).
    parent: Option<&'static str>,
    /// "an organization", "a campus", "a pantry".
    what: &'static str,
    /// "on this Larder", "in this organization", "on this campus".
    within: &'static str,
}

const ORGANIZATION_NAMES: NameRule = NameRule {
    table: "organizations",
    parent: None,
    what: "an organization",
    within: "on this Larder",
};
const CAMPUS_NAMES: NameRule = NameRule {
    table: "campuses",
    parent: Some("organization_id"),
    what: "a campus",
    within: "in this organization",
};
const PANTRY_NAMES: NameRule = NameRule {
    table: "pantries",
    parent: Some("campus_id"),
    what: "a pantry",
    within: "on this campus",
};

impl NameRule {
    fn duplicate(&self, name: &EntityName) -> AppError {
        AppError::conflict(
            "name",
            format!(
                "There is already {} called “{}” {}.",
                self.what,
                name.as_str(),
                self.within
            ),
        )
    }

    /// A unique-index violation (two people choosing the same name at once)
    /// reads like the pre-check's conflict.
    fn or_duplicate(&self, e: sqlx::Error, name: &EntityName) -> AppError {
        if db::is_unique_violation(&e) {
            self.duplicate(name)
        } else {
            e.into()
        }
    }

    /// Refuses the name if another active place under `parent` has it.
    async fn ensure_free(
        &self,
        tx: &mut db::Tx,
        parent: &str,
        name: &EntityName,
        except: &str,
    ) -> AppResult<()> {
        let scope = self
            .parent
            .map(|col| format!("{col} = $3 and "))
            .unwrap_or_default();
        let sql = format!(
            "select count(*) from {} where {scope}name_key = $1 and archived_at is null and id <> $2",
            self.table
        );
        let mut q = sqlx::query_scalar::<_, i64>(&sql)
            .bind(name.key())
            .bind(except.to_string());
        if self.parent.is_some() {
            q = q.bind(parent.to_string());
        }
        if q.fetch_one(&mut **tx).await? > 0 {
            return Err(self.duplicate(name));
        }
        Ok(())
    }

    /// Renames one active place, checking the name inside the transaction,
    /// and records `event` (built from the renamed place) with it.
    #[allow(clippy::too_many_arguments)]
    async fn rename(
        &self,
        state: &AppState,
        caller: &Caller,
        parent: &str,
        id: &str,
        name: &EntityName,
        place: PlaceChanged,
        event: fn(PlaceChanged) -> DomainEvent,
        pantry: Option<&str>,
    ) -> AppResult<()> {
        let mut tx = state.db.begin().await?;
        self.ensure_free(&mut tx, parent, name, id).await?;
        let sql = format!(
            "update {} set name = $1, name_key = $2 where id = $3 and archived_at is null",
            self.table
        );
        sqlx::query(&sql)
            .bind(name.as_str())
            .bind(name.key())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.or_duplicate(e, name))?;
        let place = PlaceChanged {
            name: name.as_str().to_string(),
            ..place
        };
        place_event(&mut tx, state, caller, event(place.clone()), &place, pantry).await?;
        tx.commit().await?;
        place_committed(state);
        Ok(())
    }
}

/// Creates an organization; its creator becomes its admin. Only the site
/// admin (the account made at setup) may create organizations.
/// Creates an organization with the caller as its admin.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_organization(
    state: &AppState,
    caller: &Caller,
    name: &str,
) -> AppResult<Organization> {
    let db = &state.db;
    if !caller.me.is_site_admin {
        return Err(AppError::Forbidden(
            "Only the administrator of this Larder can create organizations.".into(),
        ));
    }
    let name = EntityName::parse(name, "name", "organization")?;
    let mut tx = db.begin().await?;
    ORGANIZATION_NAMES
        .ensure_free(&mut tx, "", &name, "")
        .await?;
    let id = OrganizationId::new();
    let now = state.clock.now_ms();
    sqlx::query(
        "insert into organizations (id, name, name_key, created_at) values ($1, $2, $3, $4)",
    )
    .bind(id.as_str())
    .bind(name.as_str())
    .bind(name.key())
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| ORGANIZATION_NAMES.or_duplicate(e, &name))?;
    sqlx::query(
        "insert into memberships (id, user_id, organization_id, scope_kind, scope_id, role, granted_by, created_at) \
         values ($1, $2, $3, 'organization', $3, 'admin', $2, $4)",
    )
    .bind(MembershipId::new().as_str())
    .bind(caller.me.id.as_str())
    .bind(id.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let created = Organization {
        id: id.clone(),
        name: name.as_str().to_string(),
        archived: false,
        time_zone: crate::zones::DEFAULT.into(),
    };
    let place = PlaceChanged::from(&created);
    place_event(
        &mut tx,
        state,
        caller,
        DomainEvent::OrganizationCreated(place.clone()),
        &place,
        None,
    )
    .await?;
    let member = crate::auth::members::MemberJoined {
        user_id: caller.me.id.to_string(),
        organization_id: id.to_string(),
        scope_kind: "organization".into(),
        scope_id: id.to_string(),
        role: Role::Admin.as_str().into(),
    };
    place_event(
        &mut tx,
        state,
        caller,
        DomainEvent::MemberJoined(member),
        &place,
        None,
    )
    .await?;
    tx.commit().await?;
    // The caller holds a new membership.
    place_committed(state);
    tracing::info!(organization_id = %id, "organization created");
    Ok(created)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn rename_organization(
    state: &AppState,
    caller: &Caller,
    id: &OrganizationId,
    name: &str,
) -> AppResult<()> {
    let org = active_organization(&state.db, id.as_str()).await?;
    caller.require(&org_place(id.as_str()), Role::Admin, "organization")?;
    let name = EntityName::parse(name, "name", "organization")?;
    let place = PlaceChanged::from(&org);
    ORGANIZATION_NAMES
        .rename(
            state,
            caller,
            "",
            id.as_str(),
            &name,
            place,
            DomainEvent::OrganizationRenamed,
            None,
        )
        .await
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn archive_organization(
    state: &AppState,
    caller: &Caller,
    id: &OrganizationId,
) -> AppResult<()> {
    caller.require(&org_place(id.as_str()), Role::Admin, "organization")?;
    let org = active_organization(&state.db, id.as_str()).await?;
    let mut tx = state.db.begin().await?;
    let archived = sqlx::query(
        "update organizations set archived_at = $1 where id = $2 and archived_at is null",
    )
    .bind(state.clock.now_ms())
    .bind(id.as_str())
    .execute(&mut *tx)
    .await?;
    if archived.rows_affected() == 1 {
        let place = PlaceChanged::from(&org);
        place_event(
            &mut tx,
            state,
            caller,
            DomainEvent::OrganizationArchived(place.clone()),
            &place,
            None,
        )
        .await?;
    }
    tx.commit().await?;
    // Memberships of an archived organization no longer count.
    place_committed(state);
    tracing::info!(organization_id = %id, "organization archived");
    Ok(())
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_campus(
    state: &AppState,
    caller: &Caller,
    organization: &OrganizationId,
    name: &str,
) -> AppResult<Campus> {
    let db = &state.db;
    active_organization(db, organization.as_str()).await?;
    caller.require(
        &org_place(organization.as_str()),
        Role::Admin,
        "organization",
    )?;
    let name = EntityName::parse(name, "name", "campus")?;
    let mut tx = db.begin().await?;
    CAMPUS_NAMES
        .ensure_free(&mut tx, organization.as_str(), &name, "")
        .await?;
    let id = CampusId::new();
    sqlx::query("insert into campuses (id, organization_id, name, name_key, created_at) values ($1, $2, $3, $4, $5)")
        .bind(id.as_str())
        .bind(organization.as_str())
        .bind(name.as_str())
        .bind(name.key())
        .bind(state.clock.now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| CAMPUS_NAMES.or_duplicate(e, &name))?;
    let created = Campus {
        id,
        organization_id: organization.clone(),
        name: name.as_str().into(),
        archived: false,
    };
    let place = PlaceChanged::from(&created);
    place_event(
        &mut tx,
        state,
        caller,
        DomainEvent::CampusCreated(place.clone()),
        &place,
        None,
    )
    .await?;
    tx.commit().await?;
    place_committed(state);
    Ok(created)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn rename_campus(
    state: &AppState,
    caller: &Caller,
    id: &CampusId,
    name: &str,
) -> AppResult<()> {
    let campus = active_campus(&state.db, id.as_str()).await?;
    caller.require(&campus_place(&campus), Role::Manager, "campus")?;
    let name = EntityName::parse(name, "name", "campus")?;
    let place = PlaceChanged::from(&campus);
    CAMPUS_NAMES
        .rename(
            state,
            caller,
            campus.organization_id.as_str(),
            id.as_str(),
            &name,
            place,
            DomainEvent::CampusRenamed,
            None,
        )
        .await
}

/// Takes the campus row's write lock for the rest of the transaction, and
/// checks it is still active. Creating a pantry and archiving its campus
/// both start here, so they cannot interleave into an active pantry on an
/// archived campus. (A no-op update is the lock both engines understand.)
async fn lock_active_campus(tx: &mut db::Tx, campus: &CampusId) -> AppResult<()> {
    let locked =
        sqlx::query("update campuses set name = name where id = $1 and archived_at is null")
            .bind(campus.as_str())
            .execute(&mut **tx)
            .await?;
    if locked.rows_affected() == 0 {
        return Err(AppError::not_found("campus"));
    }
    Ok(())
}

/// Archives a campus. One with active pantries is refused, so archiving
/// never hides a working pantry by surprise.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn archive_campus(state: &AppState, caller: &Caller, id: &CampusId) -> AppResult<()> {
    let db = &state.db;
    let campus = active_campus(db, id.as_str()).await?;
    caller.require(
        &org_place(campus.organization_id.as_str()),
        Role::Admin,
        "campus",
    )?;
    let mut tx = db.begin().await?;
    lock_active_campus(&mut tx, &campus.id).await?;
    let active: i64 = sqlx::query_scalar(
        "select count(*) from pantries where campus_id = $1 and archived_at is null",
    )
    .bind(id.as_str())
    .fetch_one(&mut *tx)
    .await?;
    if active > 0 {
        return Err(AppError::conflict(
            "campus",
            format!(
                "{} still has {active} active pantr{}. Archive {} first.",
                campus.name,
                if active == 1 { "y" } else { "ies" },
                if active == 1 { "it" } else { "them" }
            ),
        ));
    }
    sqlx::query("update campuses set archived_at = $1 where id = $2 and archived_at is null")
        .bind(state.clock.now_ms())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
    let place = PlaceChanged::from(&campus);
    place_event(
        &mut tx,
        state,
        caller,
        DomainEvent::CampusArchived(place.clone()),
        &place,
        None,
    )
    .await?;
    tx.commit().await?;
    place_committed(state);
    Ok(())
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_pantry(
    state: &AppState,
    caller: &Caller,
    campus: &CampusId,
    name: &str,
) -> AppResult<Pantry> {
    let db = &state.db;
    let campus = active_campus(db, campus.as_str()).await?;
    caller.require(&campus_place(&campus), Role::Manager, "campus")?;
    let name = EntityName::parse(name, "name", "pantry")?;
    let mut tx = db.begin().await?;
    lock_active_campus(&mut tx, &campus.id).await?;
    PANTRY_NAMES
        .ensure_free(&mut tx, campus.id.as_str(), &name, "")
        .await?;
    let id = PantryId::new();
    sqlx::query(
        "insert into pantries (id, organization_id, campus_id, name, name_key, created_at) values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id.as_str())
    .bind(campus.organization_id.as_str())
    .bind(campus.id.as_str())
    .bind(name.as_str())
    .bind(name.key())
    .bind(state.clock.now_ms())
    .execute(&mut *tx)
    .await
    .map_err(|e| PANTRY_NAMES.or_duplicate(e, &name))?;
    let created = Pantry {
        id: id.clone(),
        organization_id: campus.organization_id.clone(),
        campus_id: campus.id.clone(),
        name: name.as_str().into(),
        archived: false,
        time_zone: None,
    };
    let place = PlaceChanged::from(&created);
    place_event(
        &mut tx,
        state,
        caller,
        DomainEvent::PantryCreated(place.clone()),
        &place,
        Some(id.as_str()),
    )
    .await?;
    tx.commit().await?;
    place_committed(state);
    Ok(created)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn rename_pantry(
    state: &AppState,
    caller: &Caller,
    id: &PantryId,
    name: &str,
) -> AppResult<()> {
    let pantry = active_pantry(&state.db, id.as_str()).await?;
    caller.require(&pantry_place(&pantry), Role::Manager, "pantry")?;
    let name = EntityName::parse(name, "name", "pantry")?;
    let place = PlaceChanged::from(&pantry);
    PANTRY_NAMES
        .rename(
            state,
            caller,
            pantry.campus_id.as_str(),
            id.as_str(),
            &name,
            place,
            DomainEvent::PantryRenamed,
            Some(id.as_str()),
        )
        .await
}

/// Sets the time zone an organization's pantries count their days in
/// (those that chose none of their own); its admins may.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_organization_time_zone(
    state: &AppState,
    caller: &Caller,
    id: &OrganizationId,
    zone: &str,
) -> AppResult<()> {
    let org = active_organization(&state.db, id.as_str()).await?;
    caller.require(&org_place(id.as_str()), Role::Admin, "organization")?;
    let zone = crate::zones::Zone::parse(zone, "time_zone")?;
    let mut tx = state.db.begin().await?;
    sqlx::query("update organizations set time_zone = $1 where id = $2 and archived_at is null")
        .bind(zone.name())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
    let place = PlaceChanged::from(&Organization {
        time_zone: zone.name().to_string(),
        ..org
    });
    let event = DomainEvent::OrganizationTimeZoneSet(place.clone());
    place_event(&mut tx, state, caller, event, &place, None).await?;
    tx.commit().await?;
    place_committed(state);
    Ok(())
}

/// Sets a pantry's own time zone, or (`zone` empty) makes it use its
/// organization's; a manager of the pantry (or above) may.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_pantry_time_zone(
    state: &AppState,
    caller: &Caller,
    id: &PantryId,
    zone: &str,
) -> AppResult<()> {
    let pantry = active_pantry(&state.db, id.as_str()).await?;
    caller.require(&pantry_place(&pantry), Role::Manager, "pantry")?;
    let zone = match zone.trim() {
        "" => None,
        z => Some(
            crate::zones::Zone::parse(z, "time_zone")?
                .name()
                .to_string(),
        ),
    };
    let mut tx = state.db.begin().await?;
    sqlx::query("update pantries set time_zone = $1 where id = $2 and archived_at is null")
        .bind(zone.as_deref())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
    let place = PlaceChanged::from(&Pantry {
        time_zone: zone,
        ..pantry
    });
    let event = DomainEvent::PantryTimeZoneSet(place.clone());
    place_event(&mut tx, state, caller, event, &place, Some(id.as_str())).await?;
    tx.commit().await?;
    place_committed(state);
    Ok(())
}

/// The time zone each of these pantries counts its days in.
pub async fn pantry_zones<'e>(
    db: impl sqlx::Executor<'e, Database = sqlx::Any>,
    pantries: &[String],
) -> AppResult<std::collections::HashMap<String, crate::zones::Zone>> {
    let mut zones = std::collections::HashMap::new();
    if pantries.is_empty() {
        return Ok(zones);
    }
    let mut sql = db::Sql::default();
    sql.push(
        "select p.id, coalesce(p.time_zone, o.time_zone) as time_zone from pantries p \
         join organizations o on o.id = p.organization_id where p.id in ",
    )
    .text_list(pantries);
    let mut names: std::collections::HashMap<String, crate::zones::Zone> =
        std::collections::HashMap::new();
    for r in sql.query().fetch_all(db).await? {
        let name: String = r.try_get("time_zone")?;
        let zone = names
            .entry(name.clone())
            .or_insert_with(|| crate::zones::Zone::stored(&name))
            .clone();
        zones.insert(r.try_get("id")?, zone);
    }
    Ok(zones)
}

/// The zone names people can choose from.
pub fn time_zone_names() -> Vec<String> {
    crate::zones::names()
}

/// Archives a pantry; a manager of its campus (or above) may.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn archive_pantry(
    state: &AppState,
    caller: &Caller,
    id: &PantryId,
) -> AppResult<CampusId> {
    let pantry = active_pantry(&state.db, id.as_str()).await?;
    caller.require(&pantry_place(&pantry), Role::Viewer, "pantry")?;
    let campus = Place {
        pantry_id: None,
        ..pantry_place(&pantry)
    };
    if caller.role_at(&campus) < Some(Role::Manager) {
        return Err(AppError::Forbidden(
            "Only a manager of the campus can archive its pantries.".into(),
        ));
    }
    let mut tx = state.db.begin().await?;
    let archived =
        sqlx::query("update pantries set archived_at = $1 where id = $2 and archived_at is null")
            .bind(state.clock.now_ms())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
    if archived.rows_affected() == 1 {
        let place = PlaceChanged::from(&pantry);
        place_event(
            &mut tx,
            state,
            caller,
            DomainEvent::PantryArchived(place.clone()),
            &place,
            Some(id.as_str()),
        )
        .await?;
    }
    tx.commit().await?;
    place_committed(state);
    Ok(pantry.campus_id)
}
