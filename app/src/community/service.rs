//! Posts, comments and likes on pantry timelines, and reading them.
//!
//! Who may see what, in one place ([`pantry_access`] and the two SQL
//! filters): a pantry's timeline is read by the people of its organization,
//! or by everyone signed in when the pantry opens it; anyone with a role at
//! the pantry posts there; its managers remove anything on it; a block
//! hides each person's posts and comments from the other.

use serde::{Deserialize, Serialize};
use sqlx::Row as _;

use super::model::*;
use crate::auth::model::Role;
use crate::auth::service::{Caller, Place};
use crate::db::{Db, Tx};
use crate::error::{AppError, AppResult};
use crate::events::domain::DomainEvent;
use crate::events::store::{self as events, NewEvent};
use crate::ids::{CommentId, PantryId, PostId};
use crate::inventory::model::PantryHeader;
use crate::state::AppState;

/// A post was published, edited or removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostChanged {
    pub post_id: String,
    pub pantry_id: String,
    pub author_id: Option<String>,
    /// People named by an @mention for the first time in this change.
    #[serde(default)]
    pub mentioned: Vec<String>,
}

/// A comment was added or removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommentChanged {
    pub comment_id: String,
    pub post_id: String,
    pub pantry_id: String,
    pub author_id: String,
    pub parent_id: Option<String>,
    /// Whose post it is on (none for Larder's own posts).
    pub post_author_id: Option<String>,
    /// Whose comment it answers.
    pub parent_author_id: Option<String>,
    /// Who began the comment thread it is in (for a reply to a reply).
    #[serde(default)]
    pub thread_author_id: Option<String>,
    #[serde(default)]
    pub mentioned: Vec<String>,
}

/// Someone liked a post or a comment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Liked {
    pub target_id: String,
    pub post_id: String,
    pub liker_id: String,
    /// Whose post or comment it is.
    pub author_id: Option<String>,
}

/// SQL: the post `p` is on a timeline person `$1` may read.
pub(super) const VISIBLE: &str = "(exists (select 1 from memberships vm where vm.user_id = $1 \
     and vm.organization_id = p.organization_id) or exists (select 1 from timeline_settings vs \
     where vs.pantry_id = p.pantry_id and vs.visibility = 'signed_in'))";

/// SQL: neither person `$1` nor the author of `p` blocked the other.
pub(super) const UNBLOCKED: &str = "not exists (select 1 from blocks b where \
     (b.blocker_id = $1 and b.blocked_id = p.author_id) or (b.blocker_id = p.author_id and b.blocked_id = $1))";

/// A pantry as the reader may use its timeline.
pub struct Access {
    pub pantry: PantryHeader,
    pub place: Place,
    pub role: Option<Role>,
    pub visibility: TimelineVisibility,
}

impl Access {
    pub fn can_post(&self) -> bool {
        self.role.is_some()
    }

    pub fn can_manage(&self) -> bool {
        self.role >= Some(Role::Manager)
    }
}

/// The pantry's timeline as the caller may use it; a pantry they may not
/// read does not exist for them.
pub async fn pantry_access(db: &Db, caller: &Caller, pantry: &PantryId) -> AppResult<Access> {
    let (header, place) = crate::inventory::service::pantry_header(db, pantry).await?;
    let visibility = timeline_visibility(db, pantry.as_str()).await?;
    let role = caller.role_at(&place);
    if !caller.belongs_to(&place.organization_id) && visibility != TimelineVisibility::SignedIn {
        return Err(AppError::not_found("pantry"));
    }
    Ok(Access {
        pantry: header,
        place,
        role,
        visibility,
    })
}

async fn timeline_visibility(db: &Db, pantry: &str) -> AppResult<TimelineVisibility> {
    let v: Option<String> =
        sqlx::query_scalar("select visibility from timeline_settings where pantry_id = $1")
            .bind(pantry)
            .fetch_optional(db.pool())
            .await?;
    Ok(v.as_deref()
        .and_then(TimelineVisibility::parse)
        .unwrap_or(TimelineVisibility::Organization))
}

