//! Reading timelines: a pantry's, the home timeline (one range scan of
//! the reader's timeline rows) and a post with its comments, each with
//! what the reader may do to them.

use sqlx::Row as _;

use super::model::*;
use super::service::{pantry_access, readable_post, UNBLOCKED, VISIBLE};
use crate::auth::model::Role;
use crate::auth::service::{Caller, Place};
use crate::db::{self, Db};
use crate::error::{AppError, AppResult};
use crate::ids::{CommentId, PantryId, PhotoId, PostId, UserId};
use crate::state::AppState;
use crate::zones::Zone;

/// Where a page of posts starts: after the post the cursor names.
#[derive(Debug, Clone, Copy)]
pub struct Cursor {
    pub at: i64,
    id: uuid::Uuid,
}

impl Cursor {
    /// Parses the `next` of a page. Anything else is refused by name.
    pub fn parse(text: &str) -> AppResult<Option<Self>> {
        if text.is_empty() {
            return Ok(None);
        }
        let bad =
            || AppError::invalid("cursor", "That page link is not valid; start from the top.");
        let (at, id) = text.split_once('_').ok_or_else(bad)?;
        Ok(Some(Self {
            at: at.parse().map_err(|_| bad())?,
            id: id.parse().map_err(|_| bad())?,
        }))
    }

    fn text(at: i64, id: &str) -> String {
        format!("{at}_{id}")
    }

    pub fn id(&self) -> String {
        self.id.to_string()
    }
}

/// The columns a post is shown with; `$1` is the reader.
pub(super) const POST_COLUMNS: &str = "p.id, p.pantry_id, pa.name as pantry_name, pa.campus_id, p.organization_id, \
     coalesce(pa.time_zone, o.time_zone) as zone, p.author_id, u.display_name as author_name, p.kind, p.body, \
     p.event_on, p.created_at, p.edited_at, \
     (select pr.avatar_photo_id from profiles pr where pr.user_id = p.author_id) as author_avatar, \
     (select count(*) from likes l where l.target_id = p.id) as likes, \
     (select count(*) from likes l where l.target_id = p.id and l.user_id = $1) as liked, \
     (select count(*) from comments c where c.post_id = p.id and c.deleted_at is null and (c.parent_id is null or \
     exists (select 1 from comments pc where pc.id = c.parent_id and pc.deleted_at is null))) as comments";

/// Joins the columns need, after `posts p`.
pub(super) const POST_JOINS: &str =
    "join pantries pa on pa.id = p.pantry_id join organizations o on o.id = pa.organization_id \
     left join users u on u.id = p.author_id";

/// A page of a pantry's timeline.
pub async fn pantry_timeline(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    cursor: &str,
) -> AppResult<PantryTimeline> {
    let access = pantry_access(&state.db, caller, pantry).await?;
    let cursor = Cursor::parse(cursor)?;
    let me = caller.me.id.as_str();
    let mut sql = db::Sql::with_first(me);
    sql.push(&format!(
        "select {POST_COLUMNS} from posts p {POST_JOINS} where p.pantry_id = "
    ))
    .text(pantry.as_str());
    sql.push(&format!(" and p.deleted_at is null and {UNBLOCKED}"));
    if let Some(c) = cursor {
        sql.push(" and (p.created_at < ")
            .int(c.at)
            .push(" or (p.created_at = ")
            .int(c.at);
        sql.push(" and p.id < ").text(c.id()).push("))");
    }
    sql.push(" order by p.created_at desc, p.id desc limit ")
        .int(PAGE_SIZE + 1);
    let rows = sql.query().fetch_all(state.db.pool()).await?;
    let timeline = page(&state.db, caller, rows, 0, None).await?;
    let following: i64 = sqlx::query_scalar(
        "select count(*) from follows where follower_id = $1 and target_id = $2",
    )
    .bind(me)
    .bind(pantry.as_str())
    .fetch_one(state.db.pool())
    .await?;
    let followers: i64 = sqlx::query_scalar(
        "select count(*) from follows where target_id = $1 and status = 'active'",
    )
    .bind(pantry.as_str())
    .fetch_one(state.db.pool())
    .await?;
    let automatic = if access.can_manage() {
        let mut conn = state.db.pool().acquire().await?;
        Some(super::automatic::wanted(&mut conn, pantry.as_str()).await?)
    } else {
        None
    };
    Ok(PantryTimeline {
        automatic,
        pantry: pantry.clone(),
        name: access.pantry.name.clone(),
        visibility: access.visibility,
        can_post: access.can_post(),
        can_manage: access.can_manage(),
        following: following > 0,
        followers,
        timeline,
    })
}

