//! What the community's events tell people: a comment on their post, a
//! reply to their comment, a mention, a new follower or a request, and
//! likes (one notification per liked post or comment, kept up to date, so
//! a busy post does not bury the centre). Removing a post or a comment
//! removes the notifications about it.
//!
//! Each person is told once per event (the notifier's (person, source)
//! key), so a redelivered event never notifies twice; the likes count is
//! read from the likes themselves, so a redelivered like counts once.

use super::model::Kind;
use super::notifier::{deliver, Notice};
use crate::db::Tx;
use crate::events::domain::DomainEvent;
use crate::events::store::Event;
use crate::ids::NotificationId;

/// Longest quotation of a comment or post in a notification.
const QUOTE_CHARS: usize = 140;

pub fn concerns(event: &DomainEvent) -> bool {
    use DomainEvent::*;
    matches!(
        event,
        PostPublished(_)
            | PostEdited(_)
            | PostDeleted(_)
            | PostReported(_)
            | ReportsDismissed(_)
            | CommentAdded(_)
            | CommentDeleted(_)
            | Liked(_)
            | Followed(_)
    )
}

pub async fn handle(tx: &mut Tx, event: &Event, domain: &DomainEvent) -> Result<(), sqlx::Error> {
    // People-only events are filed under the actor's organization; one
    // who belongs to none has no notification centre to file them in.
    if event.organization_id.is_empty() {
        return Ok(());
    }
    let actor = event.actor_id.clone().unwrap_or_default();
    let name = name_of(tx, &actor).await?;
    match domain {
        DomainEvent::PostPublished(p) | DomainEvent::PostEdited(p) => {
            let link = format!("/posts/{}", p.post_id);
            let body = quote(
                tx,
                "select body from posts where id = $1 and deleted_at is null",
                &p.post_id,
            )
            .await?;
            let Some(body) = body else { return Ok(()) };
            let to = others(&p.mentioned, &actor, &[]);
            tell(
                tx,
                event,
                Kind::Mention,
                to,
                format!("{name} mentioned you in a post"),
                body,
                link,
                &p.pantry_id,
            )
            .await
        }
        DomainEvent::CommentAdded(c) => {
            let link = format!("/posts/{}#comment-{}", c.post_id, c.comment_id);
            let body = quote(
                tx,
                "select body from comments where id = $1 and deleted_at is null",
                &c.comment_id,
            )
            .await?;
            let Some(body) = body else { return Ok(()) };
            // A person named in several ways hears the most direct one.
            let replied: Vec<String> = c
                .parent_author_id
                .iter()
                .chain(&c.thread_author_id)
                .cloned()
                .collect();
            let replied = others(&replied, &actor, &[]);
            let mentioned = others(&c.mentioned, &actor, &replied);
            let told: Vec<String> = replied.iter().chain(&mentioned).cloned().collect();
            let commented = others(
                &c.post_author_id.iter().cloned().collect::<Vec<_>>(),
                &actor,
                &told,
            );
            tell(
                tx,
                event,
                Kind::Reply,
                replied,
                format!("{name} replied to your comment"),
                body.clone(),
                link.clone(),
                &c.pantry_id,
            )
            .await?;
            tell(
                tx,
                event,
                Kind::Mention,
                mentioned,
                format!("{name} mentioned you in a comment"),
                body.clone(),
                link.clone(),
                &c.pantry_id,
            )
            .await?;
            tell(
                tx,
                event,
                Kind::Comment,
                commented,
                format!("{name} commented on your post"),
                body,
                link,
                &c.pantry_id,
            )
            .await
        }
        DomainEvent::PostDeleted(p) => {
            sqlx::query("delete from notifications where link = $1 or link like $2")
                .bind(format!("/posts/{}", p.post_id))
                .bind(format!("/posts/{}#%", p.post_id))
                .execute(&mut **tx)
                .await
                .map(drop)
        }
        DomainEvent::PostReported(p) => {
            // The pantry's managers decide whether it stays; who reported
            // it is not said.
            let pantry: Option<String> =
                sqlx::query_scalar("select name from pantries where id = $1")
                    .bind(&p.pantry_id)
                    .fetch_optional(&mut **tx)
                    .await?;
            let notice = Notice {
                kind: Kind::PostReport,
                title: format!(
                    "A post on the timeline of {} was reported",
                    pantry.unwrap_or_else(|| "your pantry".into())
                ),
                body: "Open it to read it and decide whether it stays.".into(),
                link: format!("/posts/{}", p.post_id),
                pantry: Some(p.pantry_id.clone()),
                admins_only: false,
                to: None,
            };
            deliver(tx, event, &notice).await
        }
        // Reviewed: the managers' notices of it are done with.
        DomainEvent::ReportsDismissed(p) => {
            sqlx::query("delete from notifications where kind = 'post_report' and link = $1")
                .bind(format!("/posts/{}", p.post_id))
                .execute(&mut **tx)
                .await
                .map(drop)
        }
        DomainEvent::CommentDeleted(c) => sqlx::query("delete from notifications where link = $1")
            .bind(format!("/posts/{}#comment-{}", c.post_id, c.comment_id))
            .execute(&mut **tx)
            .await
            .map(drop),
        DomainEvent::Followed(f) if f.target_kind == "person" => {
            let (title, link) = if f.status == "requested" {
                (
                    format!("{name} asks to follow you"),
                    "/community/people".to_string(),
                )
            } else {
                (
                    format!("{name} now follows you"),
                    format!("/people/{}", f.follower_id),
                )
            };
            let body = "Open their profile to see who they are.".to_string();
            let notice = Notice {
                kind: Kind::NewFollower,
                title,
                body,
                link,
                pantry: None,
                admins_only: false,
                to: Some(vec![f.target_id.clone()]),
            };
            deliver(tx, event, &notice).await
        }
        DomainEvent::Liked(l) => likes(tx, event, l).await,
        _ => Ok(()),
    }
}

