//! Who belongs where: the people page, and an admin changing a member's
//! role or removing them, or a member leaving. An organization always
//! keeps at least one admin of its own.

use sqlx::Row as _;

use super::model::*;
use super::service::{Caller, Place};
use crate::db;
use crate::error::{AppError, AppResult};
use crate::ids::{InvitationId, MembershipId, OrganizationId, UserId};
use crate::org::service as places;
use crate::state::AppState;

/// The payload of `MemberJoined`, version 1: someone holds a role at a
/// place (a new membership, or a higher role than they held).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MemberJoined {
    pub user_id: String,
    pub organization_id: String,
    /// `organization`, `campus` or `pantry`.
    pub scope_kind: String,
    pub scope_id: String,
    pub role: String,
}

/// The payload of `MemberRoleChanged` and `MemberRemoved`, version 1: a
/// membership's role went up or down, or the membership ended (`role` is
/// then the role it had). Who did it is the event's actor.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MemberChanged {
    pub membership_id: String,
    pub user_id: String,
    pub organization_id: String,
    pub scope_kind: String,
    pub scope_id: String,
    pub role: String,
    /// The role held before a change; `None` for a removal.
    pub previous_role: Option<String>,
}

/// A membership as the changes below need it.
struct Membership {
    id: MembershipId,
    user_id: String,
    organization_id: OrganizationId,
    scope_kind: ScopeKind,
    scope_id: String,
    role: Role,
}

impl Membership {
    fn is_organization_admin(&self) -> bool {
        self.scope_kind == ScopeKind::Organization && self.role == Role::Admin
    }
}

async fn membership(conn: &mut db::Conn, id: &str) -> AppResult<Option<Membership>> {
    let row = sqlx::query(
        "select id, user_id, organization_id, scope_kind, scope_id, role from memberships where id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(Membership {
            id: MembershipId::from_stored(r.try_get("id")?),
            user_id: r.try_get("user_id")?,
            organization_id: OrganizationId::from_stored(r.try_get("organization_id")?),
            scope_kind: ScopeKind::parse(&r.try_get::<String, _>("scope_kind")?, "scope")?,
            scope_id: r.try_get("scope_id")?,
            role: Role::parse(&r.try_get::<String, _>("role")?, "role")?,
        })
    })
    .transpose()
}