/// The caller's home timeline: the posts of the pantries and people they
/// follow (and their own), newest first. One range scan of their
/// timeline rows, merged with the newest posts of the followed pantries
/// that are fanned out on read; the filters drop what they may no longer
/// read. It ends where its oldest rows were let go ([`trim`]).
pub async fn home(state: &AppState, caller: &Caller, cursor: &str) -> AppResult<Timeline> {
    let cursor = Cursor::parse(cursor)?;
    let me = caller.me.id.as_str();
    let floor: Option<(i64, String)> =
        sqlx::query_as("select before_at, before_id from timeline_trims where user_id = $1")
            .bind(me)
            .fetch_optional(state.db.pool())
            .await?;
    let mut sql = db::Sql::with_first(me);
    sql.push(&format!("select {POST_COLUMNS} from ("));
    home_rows(&mut sql, cursor, None, floor.as_ref(), PAGE_SIZE + 1);
    sql.push(&format!(
        ") h join posts p on p.id = h.pid {POST_JOINS} order by h.at desc, h.pid desc limit "
    ))
    .int(PAGE_SIZE + 1);
    let rows = sql.query().fetch_all(state.db.reads().pool()).await?;
    let read_at: Option<i64> =
        sqlx::query_scalar("select read_at from timeline_reads where user_id = $1")
            .bind(me)
            .fetch_optional(state.db.pool())
            .await?;
    let read_at = read_at.unwrap_or(0);
    let mut count = db::Sql::with_first(me);
    count.push("select count(*) from (");
    home_rows(&mut count, None, Some(read_at), floor.as_ref(), 100);
    count.push(") h");
    let unread: i64 = count.query().fetch_one(state.db.pool()).await?.try_get(0)?;
    if cursor.is_none() {
        trim_later(state, me);
    }
    let mut timeline = page(&state.db, caller, rows, unread, Some(read_at)).await?;
    timeline.trimmed = floor.is_some() && timeline.next.is_none();
    Ok(timeline)
}

/// Lets the reader's oldest home rows go, beyond the newest
/// `timeline_keep`, after a read of their first page (in the background,
/// on the primary: the read does not wait for it). Reading is what makes
/// a timeline worth keeping short, and costs one probe of the index.
fn trim_later(state: &AppState, me: &str) {
    let (state, me) = (state.clone(), me.to_string());
    tokio::spawn(async move {
        if let Err(e) = trim(&state, &me).await {
            tracing::warn!(error = %e, "a home timeline was not trimmed");
        }
    });
}