/// The people in `list`, but not the actor nor anyone in `told`.
fn others(list: &[String], actor: &str, told: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in list {
        if p != actor && !told.contains(p) && !out.contains(p) {
            out.push(p.clone());
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
async fn tell(
    tx: &mut Tx,
    event: &Event,
    kind: Kind,
    to: Vec<String>,
    title: String,
    body: String,
    link: String,
    pantry: &str,
) -> Result<(), sqlx::Error> {
    if to.is_empty() {
        return Ok(());
    }
    let notice = Notice {
        kind,
        title,
        body,
        link,
        pantry: Some(pantry.to_string()),
        admins_only: false,
        to: Some(to),
    };
    deliver(tx, event, &notice).await
}

async fn name_of(tx: &mut Tx, person: &str) -> Result<String, sqlx::Error> {
    let name: Option<String> = sqlx::query_scalar("select display_name from users where id = $1")
        .bind(person)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(name.unwrap_or_else(|| "Someone".into()))
}

/// The start of a text, from `sql` with `$1` = id; none if it is gone.
async fn quote(tx: &mut Tx, sql: &str, id: &str) -> Result<Option<String>, sqlx::Error> {
    let text: Option<String> = sqlx::query_scalar(sql)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(text.map(|t| {
        let t = t.replace('\n', " ");
        if t.chars().count() > QUOTE_CHARS {
            format!("{}…", t.chars().take(QUOTE_CHARS).collect::<String>())
        } else {
            t
        }
    }))
}

/// One in-app notification per liked post or comment, its count read from
/// the likes: "Sam and 2 others liked your post". Unread again when a new
/// like comes. Likes are not pushed one by one.
async fn likes(
    tx: &mut Tx,
    event: &Event,
    l: &crate::community::service::Liked,
) -> Result<(), sqlx::Error> {
    let Some(author) = l.author_id.as_deref().filter(|a| *a != l.liker_id) else {
        return Ok(());
    };
    let channel: Option<String> = sqlx::query_scalar(
        "select channel from notification_preferences where user_id = $1 and kind = 'likes'",
    )
    .bind(author)
    .fetch_optional(&mut **tx)
    .await?;
    if channel
        .as_deref()
        .and_then(super::model::Channel::parse)
        .is_some_and(|c| !c.in_app())
    {
        return Ok(());
    }
    let likers: Vec<String> = sqlx::query_scalar(
        "select u.display_name from likes l join users u on u.id = l.user_id \
         where l.target_id = $1 and l.user_id <> $2 order by l.created_at desc, l.user_id limit 1",
    )
    .bind(&l.target_id)
    .bind(author)
    .fetch_all(&mut **tx)
    .await?;
    let count: i64 =
        sqlx::query_scalar("select count(*) from likes where target_id = $1 and user_id <> $2")
            .bind(&l.target_id)
            .bind(author)
            .fetch_one(&mut **tx)
            .await?;
    let Some(latest) = likers.first() else {
        return Ok(());
    };
    let what = if l.target_id == l.post_id {
        "post"
    } else {
        "comment"
    };
    let title = match count {
        1 => format!("{latest} liked your {what}"),
        2 => format!("{latest} and 1 other liked your {what}"),
        n => format!("{latest} and {} others liked your {what}", n - 1),
    };
    let link = if l.target_id == l.post_id {
        format!("/posts/{}", l.post_id)
    } else {
        format!("/posts/{}#comment-{}", l.post_id, l.target_id)
    };
    let source = format!("likes:{}", l.target_id);
    sqlx::query(
        "insert into notifications (id, user_id, organization_id, pantry_id, kind, title, body, link, source, created_at) \
         values ($1, $2, $3, $4, 'likes', $5, '', $6, $7, $8) \
         on conflict (user_id, source) do update set title = excluded.title, created_at = excluded.created_at, read_at = null \
         where notifications.created_at < excluded.created_at",
    )
    .bind(NotificationId::new().as_str())
    .bind(author)
    .bind(&event.organization_id)
    .bind(&event.pantry_id)
    .bind(&title)
    .bind(&link)
    .bind(&source)
    .bind(event.occurred_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
