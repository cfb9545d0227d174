//! Server functions for signing in and out, first-start setup, invitations
//! and the people page. Each one reads the state and the caller, checks,
//! and hands over to `auth::service`.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::model::*;
use crate::error::AppError;
use crate::ids::{ApiKeyId, InvitationId, MembershipId, OrganizationId};

/// Who is signed in, and whether the instance still waits for its setup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub me: Option<Me>,
    pub setup_open: bool,
    /// Anyone may create an account (`LARDER_OPEN_SIGNUP`).
    pub open_signup: bool,
    /// The single sign-on button's words, when single sign-on is set up.
    pub sso_label: Option<String>,
    /// Whether a forgotten password can be reset by an emailed link.
    pub password_email: bool,
}

#[server(prefix = "/api", endpoint = "session")]
pub async fn get_session() -> Result<SessionInfo, AppError> {
    use crate::{auth::service, state::AppState};
    let state = AppState::current()?;
    let me = service::optional_caller(&state).await?.map(|c| c.me);
    Ok(SessionInfo {
        me,
        setup_open: state.setup.is_open(),
        open_signup: state.settings.open_signup,
        sso_label: state
            .settings
            .oidc
            .as_ref()
            .map(|o| o.settings.button_label.clone()),
        password_email: state.settings.mailer.is_some(),
    })
}

#[server(prefix = "/api", endpoint = "setup")]
pub async fn complete_setup(
    code: String,
    name: String,
    email: String,
    password: String,
) -> Result<(), AppError> {
    use crate::{
        auth::{service, sessions},
        request,
        state::AppState,
    };
    let state = AppState::current()?;
    let token = service::complete_setup(&state, &code, &name, &email, &password).await?;
    request::append_response_header(
        http::header::SET_COOKIE,
        &sessions::session_cookie(&token, &state.settings),
    );
    Ok(())
}

#[server(prefix = "/api", endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String) -> Result<(), AppError> {
    use crate::{auth::sessions, request, state::AppState};
    let state = AppState::current()?;
    let client = request::client_ip(&state.settings.trusted_proxies);
    let token = sessions::sign_in(&state, &email, &password, client).await?;
    request::append_response_header(
        http::header::SET_COOKIE,
        &sessions::session_cookie(&token, &state.settings),
    );
    Ok(())
}

#[server(prefix = "/api", endpoint = "sign_up")]
pub async fn sign_up(name: String, email: String, password: String) -> Result<(), AppError> {
    use crate::{
        auth::{service, sessions},
        request,
        state::AppState,
    };
    let state = AppState::current()?;
    let token = service::sign_up(&state, &name, &email, &password).await?;
    request::append_response_header(
        http::header::SET_COOKIE,
        &sessions::session_cookie(&token, &state.settings),
    );
    Ok(())
}

/// Ends the session. A single sign-on session also ends at the identity
/// provider: the answer is its logout address, for the browser to visit.
#[server(prefix = "/api", endpoint = "sign_out")]
pub async fn sign_out() -> Result<Option<String>, AppError> {
    use crate::{
        auth::{service, sessions},
        request,
        state::AppState,
    };
    let state = AppState::current()?;
    let mut method = None;
    if let Some(token) = request::cookie(service::SESSION_COOKIE) {
        method = sessions::end_session(&state, &token).await?;
    }
    request::append_response_header(
        http::header::SET_COOKIE,
        &sessions::clear_session_cookie(&state.settings),
    );
    Ok(match (method.as_deref(), &state.settings.oidc) {
        (Some("oidc"), Some(oidc)) => Some(oidc.logout_url()),
        _ => None,
    })
}

#[server(prefix = "/api", endpoint = "invitation")]
pub async fn get_invitation(token: String) -> Result<InvitationOffer, AppError> {
    use crate::{auth::service, state::AppState};
    let state = AppState::current()?;
    let caller = service::optional_caller(&state).await?;
    crate::auth::invitations::invitation_offer(&state, &token, caller.as_ref()).await
}

/// Accepts an invitation by creating the invited account.
#[server(prefix = "/api", endpoint = "accept_invitation")]
pub async fn accept_invitation(
    token: String,
    name: String,
    password: String,
) -> Result<(), AppError> {
    use crate::{auth::sessions, request, state::AppState};
    let state = AppState::current()?;
    let session =
        crate::auth::invitations::accept_with_new_account(&state, &token, &name, &password).await?;
    request::append_response_header(
        http::header::SET_COOKIE,
        &sessions::session_cookie(&session, &state.settings),
    );
    Ok(())
}

/// Accepts an invitation for the account that is signed in.
#[server(prefix = "/api", endpoint = "join")]
pub async fn join_with_invitation(token: String) -> Result<(), AppError> {
    use crate::{auth::service, state::AppState};
    let state = AppState::current()?;
    let caller = service::require_caller(&state).await?;
    crate::auth::invitations::accept_as_caller(&state, &caller, &token).await
}

