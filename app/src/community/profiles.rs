//! Profiles: what a person shows of themselves and to whom, and each
//! person's lists of followers, followed and blocked people.

use sqlx::Row as _;

use super::model::*;
use super::reads::{posts_of, POST_COLUMNS, POST_JOINS};
use super::service::{blocked, VISIBLE};
use super::social::{knows, profile_visibility};
use crate::auth::service::Caller;
use crate::error::{AppError, AppResult};
use crate::ids::{PhotoId, UserId};
use crate::state::AppState;

/// Posts a profile shows.
const RECENT_POSTS: i64 = 10;
/// Entries each list shows.
const LIST_LIMIT: i64 = 200;

/// A person's profile. Someone the reader may not know of, or who blocked
/// them (or whom they blocked, unless to lift it), does not exist for them.
pub async fn profile(state: &AppState, caller: &Caller, person: &UserId) -> AppResult<ProfileView> {
    let me = caller.me.id.as_str();
    let mine = person.as_str() == me;
    let name: Option<String> =
        sqlx::query_scalar("select display_name from users where id = $1 and disabled_at is null")
            .bind(person.as_str())
            .fetch_optional(state.db.pool())
            .await?;
    let name = name.ok_or_else(|| AppError::not_found("person"))?;
    let i_blocked: i64 =
        sqlx::query_scalar("select count(*) from blocks where blocker_id = $1 and blocked_id = $2")
            .bind(me)
            .bind(person.as_str())
            .fetch_one(state.db.pool())
            .await?;
    if !mine
        && (!knows(state, me, person.as_str()).await?
            || (i_blocked == 0 && blocked(&state.db, me, person.as_str()).await?))
    {
        return Err(AppError::not_found("person"));
    }
    let follow: Option<String> =
        sqlx::query_scalar("select status from follows where follower_id = $1 and target_id = $2")
            .bind(me)
            .bind(person.as_str())
            .fetch_optional(state.db.pool())
            .await?;
    let visibility = profile_visibility(state, person.as_str()).await?;
    let shares: i64 = sqlx::query_scalar(
        "select count(*) from memberships a join memberships b on a.organization_id = b.organization_id \
         where a.user_id = $1 and b.user_id = $2",
    )
    .bind(me)
    .bind(person.as_str())
    .fetch_one(state.db.pool())
    .await?;
    let follower = follow.as_deref() == Some("active");
    let visible = mine
        || (i_blocked == 0
            && match visibility {
                ProfileVisibility::SignedIn => true,
                ProfileVisibility::Organization => shares > 0 || follower,
                ProfileVisibility::Followers => follower,
            });
    let counts = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .bind(person.as_str())
            .fetch_one(state.db.pool())
            .await
    };
    let followers =
        counts("select count(*) from follows where target_id = $1 and status = 'active'").await?;
    let following =
        counts("select count(*) from follows where follower_id = $1 and status = 'active'").await?;
    let mut view = ProfileView {
        person: Person {
            id: person.clone(),
            name,
            // Like the name, shown unless one of them blocked the other.
            avatar: if i_blocked == 0 {
                sqlx::query_scalar::<_, Option<String>>(
                    "select avatar_photo_id from profiles where user_id = $1",
                )
                .bind(person.as_str())
                .fetch_optional(state.db.pool())
                .await?
                .flatten()
                .map(PhotoId::from_stored)
            } else {
                None
            },
        },
        mine,
        visible,
        bio: String::new(),
        visibility: mine.then_some(visibility),
        roles: vec![],
        followers,
        following,
        follow,
        blocked: i_blocked > 0,
        posts: vec![],
    };
    if !visible {
        return Ok(view);
    }
    view.bio = sqlx::query_scalar::<_, String>("select bio from profiles where user_id = $1")
        .bind(person.as_str())
        .fetch_optional(state.db.pool())
        .await?
        .unwrap_or_default();
    // Their roles, in the organizations the reader belongs to.
    let rows = sqlx::query(
        "select m.role, coalesce(pa.name, ca.name, o.name) as place from memberships m \
         join organizations o on o.id = m.organization_id \
         left join pantries pa on m.scope_kind = 'pantry' and pa.id = m.scope_id \
         left join campuses ca on m.scope_kind = 'campus' and ca.id = m.scope_id \
         where m.user_id = $1 and exists (select 1 from memberships mine where mine.user_id = $2 \
           and mine.organization_id = m.organization_id) order by place",
    )
    .bind(person.as_str())
    .bind(me)
    .fetch_all(state.db.pool())
    .await?;
    for r in rows {
        let role: String = r.try_get("role")?;
        let role = crate::auth::model::Role::parse(&role, "role")
            .map(|r| r.label().to_string())
            .unwrap_or(role);
        view.roles.push((role, r.try_get("place")?));
    }
    let rows = sqlx::query(&format!(
        "select {POST_COLUMNS} from posts p {POST_JOINS} where p.author_id = $2 and p.deleted_at is null \
         and {VISIBLE} order by p.created_at desc, p.id desc limit {RECENT_POSTS}"
    ))
    .bind(me)
    .bind(person.as_str())
    .fetch_all(state.db.pool())
    .await?;
    view.posts = posts_of(&state.db, caller, &rows, None).await?;
    Ok(view)
}