/// Who may read the pantry's timeline (its managers decide).
pub async fn set_visibility(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    visibility: TimelineVisibility,
) -> AppResult<()> {
    let access = pantry_access(&state.db, caller, pantry).await?;
    if !access.can_manage() {
        return Err(AppError::forbidden());
    }
    sqlx::query(
        "insert into timeline_settings (pantry_id, visibility, updated_at) values ($1, $2, $3) \
         on conflict (pantry_id) do update set visibility = excluded.visibility, updated_at = excluded.updated_at",
    )
    .bind(pantry.as_str())
    .bind(visibility.as_str())
    .bind(state.clock.now_ms())
    .execute(state.db.pool())
    .await?;
    Ok(())
}

/// Which automatic posts the pantry has (its managers decide).
pub async fn set_automatic(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    wanted: AutomaticPosts,
) -> AppResult<()> {
    let access = pantry_access(&state.db, caller, pantry).await?;
    if !access.can_manage() {
        return Err(AppError::forbidden());
    }
    sqlx::query(
        "insert into timeline_settings (pantry_id, auto_donations, auto_milestones, auto_back_in_stock, auto_needs, updated_at) \
         values ($1, $2, $3, $4, $5, $6) on conflict (pantry_id) do update set auto_donations = excluded.auto_donations, \
         auto_milestones = excluded.auto_milestones, auto_back_in_stock = excluded.auto_back_in_stock, \
         auto_needs = excluded.auto_needs, updated_at = excluded.updated_at",
    )
    .bind(pantry.as_str())
    .bind(i64::from(wanted.donations))
    .bind(i64::from(wanted.milestones))
    .bind(i64::from(wanted.back_in_stock))
    .bind(i64::from(wanted.needs))
    .bind(state.clock.now_ms())
    .execute(state.db.pool())
    .await?;
    Ok(())
}

/// Whether either person blocked the other.
pub async fn blocked(db: &Db, a: &str, b: &str) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "select count(*) from blocks where (blocker_id = $1 and blocked_id = $2) or (blocker_id = $2 and blocked_id = $1)",
    )
    .bind(a)
    .bind(b)
    .fetch_one(db.pool())
    .await?;
    Ok(n > 0)
}