/// Serializes changes to one organization's admins: on PostgreSQL by
/// locking its row (two admins demoting each other at once would each
/// still see the other); SQLite's `begin immediate` already lets one
/// writer in at a time.
async fn lock_organization(tx: &mut db::Tx, backend: db::Backend, id: &str) -> AppResult<()> {
    if backend == db::Backend::Postgres {
        sqlx::query("select id from organizations where id = $1 for update")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Refuses when `leaving` are all the admins the organization holds at
/// its own level (disabled accounts do not count: they cannot sign in).
async fn keep_an_admin(
    tx: &mut db::Tx,
    organization: &OrganizationId,
    leaving: &[&str],
    message: &str,
) -> AppResult<()> {
    let mut sql = db::Sql::default();
    sql.push(
        "select count(*) from memberships m join users u on u.id = m.user_id \
         where m.organization_id = ",
    )
    .text(organization.as_str())
        .push(" and m.scope_kind = 'organization' and m.role = 'admin' and u.disabled_at is null and m.id not in ");
    sql.text_list(leaving);
    let others: i64 = sql.query().fetch_one(&mut **tx).await?.try_get(0)?;
    if others == 0 {
        return Err(AppError::conflict("role", message));
    }
    Ok(())
}

async fn record(
    tx: &mut db::Tx,
    state: &AppState,
    caller: &Caller,
    event: crate::events::domain::DomainEvent,
    m: &Membership,
) -> AppResult<()> {
    let pantry = (m.scope_kind == ScopeKind::Pantry).then_some(m.scope_id.as_str());
    crate::events::store::append(
        tx,
        state.db.backend(),
        &crate::events::store::NewEvent {
            event: &event,
            organization_id: m.organization_id.as_str(),
            pantry_id: pantry,
            actor_id: Some(caller.me.id.as_str()),
            correlation_id: &crate::request::current_request_id(),
            client_ip: crate::request::current_client_ip().as_deref(),
            trace_parent: crate::request::current_trace_parent().as_deref(),
            occurred_at: state.clock.now_ms(),
        },
    )
    .await?;
    Ok(())
}

fn changed(m: &Membership, role: Role, previous: Option<Role>) -> MemberChanged {
    MemberChanged {
        membership_id: m.id.to_string(),
        user_id: m.user_id.clone(),
        organization_id: m.organization_id.to_string(),
        scope_kind: m.scope_kind.as_str().into(),
        scope_id: m.scope_id.clone(),
        role: role.as_str().into(),
        previous_role: previous.map(|r| r.as_str().into()),
    }
}

/// The membership `id`, for an admin of its place to change; anyone else
/// is told it does not exist or is not theirs to change.
async fn administered(
    state: &AppState,
    tx: &mut db::Tx,
    caller: &Caller,
    id: &MembershipId,
) -> AppResult<Membership> {
    let m = membership(tx, id.as_str())
        .await?
        .ok_or_else(|| AppError::not_found("member"))?;
    admin_of(state, caller, &m).await?;
    Ok(m)
}

/// A membership the caller administers, for the account module's reset
/// links: its person's id.
pub(crate) struct AdministeredMembership {
    pub user_id: String,
}

pub(crate) async fn administered_membership(
    state: &AppState,
    caller: &Caller,
    id: &MembershipId,
) -> AppResult<AdministeredMembership> {
    let mut conn = state.db.connect_one().await?;
    let m = membership(&mut conn, id.as_str())
        .await?
        .ok_or_else(|| AppError::not_found("member"))?;
    admin_of(state, caller, &m).await?;
    Ok(AdministeredMembership { user_id: m.user_id })
}

async fn admin_of(state: &AppState, caller: &Caller, m: &Membership) -> AppResult<()> {
    let (place, _) = places::resolve_scope(&state.db, m.scope_kind, &m.scope_id).await?;
    caller.require(&place, Role::Viewer, "member")?;
    if caller.role_at(&place) != Some(Role::Admin) {
        return Err(AppError::Forbidden(
            "Only an admin of this place can change who belongs to it.".into(),
        ));
    }
    Ok(())
}

/// Sets a member's role at the place of their membership, up or down.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn change_role(
    state: &AppState,
    caller: &Caller,
    id: &MembershipId,
    role: &str,
) -> AppResult<()> {
    let role = Role::parse(role, "role")?;
    let mut tx = state.db.begin().await?;
    let m = administered(state, &mut tx, caller, id).await?;
    if m.role == role {
        return Ok(());
    }
    lock_organization(&mut tx, state.db.backend(), m.organization_id.as_str()).await?;
    if m.is_organization_admin() {
        keep_an_admin(
            &mut tx,
            &m.organization_id,
            &[m.id.as_str()],
            "This is the organization's last admin. Make someone else an admin of the organization first.",
        )
        .await?;
    }
    sqlx::query("update memberships set role = $1 where id = $2")
        .bind(role.as_str())
        .bind(m.id.as_str())
        .execute(&mut *tx)
        .await?;
    let event =
        crate::events::domain::DomainEvent::MemberRoleChanged(changed(&m, role, Some(m.role)));
    record(&mut tx, state, caller, event, &m).await?;
    tx.commit().await?;
    state.callers.forget_all();
    state.bus.committed();
    Ok(())
}

/// Ends a membership: the person loses that place at once (their other
/// memberships stay).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn remove_member(state: &AppState, caller: &Caller, id: &MembershipId) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    let m = administered(state, &mut tx, caller, id).await?;
    lock_organization(&mut tx, state.db.backend(), m.organization_id.as_str()).await?;
    if m.is_organization_admin() {
        keep_an_admin(
            &mut tx,
            &m.organization_id,
            &[m.id.as_str()],
            "This is the organization's last admin and cannot be removed. Make someone else an admin of the organization first.",
        )
        .await?;
    }
    end(&mut tx, state, caller, &m).await?;
    tx.commit().await?;
    state.callers.forget_all();
    state.bus.committed();
    Ok(())
}

async fn end(tx: &mut db::Tx, state: &AppState, caller: &Caller, m: &Membership) -> AppResult<()> {
    sqlx::query("delete from memberships where id = $1")
        .bind(m.id.as_str())
        .execute(&mut **tx)
        .await?;
    let event = crate::events::domain::DomainEvent::MemberRemoved(changed(m, m.role, None));
    record(tx, state, caller, event, m).await
}