/// `scope` is `kind:id`, as the place picker on the people page sends it.
#[server(prefix = "/api", endpoint = "invite")]
pub async fn create_invitation(
    email: String,
    role: String,
    scope: String,
) -> Result<CreatedInvitation, AppError> {
    use crate::{auth::service, state::AppState};
    let state = AppState::current()?;
    let caller = service::require_caller(&state).await?;
    let (kind, id) = scope
        .split_once(':')
        .ok_or_else(|| AppError::invalid("scope", "Choose the place the invitation is for."))?;
    crate::auth::invitations::create_invitation(&state, &caller, &email, &role, kind, id).await
}

#[server(prefix = "/api", endpoint = "revoke_invitation")]
pub async fn revoke_invitation(id: InvitationId) -> Result<(), AppError> {
    use crate::{auth::service, state::AppState};
    let state = AppState::current()?;
    let caller = service::require_caller(&state).await?;
    crate::auth::invitations::revoke_invitation(&state, &caller, &id).await
}

#[server(prefix = "/api", endpoint = "people")]
pub async fn get_people(organization: OrganizationId) -> Result<PeopleView, AppError> {
    use crate::{auth::service, state::AppState};
    let state = AppState::current()?;
    let caller = service::require_caller(&state).await?;
    crate::auth::members::people_view(&state, &caller, &organization).await
}

#[server(prefix = "/api", endpoint = "change_member_role")]
pub async fn change_member_role(membership: MembershipId, role: String) -> Result<(), AppError> {
    use crate::{auth::service, state::AppState};
    let state = AppState::current()?;
    let caller = service::require_caller(&state).await?;
    crate::auth::members::change_role(&state, &caller, &membership, &role).await
}

#[server(prefix = "/api", endpoint = "remove_member")]
pub async fn remove_member(membership: MembershipId) -> Result<(), AppError> {
    use crate::{auth::service, state::AppState};
    let state = AppState::current()?;
    let caller = service::require_caller(&state).await?;
    crate::auth::members::remove_member(&state, &caller, &membership).await
}

#[server(prefix = "/api", endpoint = "leave_organization")]
pub async fn leave_organization(organization: OrganizationId) -> Result<(), AppError> {
    use crate::{auth::service, state::AppState};
    let state = AppState::current()?;
    let caller = service::require_caller(&state).await?;
    crate::auth::members::leave_organization(&state, &caller, &organization).await
}

#[server(prefix = "/api", endpoint = "api_keys")]
pub async fn get_api_keys(organization: OrganizationId) -> Result<ApiKeysView, AppError> {
    use crate::{auth::service, state::AppState};
    let state = AppState::current()?;
    let caller = service::require_caller(&state).await?;
    crate::auth::keys::keys_view(&state, &caller, &organization).await
}

/// `scope` is `kind:id`, as the place picker sends it.
#[server(prefix = "/api", endpoint = "create_api_key")]
pub async fn create_api_key(
    scope: String,
    name: String,
    access: String,
) -> Result<CreatedApiKey, AppError> {
    use crate::{auth::service, state::AppState};
    let state = AppState::current()?;
    let caller = service::require_caller(&state).await?;
    crate::auth::keys::create_key(&state, &caller, &scope, &name, &access).await
}

#[server(prefix = "/api", endpoint = "revoke_api_key")]
pub async fn revoke_api_key(id: ApiKeyId) -> Result<(), AppError> {
    use crate::{auth::service, state::AppState};
    let state = AppState::current()?;
    let caller = service::require_caller(&state).await?;
    crate::auth::keys::revoke_key(&state, &caller, &id).await
}

#[server(prefix = "/api", endpoint = "account")]
pub async fn get_account() -> Result<AccountView, AppError> {
    use crate::{auth::service, request, state::AppState};
    let state = AppState::current()?;
    let caller = service::require_caller(&state).await?;
    let token = request::cookie(service::SESSION_COOKIE);
    crate::auth::account::account_view(&state, &caller, token.as_deref()).await
}

#[server(prefix = "/api", endpoint = "rename_me")]
pub async fn rename_me(name: String) -> Result<(), AppError> {
    use crate::{auth::service, state::AppState};
    let state = AppState::current()?;
    let caller = service::require_caller(&state).await?;
    crate::auth::account::rename(&state, &caller, &name).await
}

#[server(prefix = "/api", endpoint = "change_password")]
pub async fn change_password(current: String, password: String) -> Result<(), AppError> {
    use crate::{auth::service, request, state::AppState};
    let state = AppState::current()?;
    let caller = service::require_caller(&state).await?;
    let token = request::cookie(service::SESSION_COOKIE).unwrap_or_default();
    crate::auth::account::change_password(&state, &caller, &token, &current, &password).await
}

