//! Invitations: an admin makes a one-time link for an email, a role and a
//! place; whoever follows it accepts with a new account or the account
//! they are signed in as. The table keeps only the link's SHA-256.

use sqlx::Row as _;

use super::members::MemberJoined;
use super::model::*;
use super::service::{hash_password, insert_user, random_token, token_hash, Caller};
use super::sessions::create_session;
use crate::db::{self, Db};
use crate::error::{AppError, AppResult};
use crate::ids::{InvitationId, MembershipId, UserId};
use crate::org::service as places;
use crate::state::AppState;

/// Creates an invitation to `scope` with `role`; the caller must be an
/// admin there. Returns the link to pass on, shown once.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_invitation(
    state: &AppState,
    caller: &Caller,
    email: &str,
    role: &str,
    scope_kind: &str,
    scope_id: &str,
) -> AppResult<CreatedInvitation> {
    let email = Email::parse(email, "email")?;
    let role = Role::parse(role, "role")?;
    let scope_kind = ScopeKind::parse(scope_kind, "scope")?;
    let (place, scope_name) = places::resolve_scope(&state.db, scope_kind, scope_id).await?;
    caller.require(&place, Role::Viewer, "place")?;
    if caller.role_at(&place) != Some(Role::Admin) {
        return Err(AppError::Forbidden(
            "Only an admin of this place can invite people to it.".into(),
        ));
    }
    let already: i64 = sqlx::query_scalar(
        "select count(*) from memberships m join users u on u.id = m.user_id \
         where u.email_key = $1 and m.scope_kind = $2 and m.scope_id = $3 and m.role = $4",
    )
    .bind(email.normalized())
    .bind(scope_kind.as_str())
    .bind(scope_id)
    .bind(role.as_str())
    .fetch_one(state.db.pool())
    .await?;
    if already > 0 {
        return Err(AppError::conflict(
            "email",
            format!(
                "{} is already {} of {scope_name}.",
                email.as_str(),
                article(role)
            ),
        ));
    }
    let token = random_token();
    let now = state.clock.now_ms();
    let expires = now + state.settings.invitation_ttl.as_millis() as i64;
    sqlx::query(
        "insert into invitations (id, token_hash, organization_id, scope_kind, scope_id, role, email, email_key, created_by, created_at, expires_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(InvitationId::new().as_str())
    .bind(token_hash(&token))
    .bind(&place.organization_id)
    .bind(scope_kind.as_str())
    .bind(scope_id)
    .bind(role.as_str())
    .bind(email.as_str())
    .bind(email.normalized())
    .bind(caller.me.id.as_str())
    .bind(now)
    .bind(expires)
    .execute(state.db.pool())
    .await?;
    tracing::info!(scope = scope_kind.as_str(), %scope_id, role = role.as_str(), "invitation created");
    let link = format!(
        "{}/invitations/{token}",
        state.settings.public_url.trim_end_matches('/')
    );
    // With mail set up the invitation is also emailed; the admin sees the
    // link either way.
    let days = state.settings.invitation_ttl.as_secs().div_ceil(86_400);
    let mail = crate::mail::Mail {
        to_name: String::new(),
        to_email: email.as_str().to_string(),
        subject: format!("You are invited to {scope_name} on Larder"),
        body: format!(
            "Hello,\n\n{} invited you to {scope_name} on Larder, as {}.\n\n\
             Accept here:\n\n{link}\n\n\
             The link works once, for {days} days. If you did not expect it, ignore this email.\n",
            caller.me.display_name,
            role.as_phrase()
        ),
    };
    let (emailed_to, mail_error) =
        crate::mail::send_if_configured(state.settings.mailer.as_deref(), &mail).await;
    Ok(CreatedInvitation {
        link,
        email: email.as_str().to_string(),
        role,
        scope_name,
        emailed_to,
        mail_error,
    })
}

fn article(role: Role) -> String {
    role.as_phrase().into()
}

struct InvitationRow {
    id: String,
    organization_id: String,
    scope_kind: ScopeKind,
    scope_id: String,
    role: Role,
    email: String,
    email_key: String,
    created_by: String,
}

/// A usable invitation by its link token, or a message saying why not.
async fn usable_invitation(db: &Db, token: &str, now: i64) -> AppResult<InvitationRow> {
    let row = sqlx::query(
        "select id, organization_id, scope_kind, scope_id, role, email, email_key, created_by, \
         expires_at, accepted_at, revoked_at from invitations where token_hash = $1",
    )
    .bind(token_hash(token))
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| {
        AppError::NotFound(
            "This invitation link is not valid. Check that you copied all of it.".into(),
        )
    })?;
    if row.try_get::<Option<i64>, _>("accepted_at")?.is_some() {
        return Err(AppError::conflict(
            "token",
            "This invitation has already been used. Sign in instead.",
        ));
    }
    if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
        return Err(AppError::Forbidden(
            "This invitation was withdrawn. Ask for a new one.".into(),
        ));
    }
    if row.try_get::<i64, _>("expires_at")? <= now {
        return Err(AppError::Forbidden(
            "This invitation has expired. Ask for a new one.".into(),
        ));
    }
    Ok(InvitationRow {
        id: row.try_get("id")?,
        organization_id: row.try_get("organization_id")?,
        scope_kind: ScopeKind::parse(&row.try_get::<String, _>("scope_kind")?, "scope")?,
        scope_id: row.try_get("scope_id")?,
        role: Role::parse(&row.try_get::<String, _>("role")?, "role")?,
        email: row.try_get("email")?,
        email_key: row.try_get("email_key")?,
        created_by: row.try_get("created_by")?,
    })
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn invitation_offer(
    state: &AppState,
    token: &str,
    caller: Option<&Caller>,
) -> AppResult<InvitationOffer> {
    let inv = usable_invitation(&state.db, token, state.clock.now_ms()).await?;
    let (place, scope_name) =
        places::resolve_scope(&state.db, inv.scope_kind, &inv.scope_id).await?;
    let organization_name = places::organization_name(&state.db, &place.organization_id).await?;
    let invited_by: String = sqlx::query_scalar("select display_name from users where id = $1")
        .bind(&inv.created_by)
        .fetch_one(state.db.pool())
        .await?;
    let account_exists: i64 = sqlx::query_scalar("select count(*) from users where email_key = $1")
        .bind(&inv.email_key)
        .fetch_one(state.db.pool())
        .await?;
    Ok(InvitationOffer {
        email: inv.email,
        role: inv.role,
        scope_kind: inv.scope_kind,
        scope_name,
        organization_name,
        invited_by,
        account_exists: account_exists > 0,
        signed_in_as_invitee: caller.is_some_and(|c| c.me.email.to_lowercase() == inv.email_key),
    })
}

