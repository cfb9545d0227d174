//! Following pantries and people, follow requests, and blocks.

use serde::{Deserialize, Serialize};
use sqlx::Row as _;

use super::model::*;
use super::service::{append, blocked, pantry_access};
use crate::auth::service::Caller;
use crate::error::{AppError, AppResult};
use crate::events::domain::DomainEvent;
use crate::ids::{PantryId, UserId};
use crate::state::AppState;

/// A follow began, was accepted, or ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowChanged {
    pub follower_id: String,
    pub target_id: String,
    /// `pantry` or `person`.
    pub target_kind: String,
    /// `active`, or `requested` while a private profile's owner decides.
    pub status: String,
}

/// One person blocked or unblocked another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockChanged {
    pub blocker_id: String,
    pub blocked_id: String,
}

/// The organization an event about two people is filed under: the first
/// the acting person belongs to (an event needs one; people-only events
/// concern no place, and the timelines consumer does not look at it).
fn home_organization(caller: &Caller) -> String {
    caller
        .grants
        .first()
        .map(|g| g.organization_id.to_string())
        .unwrap_or_default()
}

/// Follows a pantry whose timeline the caller may read.
pub async fn follow_pantry(state: &AppState, caller: &Caller, pantry: &PantryId) -> AppResult<()> {
    let access = pantry_access(&state.db, caller, pantry).await?;
    let me = caller.me.id.as_str();
    let mut tx = state.db.begin().await?;
    let added = sqlx::query(
        "insert into follows (follower_id, target_id, target_kind, status, created_at) \
         values ($1, $2, 'pantry', 'active', $3) on conflict do nothing",
    )
    .bind(me)
    .bind(pantry.as_str())
    .bind(state.clock.now_ms())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if added > 0 {
        let event = DomainEvent::Followed(FollowChanged {
            follower_id: me.to_string(),
            target_id: pantry.to_string(),
            target_kind: "pantry".into(),
            status: "active".into(),
        });
        let org = access.place.organization_id.clone();
        append(&mut tx, state, caller, event, &org, Some(pantry.as_str())).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Whether the caller may know the person exists: they share an
/// organization, the person's profile is open to everyone signed in, or
/// the person follows (or asked to follow) the caller.
pub(super) async fn knows(state: &AppState, me: &str, person: &str) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "select count(*) from users u where u.id = $2 and u.disabled_at is null and ( \
         exists (select 1 from memberships a join memberships b on a.organization_id = b.organization_id \
                 where a.user_id = $1 and b.user_id = $2) \
         or exists (select 1 from profiles pr where pr.user_id = $2 and pr.visibility = 'signed_in') \
         or exists (select 1 from follows f where f.follower_id = $2 and f.target_id = $1))",
    )
    .bind(me)
    .bind(person)
    .fetch_one(state.db.pool())
    .await?;
    Ok(n > 0)
}

/// The person's profile visibility (the default until they choose).
pub async fn profile_visibility(state: &AppState, person: &str) -> AppResult<ProfileVisibility> {
    let v: Option<String> =
        sqlx::query_scalar("select visibility from profiles where user_id = $1")
            .bind(person)
            .fetch_optional(state.db.pool())
            .await?;
    Ok(v.as_deref()
        .and_then(ProfileVisibility::parse)
        .unwrap_or(ProfileVisibility::Organization))
}

/// Follows a person; to one who accepts only chosen followers, this asks.
/// Returns whether the follow is active (false: requested).
pub async fn follow_person(state: &AppState, caller: &Caller, person: &UserId) -> AppResult<bool> {
    let me = caller.me.id.as_str();
    if person.as_str() == me {
        return Err(AppError::invalid("person", "You cannot follow yourself."));
    }
    if !knows(state, me, person.as_str()).await? || blocked(&state.db, me, person.as_str()).await? {
        return Err(AppError::not_found("person"));
    }
    let status = match profile_visibility(state, person.as_str()).await? {
        ProfileVisibility::Followers => "requested",
        _ => "active",
    };
    let mut tx = state.db.begin().await?;
    let added = sqlx::query(
        "insert into follows (follower_id, target_id, target_kind, status, created_at) \
         values ($1, $2, 'person', $3, $4) on conflict do nothing",
    )
    .bind(me)
    .bind(person.as_str())
    .bind(status)
    .bind(state.clock.now_ms())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if added > 0 {
        let event = DomainEvent::Followed(FollowChanged {
            follower_id: me.to_string(),
            target_id: person.to_string(),
            target_kind: "person".into(),
            status: status.into(),
        });
        let org = home_organization(caller);
        append(&mut tx, state, caller, event, &org, None).await?;
    }
    tx.commit().await?;
    let status: String =
        sqlx::query_scalar("select status from follows where follower_id = $1 and target_id = $2")
            .bind(me)
            .bind(person.as_str())
            .fetch_one(state.db.pool())
            .await?;
    Ok(status == "active")
}