/// Keeps the reader's newest `timeline_keep` rows and records the oldest
/// kept as where their home timeline ends. Returns whether any went.
pub async fn trim(state: &AppState, me: &str) -> AppResult<bool> {
    let keep = state.settings.timeline_keep.max(1);
    let beyond: Option<String> = sqlx::query_scalar(
        "select post_id from timeline_entries where user_id = $1          order by created_at desc, post_id desc limit 1 offset $2",
    )
    .bind(me)
    .bind(keep)
    .fetch_optional(state.db.pool())
    .await?;
    if beyond.is_none() {
        return Ok(false);
    }
    let mut tx = state.db.begin().await?;
    let oldest_kept: Option<(i64, String)> = sqlx::query_as(
        "select created_at, post_id from timeline_entries where user_id = $1          order by created_at desc, post_id desc limit 1 offset $2",
    )
    .bind(me)
    .bind(keep - 1)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((at, id)) = oldest_kept else {
        return Ok(false);
    };
    sqlx::query(
        "delete from timeline_entries where user_id = $1 and (created_at < $2 or (created_at = $2 and post_id < $3))",
    )
    .bind(me)
    .bind(at)
    .bind(&id)
    .execute(&mut *tx)
    .await?;
    // Only ever later: a trim that lost a race keeps the later end.
    sqlx::query(
        "insert into timeline_trims (user_id, before_at, before_id) values ($1, $2, $3) \
         on conflict (user_id) do update set before_at = excluded.before_at, before_id = excluded.before_id \
         where timeline_trims.before_at < excluded.before_at or \
         (timeline_trims.before_at = excluded.before_at and timeline_trims.before_id < excluded.before_id)",
    )
    .bind(me)
    .bind(at)
    .bind(&id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The reader's (`$1`) home rows as `(pid, at)`, newest first, at most
/// `limit` from each source: their timeline rows, and the posts fanned
/// out on read of the pantries they follow (those without a row). With
/// `after`, only posts newer than it and not their own (the unread); with
/// `floor`, none older than where the timeline was trimmed.
fn home_rows(
    sql: &mut db::Sql,
    cursor: Option<Cursor>,
    after: Option<i64>,
    floor: Option<&(i64, String)>,
    limit: i64,
) {
    let filters = format!("p.deleted_at is null and {UNBLOCKED} and {VISIBLE}");
    for (i, (from, at, id)) in [
        (
            "timeline_entries t join posts p on p.id = t.post_id where t.user_id = $1",
            "t.created_at",
            "t.post_id",
        ),
        (
            "follows f join posts p on p.pantry_id = f.target_id and p.fanned_on_read = 1 \
             where f.follower_id = $1 and f.status = 'active' and not exists \
             (select 1 from timeline_entries t2 where t2.user_id = $1 and t2.post_id = p.id)",
            "p.created_at",
            "p.id",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        if i > 0 {
            sql.push(" union all ");
        }
        sql.push(&format!(
            "select * from (select {id} as pid, {at} as at from {from} and {filters}"
        ));
        if let Some(c) = cursor {
            sql.push(&format!(" and ({at} < ")).int(c.at);
            sql.push(&format!(" or ({at} = ")).int(c.at);
            sql.push(&format!(" and {id} < ")).text(c.id()).push("))");
        }
        if let Some((floor_at, floor_id)) = floor {
            sql.push(&format!(" and ({at} > ")).int(*floor_at);
            sql.push(&format!(" or ({at} = ")).int(*floor_at);
            sql.push(&format!(" and {id} >= "))
                .text(floor_id.clone())
                .push("))");
        }
        if let Some(t) = after {
            sql.push(&format!(" and {at} > ")).int(t);
            sql.push(" and (p.author_id is null or p.author_id <> $1)");
        }
        sql.push(&format!(" order by {at} desc, {id} desc limit "))
            .int(limit);
        sql.push(&format!(") s{i}"));
    }
}

/// Marks the home timeline read up to now.
pub async fn mark_home_read(state: &AppState, caller: &Caller) -> AppResult<()> {
    sqlx::query(
        "insert into timeline_reads (user_id, read_at) values ($1, $2) \
         on conflict (user_id) do update set read_at = excluded.read_at",
    )
    .bind(caller.me.id.as_str())
    .bind(state.clock.now_ms())
    .execute(state.db.pool())
    .await?;
    Ok(())
}

/// Turns rows of [`POST_COLUMNS`] into a page (one row beyond the page
/// says there is a next one).
async fn page(
    db: &Db,
    caller: &Caller,
    mut rows: Vec<db::Row>,
    unread: i64,
    read_at: Option<i64>,
) -> AppResult<Timeline> {
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    let posts = posts_of(db, caller, &rows, read_at).await?;
    let next = if more {
        rows.last()
            .map(|r| -> AppResult<String> {
                Ok(Cursor::text(
                    r.try_get("created_at")?,
                    &r.try_get::<String, _>("id")?,
                ))
            })
            .transpose()?
    } else {
        None
    };
    Ok(Timeline {
        posts,
        next,
        unread,
        trimmed: false,
    })
}

/// Posts from rows of [`POST_COLUMNS`], with their mentions.
pub(super) async fn posts_of(
    db: &Db,
    caller: &Caller,
    rows: &[db::Row],
    read_at: Option<i64>,
) -> AppResult<Vec<PostView>> {
    let ids: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String, _>("id"))
        .collect::<Result<_, _>>()?;
    let mentions = mentions_of(db, &ids).await?;
    let mut photos = photos_of(db, &ids).await?;
    let me = caller.me.id.as_str();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id: String = r.try_get("id")?;
        let place = Place {
            organization_id: r.try_get("organization_id")?,
            campus_id: Some(r.try_get("campus_id")?),
            pantry_id: Some(r.try_get("pantry_id")?),
        };
        let manager = caller.role_at(&place) >= Some(Role::Manager);
        let author_id: Option<String> = r.try_get("author_id")?;
        let mine = author_id.as_deref() == Some(me);
        let created_at: i64 = r.try_get("created_at")?;
        let zone = Zone::stored(&r.try_get::<String, _>("zone")?);
        let kind =
            PostKind::parse(&r.try_get::<String, _>("kind")?).unwrap_or(PostKind::Announcement);
        out.push(PostView {
            pantry: PantryId::from_stored(r.try_get("pantry_id")?),
            pantry_name: r.try_get("pantry_name")?,
            author: match author_id {
                Some(a) => Some(Person {
                    id: UserId::from_stored(a),
                    name: r.try_get("author_name")?,
                    avatar: r
                        .try_get::<Option<String>, _>("author_avatar")?
                        .map(PhotoId::from_stored),
                }),
                None => None,
            },
            kind,
            body: r.try_get("body")?,
            mentions: mentions.get(&id).cloned().unwrap_or_default(),
            event_on: r.try_get("event_on")?,
            photos: photos.remove(&id).unwrap_or_default(),
            at: zone.format(created_at),
            edited: r.try_get::<Option<i64>, _>("edited_at")?.is_some(),
            likes: r.try_get("likes")?,
            liked: r.try_get::<i64, _>("liked")? > 0,
            comments: r.try_get("comments")?,
            can_edit: mine,
            can_delete: mine || manager,
            unread: read_at.is_some_and(|t| created_at > t) && !mine,
            id: PostId::from_stored(id),
        });
    }
    Ok(out)
}

/// The photos of posts, in order, by post id.
async fn photos_of(
    db: &Db,
    ids: &[String],
) -> AppResult<std::collections::HashMap<String, Vec<PhotoId>>> {
    let mut out: std::collections::HashMap<String, Vec<PhotoId>> = Default::default();
    if ids.is_empty() {
        return Ok(out);
    }
    let mut sql = db::Sql::default();
    sql.push("select post_id, photo_id from post_photos where post_id in ")
        .text_list(ids)
        .push(" order by post_id, position");
    for r in sql.query().fetch_all(db.pool()).await? {
        out.entry(r.try_get("post_id")?)
            .or_default()
            .push(PhotoId::from_stored(r.try_get("photo_id")?));
    }
    Ok(out)
}

/// The mentions of posts or comments, by their id.
async fn mentions_of(
    db: &Db,
    ids: &[String],
) -> AppResult<std::collections::HashMap<String, Vec<(String, UserId)>>> {
    let mut out: std::collections::HashMap<String, Vec<(String, UserId)>> = Default::default();
    if ids.is_empty() {
        return Ok(out);
    }
    let mut sql = db::Sql::default();
    sql.push("select source_id, token, user_id from mentions where source_id in ")
        .text_list(ids);
    for r in sql.query().fetch_all(db.pool()).await? {
        out.entry(r.try_get("source_id")?).or_default().push((
            r.try_get("token")?,
            UserId::from_stored(r.try_get("user_id")?),
        ));
    }
    Ok(out)
}

/// A post with its comments and replies, oldest first.
pub async fn thread(state: &AppState, caller: &Caller, post: &PostId) -> AppResult<Thread> {
    let (_, access) = readable_post(&state.db, caller, post).await?;
    let me = caller.me.id.as_str();
    let row = sqlx::query(&format!(
        "select {POST_COLUMNS} from posts p {POST_JOINS} where p.id = $2"
    ))
    .bind(me)
    .bind(post.as_str())
    .fetch_one(state.db.pool())
    .await?;
    let post_view = posts_of(&state.db, caller, std::slice::from_ref(&row), None)
        .await?
        .remove(0);
    let rows = sqlx::query(&format!(
        "select c.id, c.parent_id, c.author_id, u.display_name, c.body, c.created_at, c.edited_at, \
         (select pr.avatar_photo_id from profiles pr where pr.user_id = c.author_id) as avatar, \
         (select count(*) from likes l where l.target_id = c.id) as likes, \
         (select count(*) from likes l where l.target_id = c.id and l.user_id = $1) as liked \
         from comments c join users u on u.id = c.author_id \
         where c.post_id = $2 and c.deleted_at is null and not exists (select 1 from blocks b where \
         (b.blocker_id = $1 and b.blocked_id = c.author_id) or (b.blocker_id = c.author_id and b.blocked_id = $1)) \
         order by c.created_at, c.id limit 500"
    ))
    .bind(me)
    .bind(post.as_str())
    .fetch_all(state.db.pool())
    .await?;
    let ids: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String, _>("id"))
        .collect::<Result<_, _>>()?;
    let mentions = mentions_of(&state.db, &ids).await?;
    let zone = Zone::stored(&access.pantry.time_zone);
    let manager = access.can_manage();
    let mut comments: Vec<CommentView> = Vec::new();
    let mut replies: Vec<(String, CommentView)> = Vec::new();
    for r in &rows {
        let id: String = r.try_get("id")?;
        let author: String = r.try_get("author_id")?;
        let view = CommentView {
            can_delete: manager || author == me,
            author: Person {
                id: UserId::from_stored(author),
                name: r.try_get("display_name")?,
                avatar: r
                    .try_get::<Option<String>, _>("avatar")?
                    .map(PhotoId::from_stored),
            },
            body: r.try_get("body")?,
            mentions: mentions.get(&id).cloned().unwrap_or_default(),
            at: zone.format(r.try_get("created_at")?),
            edited: r.try_get::<Option<i64>, _>("edited_at")?.is_some(),
            likes: r.try_get("likes")?,
            liked: r.try_get::<i64, _>("liked")? > 0,
            replies: vec![],
            id: CommentId::from_stored(id),
        };
        match r.try_get::<Option<String>, _>("parent_id")? {
            Some(parent) => replies.push((parent, view)),
            None => comments.push(view),
        }
    }
    for (parent, reply) in replies {
        if let Some(c) = comments.iter_mut().find(|c| c.id.as_str() == parent) {
            c.replies.push(reply);
        }
    }
    Ok(Thread {
        post: post_view,
        comments,
    })
}