/// The caller leaves the organization: every membership they hold in it
/// ends. The last admin has to hand over first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn leave_organization(
    state: &AppState,
    caller: &Caller,
    organization: &OrganizationId,
) -> AppResult<()> {
    if !caller.belongs_to(organization.as_str()) {
        return Err(AppError::not_found("organization"));
    }
    let mut tx = state.db.begin().await?;
    lock_organization(&mut tx, state.db.backend(), organization.as_str()).await?;
    let ids: Vec<String> = sqlx::query_scalar(
        "select id from memberships where user_id = $1 and organization_id = $2",
    )
    .bind(caller.me.id.as_str())
    .bind(organization.as_str())
    .fetch_all(&mut *tx)
    .await?;
    let mut mine = Vec::new();
    for id in &ids {
        if let Some(m) = membership(&mut tx, id).await? {
            mine.push(m);
        }
    }
    if mine.iter().any(Membership::is_organization_admin) {
        let leaving: Vec<&str> = mine.iter().map(|m| m.id.as_str()).collect();
        keep_an_admin(
            &mut tx,
            organization,
            &leaving,
            "You are the organization's last admin. Make someone else an admin of the organization before you leave.",
        )
        .await?;
    }
    for m in &mine {
        end(&mut tx, state, caller, m).await?;
    }
    tx.commit().await?;
    state.callers.forget_all();
    state.bus.committed();
    Ok(())
}

/// The people page of an organization: the memberships and invitations at
/// the places the caller administers, and those places.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn people_view(
    state: &AppState,
    caller: &Caller,
    organization: &OrganizationId,
) -> AppResult<PeopleView> {
    let tree = places::organization_tree(&state.db, organization).await?;
    if !caller.belongs_to(organization.as_str()) {
        return Err(AppError::not_found("organization"));
    }
    let admin_places: Vec<(ScopeKind, String, Place, String)> = tree
        .places()
        .into_iter()
        .filter(|(_, _, place, _)| caller.role_at(place) == Some(Role::Admin))
        .collect();
    if admin_places.is_empty() {
        return Err(AppError::Forbidden(
            "Only admins can see and invite people.".into(),
        ));
    }
    let find = |kind: ScopeKind, id: &str| {
        admin_places
            .iter()
            .find(|(k, i, _, _)| *k == kind && i == id)
    };

    let rows = sqlx::query(
        "select m.id, m.user_id, u.display_name, u.email, m.role, m.scope_kind, m.scope_id from memberships m \
         join users u on u.id = m.user_id where m.organization_id = $1 order by u.display_name, m.created_at",
    )
    .bind(organization.as_str())
    .fetch_all(state.db.pool())
    .await?;
    let mut people = Vec::new();
    for r in &rows {
        let kind = ScopeKind::parse(&r.try_get::<String, _>("scope_kind")?, "scope")?;
        let scope_id: String = r.try_get("scope_id")?;
        if let Some((_, _, _, label)) = find(kind, &scope_id) {
            people.push(PersonWithRole {
                membership_id: MembershipId::from_stored(r.try_get("id")?),
                user_id: UserId::from_stored(r.try_get("user_id")?),
                display_name: r.try_get("display_name")?,
                email: r.try_get("email")?,
                role: Role::parse(&r.try_get::<String, _>("role")?, "role")?,
                scope_kind: kind,
                scope_name: label.clone(),
            });
        }
    }

    let now = state.clock.now_ms();
    let rows = sqlx::query(
        "select id, email, role, scope_kind, scope_id, expires_at, accepted_at, revoked_at from invitations \
         where organization_id = $1 order by created_at desc limit 200",
    )
    .bind(organization.as_str())
    .fetch_all(state.db.pool())
    .await?;
    let mut invitations = Vec::new();
    for r in &rows {
        let kind = ScopeKind::parse(&r.try_get::<String, _>("scope_kind")?, "scope")?;
        let scope_id: String = r.try_get("scope_id")?;
        let Some((_, _, _, label)) = find(kind, &scope_id) else {
            continue;
        };
        let expires_at: i64 = r.try_get("expires_at")?;
        let status = if r.try_get::<Option<i64>, _>("accepted_at")?.is_some() {
            InvitationStatus::Accepted
        } else if r.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
            InvitationStatus::Revoked
        } else if expires_at <= now {
            InvitationStatus::Expired
        } else {
            InvitationStatus::Pending
        };
        invitations.push(InvitationSummary {
            id: InvitationId::from_stored(r.try_get("id")?),
            email: r.try_get("email")?,
            role: Role::parse(&r.try_get::<String, _>("role")?, "role")?,
            scope_kind: kind,
            scope_name: label.clone(),
            status,
            expires_at: db::format_time(expires_at),
        });
    }
    Ok(PeopleView {
        organization_name: tree.organization.name.clone(),
        people,
        invitations,
        places: admin_places
            .into_iter()
            .map(|(kind, id, _, label)| InvitablePlace {
                scope_kind: kind,
                scope_id: id,
                label,
            })
            .collect(),
    })
}