/// Stops following a pantry or a person (or withdraws a request).
pub async fn unfollow(state: &AppState, caller: &Caller, target: &str) -> AppResult<()> {
    let me = caller.me.id.as_str();
    let mut tx = state.db.begin().await?;
    let row = sqlx::query(
        "select target_kind, status from follows where follower_id = $1 and target_id = $2",
    )
    .bind(me)
    .bind(target)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(());
    };
    sqlx::query("delete from follows where follower_id = $1 and target_id = $2")
        .bind(me)
        .bind(target)
        .execute(&mut *tx)
        .await?;
    let kind: String = row.try_get("target_kind")?;
    let event = DomainEvent::Unfollowed(FollowChanged {
        follower_id: me.to_string(),
        target_id: target.to_string(),
        target_kind: kind.clone(),
        status: row.try_get("status")?,
    });
    let (org, pantry) = if kind == "pantry" {
        let org: Option<String> =
            sqlx::query_scalar("select organization_id from pantries where id = $1")
                .bind(target)
                .fetch_optional(&mut *tx)
                .await?;
        (org.unwrap_or_default(), Some(target))
    } else {
        (home_organization(caller), None)
    };
    append(&mut tx, state, caller, event, &org, pantry).await?;
    tx.commit().await?;
    Ok(())
}

/// Accepts or declines someone's request to follow the caller.
pub async fn answer_request(
    state: &AppState,
    caller: &Caller,
    follower: &UserId,
    accept: bool,
) -> AppResult<()> {
    let me = caller.me.id.as_str();
    let mut tx = state.db.begin().await?;
    let changed = if accept {
        sqlx::query(
            "update follows set status = 'active' where follower_id = $1 and target_id = $2 and status = 'requested'",
        )
    } else {
        sqlx::query("delete from follows where follower_id = $1 and target_id = $2 and status = 'requested'")
    }
    .bind(follower.as_str())
    .bind(me)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(AppError::not_found("follow request"));
    }
    if accept {
        let event = DomainEvent::FollowAccepted(FollowChanged {
            follower_id: follower.to_string(),
            target_id: me.to_string(),
            target_kind: "person".into(),
            status: "active".into(),
        });
        let org = home_organization(caller);
        append(&mut tx, state, caller, event, &org, None).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Blocks a person: neither sees the other's posts, comments or profile,
/// and any follow between them ends.
pub async fn block(state: &AppState, caller: &Caller, person: &UserId) -> AppResult<()> {
    let me = caller.me.id.as_str();
    if person.as_str() == me {
        return Err(AppError::invalid("person", "You cannot block yourself."));
    }
    if !knows(state, me, person.as_str()).await? && !wrote_where_seen(state, caller, person).await?
    {
        return Err(AppError::not_found("person"));
    }
    let mut tx = state.db.begin().await?;
    let added = sqlx::query(
        "insert into blocks (blocker_id, blocked_id, created_at) values ($1, $2, $3) on conflict do nothing",
    )
    .bind(me)
    .bind(person.as_str())
    .bind(state.clock.now_ms())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if added > 0 {
        sqlx::query(
            "delete from follows where (follower_id = $1 and target_id = $2) or (follower_id = $2 and target_id = $1)",
        )
        .bind(me)
        .bind(person.as_str())
        .execute(&mut *tx)
        .await?;
        let event = DomainEvent::PersonBlocked(BlockChanged {
            blocker_id: me.to_string(),
            blocked_id: person.to_string(),
        });
        let org = home_organization(caller);
        append(&mut tx, state, caller, event, &org, None).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Whether the person wrote a post or comment on a timeline the caller
/// may read (so the caller has seen their name and may block them).
async fn wrote_where_seen(state: &AppState, caller: &Caller, person: &UserId) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar(&format!(
        "select count(*) from posts p where {} and (p.author_id = $2 or exists \
         (select 1 from comments c where c.post_id = p.id and c.author_id = $2))",
        super::service::VISIBLE
    ))
    .bind(caller.me.id.as_str())
    .bind(person.as_str())
    .fetch_one(state.db.pool())
    .await?;
    Ok(n > 0)
}

/// Lifts the caller's block of a person.
pub async fn unblock(state: &AppState, caller: &Caller, person: &UserId) -> AppResult<()> {
    let me = caller.me.id.as_str();
    let mut tx = state.db.begin().await?;
    let removed = sqlx::query("delete from blocks where blocker_id = $1 and blocked_id = $2")
        .bind(me)
        .bind(person.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if removed > 0 {
        let event = DomainEvent::PersonUnblocked(BlockChanged {
            blocker_id: me.to_string(),
            blocked_id: person.to_string(),
        });
        let org = home_organization(caller);
        append(&mut tx, state, caller, event, &org, None).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Longest bio, in characters.
pub const MAX_BIO_CHARS: usize = 300;

/// Saves the caller's bio and who may see their profile. Choosing
/// "followers only" makes new follows requests; follows already accepted
/// stay.
pub async fn save_profile(
    state: &AppState,
    caller: &Caller,
    bio: &str,
    visibility: ProfileVisibility,
) -> AppResult<()> {
    let bio = crate::input::clean_paragraphs(bio, "bio", MAX_BIO_CHARS)?;
    sqlx::query(
        "insert into profiles (user_id, bio, visibility, updated_at) values ($1, $2, $3, $4) \
         on conflict (user_id) do update set bio = excluded.bio, visibility = excluded.visibility, \
         updated_at = excluded.updated_at",
    )
    .bind(caller.me.id.as_str())
    .bind(&bio)
    .bind(visibility.as_str())
    .bind(state.clock.now_ms())
    .execute(state.db.pool())
    .await?;
    Ok(())
}