/// Accepts an invitation by creating the invited account; returns a
/// session token for it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn accept_with_new_account(
    state: &AppState,
    token: &str,
    name: &str,
    password: &str,
) -> AppResult<String> {
    let name = DisplayName::parse(name, "name")?;
    let password = NewPassword::parse(password, "password")?;
    let inv = usable_invitation(&state.db, token, state.clock.now_ms()).await?;
    // The place may have been archived since the invitation was made.
    places::resolve_scope(&state.db, inv.scope_kind, &inv.scope_id).await?;
    let email = Email::parse(&inv.email, "email")?;
    let hash = hash_password(&password).await?;
    let mut tx = state.db.begin().await?;
    let user = UserId::new();
    insert_user(&mut tx, &user, &name, &email, &hash, false).await?;
    redeem(
        &mut tx,
        state.db.backend(),
        &inv,
        &user,
        state.clock.now_ms(),
    )
    .await?;
    tx.commit().await?;
    state.bus.committed();
    tracing::info!(user_id = %user, "invitation accepted with a new account");
    create_session(&state.db, &user, &state.settings).await
}

/// Accepts an invitation for the signed-in caller, whose email it names.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn accept_as_caller(state: &AppState, caller: &Caller, token: &str) -> AppResult<()> {
    let inv = usable_invitation(&state.db, token, state.clock.now_ms()).await?;
    places::resolve_scope(&state.db, inv.scope_kind, &inv.scope_id).await?;
    if caller.me.email.to_lowercase() != inv.email_key {
        return Err(AppError::Forbidden(format!(
            "This invitation is for {}, but you are signed in as {}. Sign out and sign in as {} to accept it.",
            inv.email, caller.me.email, inv.email
        )));
    }
    let mut tx = state.db.begin().await?;
    redeem(
        &mut tx,
        state.db.backend(),
        &inv,
        &caller.me.id,
        state.clock.now_ms(),
    )
    .await?;
    tx.commit().await?;
    state.callers.forget_all();
    state.bus.committed();
    Ok(())
}

