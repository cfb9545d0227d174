//! One's own account: name, password, where one is signed in, and the
//! one-time links an admin makes for a member who forgot their password.

use sqlx::Row as _;

use super::model::*;
use super::service::{hash_password, random_token, token_hash, verify_password, Caller};
use super::sessions::{create_session, record_sign_in, SignInMethod};
use crate::db;
use crate::error::{AppError, AppResult};
use crate::ids::{MembershipId, UserId};
use crate::state::AppState;

/// How long a password reset link works.
pub const RESET_VALID_HOURS: i64 = 24;

fn person(caller: &Caller) -> AppResult<&Me> {
    if caller.key.is_some() {
        return Err(AppError::Forbidden(
            "An API key has no account to change.".into(),
        ));
    }
    Ok(&caller.me)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn account_view(
    state: &AppState,
    caller: &Caller,
    current_token: Option<&str>,
) -> AppResult<AccountView> {
    let me = person(caller)?;
    let current = current_token.map(token_hash);
    let rows = sqlx::query(
        "select token_hash, created_at, last_seen_at, client_ip, user_agent from sessions \
         where user_id = $1 and expires_at > $2 order by last_seen_at desc limit 50",
    )
    .bind(me.id.as_str())
    .bind(state.clock.now_ms())
    .fetch_all(state.db.pool())
    .await?;
    let sessions = rows
        .iter()
        .map(|r| {
            Ok(SessionSummary {
                created_at: db::format_time(r.try_get("created_at")?),
                last_seen_at: db::format_time(r.try_get("last_seen_at")?),
                client_ip: r.try_get("client_ip")?,
                user_agent: r.try_get("user_agent")?,
                current: current.as_deref() == Some(r.try_get::<String, _>("token_hash")?.as_str()),
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    let mut organizations: Vec<Belonging> = Vec::new();
    for g in &caller.grants {
        let (org, _) =
            crate::org::service::organization_with_place(&state.db, g.organization_id.as_str())
                .await?;
        let place = crate::org::service::resolve_scope(&state.db, g.scope_kind, &g.scope_id)
            .await
            .map(|(_, label)| label)
            .unwrap_or_default();
        let role = format!(
            "{} {} {}",
            g.role.label(),
            if g.role == Role::Staff { "at" } else { "of" },
            if place.is_empty() {
                org.name.clone()
            } else {
                place
            }
        );
        match organizations
            .iter_mut()
            .find(|b| b.organization_id == org.id.as_str())
        {
            Some(b) => b.roles.push(role),
            None => organizations.push(Belonging {
                organization_id: org.id.to_string(),
                organization_name: org.name,
                roles: vec![role],
            }),
        }
    }
    let mut sign_in_methods = Vec::new();
    // An account made by single sign-on has no password until a reset link
    // gives it one ("!" is no argon2 hash).
    let hash: Option<String> = sqlx::query_scalar("select password_hash from users where id = $1")
        .bind(me.id.as_str())
        .fetch_optional(state.db.pool())
        .await?;
    if hash.is_some_and(|h| h.starts_with("$argon2")) {
        sign_in_methods.push("Email and password".to_string());
    }
    let linked: i64 = sqlx::query_scalar(
        "select count(*) from sign_ins where user_id = $1 and method = 'oidc' and succeeded = 1",
    )
    .bind(me.id.as_str())
    .fetch_one(state.db.pool())
    .await?;
    if linked > 0 {
        sign_in_methods.push("Google (single sign-on)".into());
    }
    Ok(AccountView {
        me: me.clone(),
        sign_in_methods,
        sessions,
        organizations,
    })
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn rename(state: &AppState, caller: &Caller, name: &str) -> AppResult<()> {
    let me = person(caller)?;
    let name = DisplayName::parse(name, "name")?;
    sqlx::query("update users set display_name = $1 where id = $2")
        .bind(name.as_str())
        .bind(me.id.as_str())
        .execute(state.db.pool())
        .await?;
    state.callers.forget_all();
    Ok(())
}

/// Ends every session of the caller but the current one.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn end_other_sessions(
    state: &AppState,
    caller: &Caller,
    current_token: &str,
) -> AppResult<u64> {
    let me = person(caller)?;
    let ended = sqlx::query("delete from sessions where user_id = $1 and token_hash <> $2")
        .bind(me.id.as_str())
        .bind(token_hash(current_token))
        .execute(state.db.pool())
        .await?
        .rows_affected();
    state.callers.forget_all();
    Ok(ended)
}

/// Changes the caller's password when the current one is right, and signs
/// out every other session (whoever knew the old password is out).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn change_password(
    state: &AppState,
    caller: &Caller,
    current_token: &str,
    current: &str,
    new: &str,
) -> AppResult<()> {
    let me = person(caller)?;
    if current.is_empty() {
        return Err(AppError::invalid("current", "Enter your current password."));
    }
    let new = NewPassword::parse(new, "password")?;
    let stored: Option<String> =
        sqlx::query_scalar("select password_hash from users where id = $1")
            .bind(me.id.as_str())
            .fetch_optional(state.db.pool())
            .await?;
    if !verify_password(stored, current).await {
        return Err(AppError::invalid(
            "current",
            "That is not your current password.",
        ));
    }
    let hash = hash_password(&new).await?;
    sqlx::query("update users set password_hash = $1 where id = $2")
        .bind(&hash)
        .bind(me.id.as_str())
        .execute(state.db.pool())
        .await?;
    end_other_sessions(state, caller, current_token).await?;
    tracing::info!(user_id = %me.id, "password changed");
    Ok(())
}

/// An admin makes a one-time link for the member of `membership` to choose
/// a new password; it works once, for [`RESET_VALID_HOURS`].
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_reset_link(
    state: &AppState,
    caller: &Caller,
    membership: &MembershipId,
) -> AppResult<CreatedResetLink> {
    person(caller)?;
    let m = super::members::administered_membership(state, caller, membership).await?;
    if m.user_id == caller.me.id.as_str() {
        return Err(AppError::invalid(
            "membership",
            "Change your own password on your account page.",
        ));
    }
    let token = new_reset(state, &m.user_id, caller.me.id.as_str()).await?;
    let row = sqlx::query("select display_name, email from users where id = $1")
        .bind(&m.user_id)
        .fetch_one(state.db.pool())
        .await?;
    let (display_name, email): (String, String) =
        (row.try_get("display_name")?, row.try_get("email")?);
    tracing::info!(user_id = %m.user_id, "password reset link made");
    let link = reset_url(state, &token);
    // With mail set up the link also goes to the member; the admin sees it
    // either way, so a mail server that is down costs nothing.
    let mail = crate::mail::Mail {
        to_name: display_name.clone(),
        to_email: email,
        subject: "Choose a new Larder password".into(),
        body: format!(
            "Hello {display_name},\n\n{} made a link for you to choose a new password for Larder:\n\n{link}\n\n\
             It works once, for {RESET_VALID_HOURS} hours. If you did not expect it, ignore this email: \
             your password stays as it is.\n",
            caller.me.display_name
        ),
    };
    let (emailed_to, mail_error) =
        crate::mail::send_if_configured(state.settings.mailer.as_deref(), &mail).await;
    Ok(CreatedResetLink {
        link,
        display_name,
        valid_hours: RESET_VALID_HOURS,
        emailed_to,
        mail_error,
    })
}

/// Stores a new one-time link for `user`, made by `created_by` (an admin,
/// or the person themself by email); returns its token.
async fn new_reset(state: &AppState, user: &str, created_by: &str) -> AppResult<String> {
    let token = random_token();
    let now = state.clock.now_ms();
    sqlx::query(
        "insert into password_resets (token_hash, user_id, created_by, created_at, expires_at) values ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash(&token))
    .bind(user)
    .bind(created_by)
    .bind(now)
    .bind(now + RESET_VALID_HOURS * 3_600_000)
    .execute(state.db.pool())
    .await?;
    Ok(token)
}

fn reset_url(state: &AppState, token: &str) -> String {
    format!(
        "{}/reset/{token}",
        state.settings.public_url.trim_end_matches('/')
    )
}

/// How many links one person may ask for by email in [`ASK_WINDOW_MINUTES`];
/// more asks are answered alike and send nothing (no inbox flooding).
const ASKS_PER_WINDOW: i64 = 3;
const ASK_WINDOW_MINUTES: i64 = 60;

/// "Forgot your password?": with mail set up, a link goes to the address if
/// an account has it. The answer is the same whether or not one does, and
/// the email leaves after the answer, so neither tells who has an account.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn request_reset(
    state: &AppState,
    email: &str,
    origin: &super::sessions::Origin,
) -> AppResult<()> {
    let Some(mailer) = state.settings.mailer.clone() else {
        return Err(AppError::NotFound(
            "Password links by email are not set up here. Ask an admin of your pantry for a password link."
                .into(),
        ));
    };
    let email = Email::parse(email, "email")?;
    let row = sqlx::query(
        "select id, display_name, email from users where email_key = $1 and disabled_at is null",
    )
    .bind(email.normalized())
    .fetch_optional(state.db.pool())
    .await?;
    let Some(row) = row else {
        tracing::info!("password link asked for an address without an account");
        return Ok(());
    };
    let (user, name, address): (String, String, String) = (
        row.try_get("id")?,
        row.try_get("display_name")?,
        row.try_get("email")?,
    );
    let now = state.clock.now_ms();
    let recent: i64 = sqlx::query_scalar(
        "select count(*) from password_resets where user_id = $1 and created_by = $1 and created_at > $2",
    )
    .bind(&user)
    .bind(now - ASK_WINDOW_MINUTES * 60_000)
    .fetch_one(state.db.pool())
    .await?;
    if recent >= ASKS_PER_WINDOW {
        tracing::warn!(user_id = %user, "password link asked for too often; none sent");
        return Ok(());
    }
    let token = new_reset(state, &user, &user).await?;
    let from = origin
        .ip
        .as_deref()
        .map(|ip| format!(" from {ip}"))
        .unwrap_or_default();
    let mail = crate::mail::Mail {
        to_name: name.clone(),
        to_email: address,
        subject: "Choose a new Larder password".into(),
        body: format!(
            "Hello {name},\n\nSomeone{from}, hopefully you, asked for a link to choose a new password for Larder:\n\n{}\n\n\
             It works once, for {RESET_VALID_HOURS} hours. If it was not you, ignore this email: \
             your password stays as it is.\n",
            reset_url(state, &token)
        ),
    };
    tracing::info!(user_id = %user, "password link asked for by email");
    tokio::spawn(async move {
        // A failure is logged by the mailer; the person can ask again.
        let _ = mailer.send(&mail).await;
    });
    Ok(())
}

fn link_refused() -> AppError {
    AppError::NotFound(
        "This password link has been used or has expired. Ask an admin for a new one.".into(),
    )
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn reset_offer(state: &AppState, token: &str) -> AppResult<ResetOffer> {
    let row = sqlx::query(
        "select u.email, u.display_name from password_resets r join users u on u.id = r.user_id \
         where r.token_hash = $1 and r.used_at is null and r.expires_at > $2 and u.disabled_at is null",
    )
    .bind(token_hash(token))
    .bind(state.clock.now_ms())
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(link_refused)?;
    Ok(ResetOffer {
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
    })
}

/// Sets the new password through a reset link, once; every session of the
/// account ends and a new one opens. Returns its token.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn reset_password(state: &AppState, token: &str, password: &str) -> AppResult<String> {
    let password = NewPassword::parse(password, "password")?;
    let offer = reset_offer(state, token).await?;
    let hash = hash_password(&password).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let user: Option<String> = sqlx::query_scalar(
        "update password_resets set used_at = $1 where token_hash = $2 and used_at is null and expires_at > $1 returning user_id",
    )
    .bind(now)
    .bind(token_hash(token))
    .fetch_optional(&mut *tx)
    .await?;
    let user = user.ok_or_else(link_refused)?;
    sqlx::query("update users set password_hash = $1 where id = $2")
        .bind(&hash)
        .bind(&user)
        .execute(&mut *tx)
        .await?;
    sqlx::query("delete from sessions where user_id = $1")
        .bind(&user)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    state.callers.forget_all();
    record_sign_in(
        &state.db,
        &state.settings,
        Some(&user),
        &offer.email.to_lowercase(),
        SignInMethod::ResetLink,
        true,
        &super::sessions::Origin::current(&state.settings),
    )
    .await;
    create_session(&state.db, &UserId::from_stored(user), &state.settings).await
}