/// Appends a community event in the transaction that made the change.
pub(super) async fn append(
    tx: &mut Tx,
    state: &AppState,
    caller: &Caller,
    event: DomainEvent,
    organization: &str,
    pantry: Option<&str>,
) -> AppResult<()> {
    let correlation = crate::request::current_request_id();
    events::append(
        tx,
        state.db.backend(),
        &NewEvent {
            event: &event,
            organization_id: organization,
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

/// The people an @mention names: among those who may read the timeline
/// (its organization's people), the one whose e-mail name (before the @)
/// or whose name without spaces is the word, or whose first name it is if
/// only one has it. Nobody outside can be named, so a mention cannot be
/// used to find out who exists.
async fn resolve_mentions(
    tx: &mut Tx,
    organization: &str,
    author: &str,
    body: &str,
) -> AppResult<Vec<(String, String)>> {
    let tokens = mention_tokens(body);
    if tokens.is_empty() {
        return Ok(vec![]);
    }
    let people: Vec<(String, String, String)> = sqlx::query_as(
        "select distinct u.id, u.email, u.display_name from users u join memberships m on m.user_id = u.id \
         where m.organization_id = $1 and u.disabled_at is null and not exists (select 1 from blocks b where \
         (b.blocker_id = u.id and b.blocked_id = $2) or (b.blocker_id = $2 and b.blocked_id = u.id))",
    )
    .bind(organization)
    .bind(author)
    .fetch_all(&mut **tx)
    .await?;
    let mut out: Vec<(String, String)> = Vec::new();
    for token in tokens {
        let t = token.to_lowercase();
        let exact = people.iter().find(|(_, email, name)| {
            email.split('@').next().unwrap_or("").to_lowercase() == t
                || name.split_whitespace().collect::<String>().to_lowercase() == t
        });
        let first: Vec<_> = people
            .iter()
            .filter(|(_, _, name)| name.split_whitespace().next().unwrap_or("").to_lowercase() == t)
            .collect();
        let found = exact.or(if first.len() == 1 {
            Some(first[0])
        } else {
            None
        });
        if let Some((id, _, _)) = found {
            if !out.iter().any(|(_, p)| p == id) {
                out.push((token, id.clone()));
            }
        }
    }
    Ok(out)
}

async fn save_mentions(tx: &mut Tx, source: &str, mentions: &[(String, String)]) -> AppResult<()> {
    sqlx::query("delete from mentions where source_id = $1")
        .bind(source)
        .execute(&mut **tx)
        .await?;
    for (token, person) in mentions {
        sqlx::query("insert into mentions (source_id, user_id, token) values ($1, $2, $3)")
            .bind(source)
            .bind(person)
            .bind(token)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// A post's kind, text and date, checked.
struct Draft {
    kind: PostKind,
    body: String,
    event_on: Option<String>,
}

fn draft(kind: &str, body: &str, event_on: &str) -> AppResult<Draft> {
    let kind = PostKind::parse(kind)
        .filter(|k| PostKind::WRITTEN.contains(k))
        .ok_or_else(|| {
            AppError::invalid("kind", "Choose announcement, need, thank you or event.")
        })?;
    let body = crate::input::clean_paragraphs(body, "body", MAX_POST_CHARS)?;
    if body.is_empty() {
        return Err(AppError::invalid("body", "Write something to post."));
    }
    let event_on = match (kind, event_on.trim()) {
        (PostKind::Event, "") => {
            return Err(AppError::invalid("event_on", "Give the event's date."))
        }
        (PostKind::Event, d) => Some(crate::dates::iso(crate::dates::parse_field(
            d,
            "event_on",
            2000..=2100,
        )?)),
        _ => None,
    };
    Ok(Draft {
        kind,
        body,
        event_on,
    })
}

/// A post as its author's form sent it.
pub struct NewPost<'a> {
    pub kind: &'a str,
    pub body: &'a str,
    pub event_on: &'a str,
    /// Photos the author uploaded for it, in order.
    pub photos: Vec<crate::ids::PhotoId>,
}

/// Publishes a post on the pantry's timeline (anyone with a role there).
pub async fn publish(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    new: NewPost<'_>,
) -> AppResult<PostId> {
    let access = pantry_access(&state.db, caller, pantry).await?;
    if !access.can_post() {
        return Err(AppError::forbidden());
    }
    let d = draft(new.kind, new.body, new.event_on)?;
    let id = PostId::new();
    let me = caller.me.id.as_str();
    let org = access.place.organization_id.as_str();
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "insert into posts (id, organization_id, pantry_id, author_id, kind, body, event_on, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id.as_str())
    .bind(org)
    .bind(pantry.as_str())
    .bind(me)
    .bind(d.kind.as_str())
    .bind(&d.body)
    .bind(&d.event_on)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    super::photos::attach(&mut tx, state, me, &id, &new.photos).await?;
    let mentions = resolve_mentions(&mut tx, org, me, &d.body).await?;
    save_mentions(&mut tx, id.as_str(), &mentions).await?;
    // The author reads their own post on their home timeline at once; the
    // timelines consumer brings it to everyone else's.
    sqlx::query(
        "insert into timeline_entries (user_id, post_id, created_at) values ($1, $2, $3) on conflict do nothing",
    )
    .bind(me)
    .bind(id.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let event = DomainEvent::PostPublished(PostChanged {
        post_id: id.to_string(),
        pantry_id: pantry.to_string(),
        author_id: Some(me.to_string()),
        mentioned: mentions.into_iter().map(|(_, p)| p).collect(),
    });
    append(&mut tx, state, caller, event, org, Some(pantry.as_str())).await?;
    tx.commit().await?;
    Ok(id)
}

/// Records a change to a stored post (`what` wraps its payload) in the
/// transaction that made it, filed under the post's pantry.
pub(super) async fn append_post_event(
    tx: &mut Tx,
    state: &AppState,
    caller: &Caller,
    (post, stored, access): (&PostId, &Stored, &Access),
    what: fn(PostChanged) -> DomainEvent,
    mentioned: Vec<String>,
) -> AppResult<()> {
    let event = what(PostChanged {
        post_id: post.to_string(),
        pantry_id: stored.pantry.to_string(),
        author_id: stored.author.clone(),
        mentioned,
    });
    append(
        tx,
        state,
        caller,
        event,
        access.place.organization_id.as_str(),
        Some(stored.pantry.as_str()),
    )
    .await
}

/// A post as stored, for the checks before changing it.
pub(super) struct Stored {
    pub(super) pantry: PantryId,
    pub(super) author: Option<String>,
    deleted: bool,
}

async fn stored_post(db: &Db, post: &PostId) -> AppResult<Stored> {
    let row = sqlx::query("select pantry_id, author_id, deleted_at from posts where id = $1")
        .bind(post.as_str())
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| AppError::not_found("post"))?;
    Ok(Stored {
        pantry: PantryId::from_stored(row.try_get("pantry_id")?),
        author: row.try_get("author_id")?,
        deleted: row.try_get::<Option<i64>, _>("deleted_at")?.is_some(),
    })
}

/// The post, if the caller may read it: on a timeline they may read, not
/// removed, and nobody blocked anybody.
pub(super) async fn readable_post(
    db: &Db,
    caller: &Caller,
    post: &PostId,
) -> AppResult<(Stored, Access)> {
    let stored = stored_post(db, post).await?;
    let access = pantry_access(db, caller, &stored.pantry)
        .await
        .map_err(|_| AppError::not_found("post"))?;
    if stored.deleted {
        return Err(AppError::not_found("post"));
    }
    if let Some(author) = &stored.author {
        if blocked(db, caller.me.id.as_str(), author).await? {
            return Err(AppError::not_found("post"));
        }
    }
    Ok((stored, access))
}

/// Changes the author's own post; it shows as edited. People named for
/// the first time are told.
pub async fn edit(
    state: &AppState,
    caller: &Caller,
    post: &PostId,
    kind: &str,
    body: &str,
    event_on: &str,
) -> AppResult<()> {
    let (stored, access) = readable_post(&state.db, caller, post).await?;
    let me = caller.me.id.as_str();
    if stored.author.as_deref() != Some(me) {
        return Err(AppError::forbidden());
    }
    let d = draft(kind, body, event_on)?;
    let org = access.place.organization_id.as_str();
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "update posts set kind = $1, body = $2, event_on = $3, edited_at = $4 where id = $5",
    )
    .bind(d.kind.as_str())
    .bind(&d.body)
    .bind(&d.event_on)
    .bind(state.clock.now_ms())
    .bind(post.as_str())
    .execute(&mut *tx)
    .await?;
    let before: Vec<String> =
        sqlx::query_scalar("select user_id from mentions where source_id = $1")
            .bind(post.as_str())
            .fetch_all(&mut *tx)
            .await?;
    let mentions = resolve_mentions(&mut tx, org, me, &d.body).await?;
    save_mentions(&mut tx, post.as_str(), &mentions).await?;
    let mentioned = mentions
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| !before.contains(p))
        .collect();
    let target = (post, &stored, &access);
    append_post_event(
        &mut tx,
        state,
        caller,
        target,
        DomainEvent::PostEdited,
        mentioned,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a post (its author, or a manager of the pantry): it leaves
/// every timeline, and the notifications about it go.
pub async fn delete(state: &AppState, caller: &Caller, post: &PostId) -> AppResult<()> {
    let (stored, access) = readable_post(&state.db, caller, post).await?;
    if stored.author.as_deref() != Some(caller.me.id.as_str()) && !access.can_manage() {
        return Err(AppError::forbidden());
    }
    let mut tx = state.db.begin().await?;
    let changed =
        sqlx::query("update posts set deleted_at = $1 where id = $2 and deleted_at is null")
            .bind(state.clock.now_ms())
            .bind(post.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if changed == 0 {
        return Err(AppError::not_found("post"));
    }
    let target = (post, &stored, &access);
    append_post_event(
        &mut tx,
        state,
        caller,
        target,
        DomainEvent::PostDeleted,
        vec![],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Reports a post to the pantry's managers (told once per person; a
/// second report by the same person only changes the reason).
pub async fn report(
    state: &AppState,
    caller: &Caller,
    post: &PostId,
    reason: &str,
) -> AppResult<()> {
    let (stored, access) = readable_post(&state.db, caller, post).await?;
    let reason = crate::input::clean_paragraphs(reason, "reason", 500)?;
    if reason.is_empty() {
        return Err(AppError::invalid(
            "reason",
            "Say what is wrong with the post.",
        ));
    }
    let me = caller.me.id.as_str();
    let mut tx = state.db.begin().await?;
    let added = sqlx::query(
        "insert into post_reports (post_id, reporter_id, reason, created_at) values ($1, $2, $3, $4) \
         on conflict (post_id, reporter_id) do nothing",
    )
    .bind(post.as_str())
    .bind(me)
    .bind(&reason)
    .bind(state.clock.now_ms())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if added == 0 {
        // Reported again after a review: open again.
        sqlx::query("update post_reports set reason = $1, dismissed_at = null where post_id = $2 and reporter_id = $3")
            .bind(&reason)
            .bind(post.as_str())
            .bind(me)
            .execute(&mut *tx)
            .await?;
    } else {
        let target = (post, &stored, &access);
        append_post_event(
            &mut tx,
            state,
            caller,
            target,
            DomainEvent::PostReported,
            vec![],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Comments on a post, or (with `parent`) answers a comment. Replies are
/// one level deep: answering a reply answers the comment it replies to.
pub async fn comment(
    state: &AppState,
    caller: &Caller,
    post: &PostId,
    parent: Option<&CommentId>,
    body: &str,
) -> AppResult<CommentId> {
    let (stored, access) = readable_post(&state.db, caller, post).await?;
    let me = caller.me.id.as_str();
    let body = crate::input::clean_paragraphs(body, "body", MAX_COMMENT_CHARS)?;
    if body.is_empty() {
        return Err(AppError::invalid("body", "Write a comment first."));
    }
    let parent = match parent {
        None => None,
        Some(p) => {
            let row = sqlx::query(
                "select id, parent_id, author_id from comments where id = $1 and post_id = $2 and deleted_at is null",
            )
            .bind(p.as_str())
            .bind(post.as_str())
            .fetch_optional(state.db.pool())
            .await?
            .ok_or_else(|| AppError::not_found("comment"))?;
            let author: String = row.try_get("author_id")?;
            if blocked(&state.db, me, &author).await? {
                return Err(AppError::not_found("comment"));
            }
            let root: Option<String> = row.try_get("parent_id")?;
            let (root, root_author) = match root {
                Some(root) => {
                    let a: String =
                        sqlx::query_scalar("select author_id from comments where id = $1")
                            .bind(&root)
                            .fetch_one(state.db.pool())
                            .await?;
                    (root, a)
                }
                None => (row.try_get("id")?, author.clone()),
            };
            Some((root, author, root_author))
        }
    };
    let id = CommentId::new();
    let org = access.place.organization_id.clone();
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "insert into comments (id, post_id, parent_id, author_id, body, created_at) values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id.as_str())
    .bind(post.as_str())
    .bind(parent.as_ref().map(|(root, _, _)| root.as_str()))
    .bind(me)
    .bind(&body)
    .bind(state.clock.now_ms())
    .execute(&mut *tx)
    .await?;
    let mentions = resolve_mentions(&mut tx, &org, me, &body).await?;
    save_mentions(&mut tx, id.as_str(), &mentions).await?;
    let event = DomainEvent::CommentAdded(CommentChanged {
        comment_id: id.to_string(),
        post_id: post.to_string(),
        pantry_id: stored.pantry.to_string(),
        author_id: me.to_string(),
        parent_id: parent.as_ref().map(|(root, _, _)| root.clone()),
        post_author_id: stored.author.clone(),
        parent_author_id: parent.as_ref().map(|(_, author, _)| author.clone()),
        thread_author_id: parent.map(|(_, _, root_author)| root_author),
        mentioned: mentions.into_iter().map(|(_, p)| p).collect(),
    });
    append(
        &mut tx,
        state,
        caller,
        event,
        &org,
        Some(stored.pantry.as_str()),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Removes a comment (its author, or a manager of the pantry), with its
/// replies out of sight.
pub async fn delete_comment(
    state: &AppState,
    caller: &Caller,
    comment: &CommentId,
) -> AppResult<()> {
    let row = sqlx::query(
        "select post_id, author_id, parent_id from comments where id = $1 and deleted_at is null",
    )
    .bind(comment.as_str())
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(|| AppError::not_found("comment"))?;
    let post = PostId::from_stored(row.try_get("post_id")?);
    let author: String = row.try_get("author_id")?;
    let (stored, access) = readable_post(&state.db, caller, &post)
        .await
        .map_err(|_| AppError::not_found("comment"))?;
    if author != caller.me.id.as_str() && !access.can_manage() {
        if blocked(&state.db, caller.me.id.as_str(), &author).await? {
            return Err(AppError::not_found("comment"));
        }
        return Err(AppError::forbidden());
    }
    let mut tx = state.db.begin().await?;
    sqlx::query("update comments set deleted_at = $1 where id = $2 and deleted_at is null")
        .bind(state.clock.now_ms())
        .bind(comment.as_str())
        .execute(&mut *tx)
        .await?;
    let event = DomainEvent::CommentDeleted(CommentChanged {
        comment_id: comment.to_string(),
        post_id: post.to_string(),
        pantry_id: stored.pantry.to_string(),
        author_id: author,
        parent_id: row.try_get("parent_id")?,
        post_author_id: stored.author.clone(),
        parent_author_id: None,
        thread_author_id: None,
        mentioned: vec![],
    });
    let org = access.place.organization_id.clone();
    append(
        &mut tx,
        state,
        caller,
        event,
        &org,
        Some(stored.pantry.as_str()),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Likes (or, with `on` false, stops liking) a post or a comment on it.
/// Liking twice is liking once.
pub async fn like(state: &AppState, caller: &Caller, target: &str, on: bool) -> AppResult<()> {
    let me = caller.me.id.as_str();
    // The target is a post, or a comment on one.
    let post_row = sqlx::query("select id from posts where id = $1")
        .bind(target)
        .fetch_optional(state.db.pool())
        .await?;
    let (post, author) = match post_row {
        Some(_) => (PostId::from_stored(target.to_string()), None),
        None => {
            let row = sqlx::query(
                "select post_id, author_id from comments where id = $1 and deleted_at is null",
            )
            .bind(target)
            .fetch_optional(state.db.pool())
            .await?
            .ok_or_else(|| AppError::not_found("post"))?;
            let author: String = row.try_get("author_id")?;
            if blocked(&state.db, me, &author).await? {
                return Err(AppError::not_found("comment"));
            }
            (PostId::from_stored(row.try_get("post_id")?), Some(author))
        }
    };
    let (stored, access) = readable_post(&state.db, caller, &post).await?;
    let author = author.or(stored.author.clone());
    let mut tx = state.db.begin().await?;
    if !on {
        sqlx::query("delete from likes where target_id = $1 and user_id = $2")
            .bind(target)
            .bind(me)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(());
    }
    let added = sqlx::query(
        "insert into likes (target_id, user_id, created_at) values ($1, $2, $3) on conflict do nothing",
    )
    .bind(target)
    .bind(me)
    .bind(state.clock.now_ms())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if added > 0 {
        let event = DomainEvent::Liked(Liked {
            target_id: target.to_string(),
            post_id: post.to_string(),
            liker_id: me.to_string(),
            author_id: author,
        });
        let org = access.place.organization_id.clone();
        append(
            &mut tx,
            state,
            caller,
            event,
            &org,
            Some(stored.pantry.as_str()),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
