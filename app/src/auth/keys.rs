//! API keys: a script's access to one organization or pantry, sent as
//! `Authorization: Bearer lk_…`. A key is shown once when made; the table
//! keeps only its SHA-256, like sessions and invitation links. Revoking
//! takes effect on the next request: keys are looked up every time, never
//! cached.

use sqlx::Row as _;

use super::model::*;
use super::service::{random_token, token_hash, Caller, Grant};
use crate::db;
use crate::error::{AppError, AppResult};
use crate::ids::{ApiKeyId, OrganizationId, UserId};
use crate::org::service as places;
use crate::state::AppState;

/// What every key starts with, so a leaked one is recognisable (secret
/// scanners match on it) and cannot be mistaken for a session token.
pub const KEY_PREFIX: &str = "lk_";

/// How long a key's `last_used_at` may lag: written at most this often, so
/// a busy script does not turn every read into a write.
const LAST_USED_EVERY_MS: i64 = 60_000;

fn require_admin(caller: &Caller, place: &super::service::Place) -> AppResult<()> {
    caller.require(place, Role::Viewer, "place")?;
    if caller.role_at(place) != Some(Role::Admin) || caller.key.is_some() {
        return Err(AppError::Forbidden(
            "Only an admin of this place can manage its API keys.".into(),
        ));
    }
    Ok(())
}

/// Makes a key for `scope` (`organization:ID` or `pantry:ID`).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_key(
    state: &AppState,
    caller: &Caller,
    scope: &str,
    name: &str,
    access: &str,
) -> AppResult<CreatedApiKey> {
    let name = crate::input::clean_text(name, "name")?;
    if name.is_empty() {
        return Err(AppError::invalid(
            "name",
            "Name the key after what uses it, like “Till export”.",
        ));
    }
    if name.chars().count() > 80 {
        return Err(AppError::invalid("name", "Use at most 80 characters."));
    }
    let access = KeyAccess::parse(access, "access")?;
    let (kind, id) = scope
        .split_once(':')
        .ok_or_else(|| AppError::invalid("scope", "Choose the place the key is for."))?;
    let kind = ScopeKind::parse(kind, "scope")?;
    if kind == ScopeKind::Campus {
        return Err(AppError::invalid(
            "scope",
            "A key is for an organization or one pantry.",
        ));
    }
    let (place, label) = places::resolve_scope(&state.db, kind, id).await?;
    require_admin(caller, &place)?;
    let key = format!("{KEY_PREFIX}{}", random_token());
    let prefix: String = key.chars().take(KEY_PREFIX.len() + 6).collect();
    let key_id = ApiKeyId::new();
    sqlx::query(
        "insert into api_keys (id, organization_id, scope_kind, scope_id, name, access, prefix, token_hash, created_by, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(key_id.as_str())
    .bind(&place.organization_id)
    .bind(kind.as_str())
    .bind(id)
    .bind(&name)
    .bind(access.as_str())
    .bind(&prefix)
    .bind(token_hash(&key))
    .bind(caller.me.id.as_str())
    .bind(state.clock.now_ms())
    .execute(state.db.pool())
    .await?;
    tracing::info!(key_id = %key_id, scope = %scope, access = access.as_str(), "API key created");
    Ok(CreatedApiKey {
        id: key_id,
        key,
        name,
        access,
        place: label,
    })
}

/// Revokes a key: the next request with it is refused.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn revoke_key(state: &AppState, caller: &Caller, id: &ApiKeyId) -> AppResult<()> {
    let row = sqlx::query("select scope_kind, scope_id from api_keys where id = $1")
        .bind(id.as_str())
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(|| AppError::not_found("API key"))?;
    let kind = ScopeKind::parse(&row.try_get::<String, _>("scope_kind")?, "scope")?;
    let (place, _) =
        places::resolve_scope(&state.db, kind, &row.try_get::<String, _>("scope_id")?).await?;
    require_admin(caller, &place)?;
    sqlx::query("update api_keys set revoked_at = $1 where id = $2 and revoked_at is null")
        .bind(state.clock.now_ms())
        .bind(id.as_str())
        .execute(state.db.pool())
        .await?;
    tracing::info!(key_id = %id, "API key revoked");
    Ok(())
}