/// The caller's requests, follows, followers, blocks and settings.
pub async fn my_people(state: &AppState, caller: &Caller) -> AppResult<MyPeople> {
    let me = caller.me.id.as_str();
    let people = |sql: String| async move {
        let rows = sqlx::query(&format!("{sql} limit {LIST_LIMIT}"))
            .bind(me)
            .fetch_all(state.db.pool())
            .await?;
        rows.iter()
            .map(|r| -> AppResult<Entry> {
                let id: String = r.try_get("id")?;
                let kind: String = r.try_get("kind")?;
                Ok(Entry {
                    link: if kind == "pantry" {
                        format!("/pantries/{id}/timeline")
                    } else {
                        format!("/people/{id}")
                    },
                    name: r.try_get("name")?,
                    id,
                })
            })
            .collect::<AppResult<Vec<Entry>>>()
    };
    let requests = people(
        "select u.id, u.display_name as name, 'person' as kind from follows f join users u on u.id = f.follower_id \
         where f.target_id = $1 and f.status = 'requested' order by f.created_at"
            .into(),
    )
    .await?;
    let followers = people(
        "select u.id, u.display_name as name, 'person' as kind from follows f join users u on u.id = f.follower_id \
         where f.target_id = $1 and f.status = 'active' order by u.display_name"
            .into(),
    )
    .await?;
    let following = people(
        "select f.target_id as id, coalesce(u.display_name, pa.name, '') as name, f.target_kind as kind from follows f \
         left join users u on f.target_kind = 'person' and u.id = f.target_id \
         left join pantries pa on f.target_kind = 'pantry' and pa.id = f.target_id \
         where f.follower_id = $1 and f.status = 'active' order by name"
            .into(),
    )
    .await?;
    let blocked = people(
        "select u.id, u.display_name as name, 'person' as kind from blocks b join users u on u.id = b.blocked_id \
         where b.blocker_id = $1 order by u.display_name"
            .into(),
    )
    .await?;
    let profile = sqlx::query("select bio, avatar_photo_id from profiles where user_id = $1")
        .bind(me)
        .fetch_optional(state.db.pool())
        .await?;
    let (bio, avatar) = match profile {
        Some(r) => (
            r.try_get::<String, _>("bio")?,
            r.try_get::<Option<String>, _>("avatar_photo_id")?,
        ),
        None => (String::new(), None),
    };
    Ok(MyPeople {
        me: Person {
            id: caller.me.id.clone(),
            name: caller.me.display_name.clone(),
            avatar: avatar.map(PhotoId::from_stored),
        },
        requests,
        following,
        followers,
        blocked,
        bio,
        visibility: profile_visibility(state, me).await?,
    })
}