/// Signs out every other browser; answers how many sessions ended.
#[server(prefix = "/api", endpoint = "sign_out_elsewhere")]
pub async fn sign_out_elsewhere() -> Result<u64, AppError> {
    use crate::{auth::service, request, state::AppState};
    let state = AppState::current()?;
    let caller = service::require_caller(&state).await?;
    let token = request::cookie(service::SESSION_COOKIE).unwrap_or_default();
    crate::auth::account::end_other_sessions(&state, &caller, &token).await
}

#[server(prefix = "/api", endpoint = "create_reset_link")]
pub async fn create_reset_link(membership: MembershipId) -> Result<CreatedResetLink, AppError> {
    use crate::{auth::service, state::AppState};
    let state = AppState::current()?;
    let caller = service::require_caller(&state).await?;
    crate::auth::account::create_reset_link(&state, &caller, &membership).await
}

/// "Forgot your password?": emails a one-time link if an account has the
/// address; answers alike either way.
#[server(prefix = "/api", endpoint = "request_password_reset")]
pub async fn request_password_reset(email: String) -> Result<(), AppError> {
    use crate::{auth::sessions, state::AppState};
    let state = AppState::current()?;
    let origin = sessions::Origin::current(&state.settings);
    crate::auth::account::request_reset(&state, &email, &origin).await
}

#[server(prefix = "/api", endpoint = "password_reset")]
pub async fn get_password_reset(token: String) -> Result<ResetOffer, AppError> {
    use crate::state::AppState;
    let state = AppState::current()?;
    crate::auth::account::reset_offer(&state, &token).await
}

#[server(prefix = "/api", endpoint = "reset_password")]
pub async fn reset_password(token: String, password: String) -> Result<(), AppError> {
    use crate::{auth::sessions, request, state::AppState};
    let state = AppState::current()?;
    let session = crate::auth::account::reset_password(&state, &token, &password).await?;
    request::append_response_header(
        http::header::SET_COOKIE,
        &sessions::session_cookie(&session, &state.settings),
    );
    Ok(())
}

/// The Cognito pool's admin calls: the site admin's, when a pool is set up.
#[cfg(feature = "ssr")]
async fn pool_admin() -> Result<std::sync::Arc<crate::auth::pool::Pool>, AppError> {
    use crate::{auth::service, state::AppState};
    let state = AppState::current()?;
    let caller = service::require_caller(&state).await?;
    if !caller.me.is_site_admin || caller.key.is_some() {
        return Err(AppError::Forbidden(
            "Only the site administrator manages the sign-in pool.".into(),
        ));
    }
    state.settings.pool.clone().ok_or_else(|| {
        AppError::NotFound("No Cognito user pool is set up (LARDER_COGNITO_USER_POOL_ID).".into())
    })
}

#[server(prefix = "/api", endpoint = "pool")]
pub async fn get_pool(page: Option<String>) -> Result<PoolView, AppError> {
    pool_admin()
        .await?
        .view(page.filter(|p| !p.is_empty()))
        .await
}

/// Adds (`add` true) or removes a pool user from a group.
#[server(prefix = "/api", endpoint = "pool_group")]
pub async fn pool_group(username: String, group: String, add: bool) -> Result<(), AppError> {
    let pool = pool_admin().await?;
    if group.trim().is_empty() {
        return Err(AppError::invalid("group", "Choose a group."));
    }
    if add {
        pool.add_to_group(&username, group.trim()).await
    } else {
        pool.remove_from_group(&username, group.trim()).await
    }
}

#[server(prefix = "/api", endpoint = "pool_enabled")]
pub async fn pool_set_enabled(username: String, enabled: bool) -> Result<(), AppError> {
    pool_admin().await?.set_enabled(&username, enabled).await
}

#[server(prefix = "/api", endpoint = "pool_resend")]
pub async fn pool_resend_invitation(username: String) -> Result<(), AppError> {
    pool_admin().await?.resend_invitation(&username).await
}

#[server(prefix = "/api", endpoint = "audit")]
pub async fn get_audit(
    organization: OrganizationId,
    from: String,
    to: String,
    kind: String,
    person: String,
    before: Option<i64>,
) -> Result<AuditPage, AppError> {
    use crate::{auth::service, state::AppState};
    let state = AppState::current()?;
    let caller = service::require_caller(&state).await?;
    let q = crate::auth::audit::AuditQuery {
        from,
        to,
        kind,
        person,
        before,
    };
    crate::auth::audit::audit_page(&state, &caller, &organization, &q, crate::auth::audit::PAGE)
        .await
}