/// The keys of the places in `organization` the caller administers.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn keys_view(
    state: &AppState,
    caller: &Caller,
    organization: &OrganizationId,
) -> AppResult<ApiKeysView> {
    let tree = places::organization_tree(&state.db, organization).await?;
    if !caller.belongs_to(organization.as_str()) {
        return Err(AppError::not_found("organization"));
    }
    let administered: Vec<_> = tree
        .places()
        .into_iter()
        .filter(|(kind, _, place, _)| {
            *kind != ScopeKind::Campus && caller.role_at(place) == Some(Role::Admin)
        })
        .collect();
    if administered.is_empty() || caller.key.is_some() {
        return Err(AppError::Forbidden(
            "Only admins can see and make API keys.".into(),
        ));
    }
    let rows = sqlx::query(
        "select k.id, k.name, k.prefix, k.access, k.scope_kind, k.scope_id, k.created_at, k.last_used_at, k.revoked_at, \
         u.display_name from api_keys k join users u on u.id = k.created_by \
         where k.organization_id = $1 order by k.revoked_at is not null, k.created_at desc",
    )
    .bind(organization.as_str())
    .fetch_all(state.db.pool())
    .await?;
    let mut keys = Vec::new();
    for r in &rows {
        let kind = ScopeKind::parse(&r.try_get::<String, _>("scope_kind")?, "scope")?;
        let scope_id: String = r.try_get("scope_id")?;
        let Some((_, _, _, label)) = administered
            .iter()
            .find(|(k, id, _, _)| *k == kind && *id == scope_id)
        else {
            continue;
        };
        keys.push(ApiKeySummary {
            id: ApiKeyId::from_stored(r.try_get("id")?),
            name: r.try_get("name")?,
            prefix: r.try_get("prefix")?,
            access: KeyAccess::parse(&r.try_get::<String, _>("access")?, "access")?,
            place: label.clone(),
            created_by: r.try_get("display_name")?,
            created_at: db::format_time(r.try_get("created_at")?),
            last_used_at: r
                .try_get::<Option<i64>, _>("last_used_at")?
                .map(db::format_time),
            revoked_at: r
                .try_get::<Option<i64>, _>("revoked_at")?
                .map(db::format_time),
        });
    }
    Ok(ApiKeysView {
        organization_name: tree.organization.name.clone(),
        keys,
        places: administered
            .into_iter()
            .map(|(kind, id, _, label)| InvitablePlace {
                scope_kind: kind,
                scope_id: id,
                label,
            })
            .collect(),
    })
}

/// The caller a bearer key stands for: a grant at the key's place with the
/// role its access gives, in the name of the admin who made it. A revoked
/// or unknown key, or one whose place is archived, is refused.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn caller_for_key(state: &AppState, key: &str) -> AppResult<Caller> {
    let refused = || {
        AppError::Unauthenticated(
            "That API key is not valid: it was revoked, or never existed. An admin can make a new one on the organization's API keys page.".into(),
        )
    };
    if !key.starts_with(KEY_PREFIX) || key.len() > 100 {
        return Err(refused());
    }
    let row = sqlx::query(
        "select k.id, k.organization_id, k.scope_kind, k.scope_id, k.access, k.name, k.last_used_at, \
         u.id as user_id, u.email from api_keys k join users u on u.id = k.created_by \
         where k.token_hash = $1 and k.revoked_at is null",
    )
    .bind(token_hash(key))
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(refused)?;
    let id = ApiKeyId::from_stored(row.try_get("id")?);
    let kind = ScopeKind::parse(&row.try_get::<String, _>("scope_kind")?, "scope")?;
    let scope_id: String = row.try_get("scope_id")?;
    let access = KeyAccess::parse(&row.try_get::<String, _>("access")?, "access")?;
    let (place, _) = places::resolve_scope(&state.db, kind, &scope_id)
        .await
        .map_err(|_| refused())?;
    let now = state.clock.now_ms();
    let last_used: Option<i64> = row.try_get("last_used_at")?;
    if last_used.is_none_or(|t| now - t > LAST_USED_EVERY_MS) {
        sqlx::query("update api_keys set last_used_at = $1 where id = $2")
            .bind(now)
            .bind(id.as_str())
            .execute(state.db.pool())
            .await?;
    }
    let name: String = row.try_get("name")?;
    Ok(Caller {
        me: Me {
            id: UserId::from_stored(row.try_get("user_id")?),
            email: row.try_get("email")?,
            display_name: format!("API key “{name}”"),
            is_site_admin: false,
        },
        grants: vec![Grant {
            organization_id: OrganizationId::from_stored(row.try_get("organization_id")?),
            campus_id: place.campus_id.clone(),
            scope_kind: kind,
            scope_id,
            role: access.role(),
        }],
        key: Some(id),
    })
}

/// The bearer token of a request, if it sent one.
pub fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