/// Marks the invitation used and grants its membership, once: of two
/// concurrent acceptances only one finds the row still open.
async fn redeem(
    tx: &mut db::Tx,
    backend: db::Backend,
    inv: &InvitationRow,
    user: &UserId,
    now: i64,
) -> AppResult<()> {
    let used = sqlx::query(
        "update invitations set accepted_at = $1, accepted_by = $2 \
         where id = $3 and accepted_at is null and revoked_at is null and expires_at > $1",
    )
    .bind(now)
    .bind(user.as_str())
    .bind(&inv.id)
    .execute(&mut **tx)
    .await?;
    if used.rows_affected() != 1 {
        return Err(AppError::conflict(
            "token",
            "This invitation has already been used. Sign in instead.",
        ));
    }
    // An invitation never lowers a role the person already holds there.
    let held: Option<String> = sqlx::query_scalar(
        "select role from memberships where user_id = $1 and scope_kind = $2 and scope_id = $3",
    )
    .bind(user.as_str())
    .bind(inv.scope_kind.as_str())
    .bind(&inv.scope_id)
    .fetch_optional(&mut **tx)
    .await?;
    let held = held.map(|r| Role::parse(&r, "role")).transpose()?;
    if held.is_some_and(|r| r >= inv.role) {
        return Ok(());
    }
    sqlx::query(
        "insert into memberships (id, user_id, organization_id, scope_kind, scope_id, role, granted_by, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8) \
         on conflict (user_id, scope_kind, scope_id) do update set role = excluded.role",
    )
    .bind(MembershipId::new().as_str())
    .bind(user.as_str())
    .bind(&inv.organization_id)
    .bind(inv.scope_kind.as_str())
    .bind(&inv.scope_id)
    .bind(inv.role.as_str())
    .bind(&inv.created_by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let pantry = (inv.scope_kind == ScopeKind::Pantry).then_some(inv.scope_id.as_str());
    crate::events::store::append(
        tx,
        backend,
        &crate::events::store::NewEvent {
            event: &crate::events::domain::DomainEvent::MemberJoined(MemberJoined {
                user_id: user.to_string(),
                organization_id: inv.organization_id.clone(),
                scope_kind: inv.scope_kind.as_str().into(),
                scope_id: inv.scope_id.clone(),
                role: inv.role.as_str().into(),
            }),
            organization_id: &inv.organization_id,
            pantry_id: pantry,
            actor_id: Some(user.as_str()),
            correlation_id: &crate::request::current_request_id(),
            client_ip: crate::request::current_client_ip().as_deref(),
            trace_parent: crate::request::current_trace_parent().as_deref(),
            occurred_at: now,
        },
    )
    .await?;
    Ok(())
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn revoke_invitation(
    state: &AppState,
    caller: &Caller,
    id: &InvitationId,
) -> AppResult<()> {
    let row = sqlx::query(
        "select scope_kind, scope_id from invitations where id = $1 and accepted_at is null",
    )
    .bind(id.as_str())
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(|| AppError::not_found("pending invitation"))?;
    let kind = ScopeKind::parse(&row.try_get::<String, _>("scope_kind")?, "scope")?;
    let (place, _) =
        places::resolve_scope(&state.db, kind, &row.try_get::<String, _>("scope_id")?).await?;
    caller.require(&place, Role::Admin, "pending invitation")?;
    sqlx::query("update invitations set revoked_at = $1 where id = $2 and accepted_at is null and revoked_at is null")
        .bind(state.clock.now_ms())
        .bind(id.as_str())
        .execute(state.db.pool())
        .await?;
    Ok(())
}

/// Accepts, for a person who just proved `email_key` is theirs (a verified
/// email from single sign-on), every open invitation to that address.
/// Returns how many there were.
pub(crate) async fn accept_open_for_email(
    tx: &mut db::Tx,
    backend: db::Backend,
    email_key: &str,
    user: &UserId,
    now: i64,
) -> AppResult<usize> {
    let rows = sqlx::query(
        "select id, organization_id, scope_kind, scope_id, role, email, email_key, created_by from invitations \
         where email_key = $1 and accepted_at is null and revoked_at is null and expires_at > $2",
    )
    .bind(email_key)
    .bind(now)
    .fetch_all(&mut **tx)
    .await?;
    let mut accepted = 0;
    for r in &rows {
        let inv = InvitationRow {
            id: r.try_get("id")?,
            organization_id: r.try_get("organization_id")?,
            scope_kind: ScopeKind::parse(&r.try_get::<String, _>("scope_kind")?, "scope")?,
            scope_id: r.try_get("scope_id")?,
            role: Role::parse(&r.try_get::<String, _>("role")?, "role")?,
            email: r.try_get("email")?,
            email_key: r.try_get("email_key")?,
            created_by: r.try_get("created_by")?,
        };
        redeem(tx, backend, &inv, user, now).await?;
        accepted += 1;
    }
    Ok(accepted)
}
