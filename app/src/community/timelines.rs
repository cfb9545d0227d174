//! The consumer that keeps home timelines: fan-out on write. A published
//! post gets a row in the home timeline of each follower of its pantry or
//! its author (unless a block stands between them); following brings in
//! what was already posted; unfollowing, blocking and removing a post take
//! rows out. Whether the reader may read the pantry's timeline is asked
//! when the timeline is read, not here: a pantry that opens its timeline
//! later shows its followers everything at once.
//!
//! A pantry with more followers than the limit is fanned out on read: its
//! new posts are marked so, written only to the rows of the author's
//! followers, and every home timeline read merges in the marked posts of
//! the pantries the reader follows ([`super::reads::home`]).
//!
//! Every statement is an insert that ignores rows already there or a
//! delete that looks at the follows as they are now, so a redelivered
//! event changes nothing and events handled in log order always arrive
//! at the same timeline the follows and posts describe.

use super::service::UNBLOCKED;
use crate::db::Tx;
use crate::events::bus::{BoxFuture, Consumer, Delivery, Durability};
use crate::events::domain::DomainEvent;
use crate::events::store::Event;

pub struct Timelines {
    /// Active followers above which a pantry's new posts are read from
    /// the pantry when a home timeline is read (fan-out on read) instead
    /// of written into each follower's rows.
    pub fanout_limit: i64,
    /// Rows a home timeline keeps: a new follow brings in at most this
    /// many of the target's posts.
    pub keep: i64,
}

impl Consumer for Timelines {
    fn name(&self) -> &'static str {
        "timelines"
    }

    fn durability(&self) -> Durability {
        Durability::Durable
    }

    fn handle<'a>(
        &'a self,
        event: &'a Event,
        delivery: &'a mut Delivery,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let Ok(domain) = event.domain() else {
                return Ok(());
            };
            let relevant = matches!(
                domain,
                DomainEvent::PostPublished(_)
                    | DomainEvent::PostDeleted(_)
                    | DomainEvent::Followed(_)
                    | DomainEvent::FollowAccepted(_)
                    | DomainEvent::Unfollowed(_)
                    | DomainEvent::PersonBlocked(_)
                    | DomainEvent::PersonUnblocked(_)
            );
            if !relevant {
                return Ok(());
            }
            let tx = delivery.tx().await?;
            apply(tx, domain, self.fanout_limit, self.keep)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

async fn apply(tx: &mut Tx, event: &DomainEvent, limit: i64, keep: i64) -> Result<(), sqlx::Error> {
    match event {
        DomainEvent::PostPublished(p) => fan_out(tx, &p.post_id, limit).await,
        DomainEvent::PostDeleted(p) => {
            sqlx::query("delete from timeline_entries where post_id = $1")
                .bind(&p.post_id)
                .execute(&mut **tx)
                .await
                .map(drop)
        }
        DomainEvent::Followed(f) | DomainEvent::FollowAccepted(f) if f.status == "active" => {
            backfill(tx, &f.follower_id, &f.target_id, &f.target_kind, keep).await
        }
        DomainEvent::Unfollowed(f) => prune(tx, &f.follower_id, &f.target_id).await,
        DomainEvent::PersonBlocked(b) => {
            sqlx::query(
                "delete from timeline_entries where (user_id = $1 and post_id in (select id from posts where author_id = $2)) \
                 or (user_id = $2 and post_id in (select id from posts where author_id = $1))",
            )
            .bind(&b.blocker_id)
            .bind(&b.blocked_id)
            .execute(&mut **tx)
            .await
            .map(drop)
        }
        DomainEvent::PersonUnblocked(b) => {
            // Their posts on pantries each follows come back (the block
            // ended any follow between the two people themselves).
            for (reader, author) in [(&b.blocker_id, &b.blocked_id), (&b.blocked_id, &b.blocker_id)] {
                sqlx::query(&format!(
                    "insert into timeline_entries (user_id, post_id, created_at) \
                     select $1, p.id, p.created_at from posts p where p.author_id = $2 and p.deleted_at is null \
                     and p.fanned_on_read = 0 and exists (select 1 from follows f where f.follower_id = $1 \
                     and f.status = 'active' and f.target_id = p.pantry_id) and {UNBLOCKED} on conflict do nothing"
                ))
                .bind(reader)
                .bind(author)
                .execute(&mut **tx)
                .await?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The post into the home timeline of its author and of every active
/// follower of its pantry or its author.
async fn fan_out(tx: &mut Tx, post: &str, limit: i64) -> Result<(), sqlx::Error> {
    let row: Option<(String, Option<String>, i64)> = sqlx::query_as(
        "select pantry_id, author_id, created_at from posts where id = $1 and deleted_at is null",
    )
    .bind(post)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((pantry, author, created_at)) = row else {
        return Ok(());
    };
    let followers: i64 = sqlx::query_scalar(
        "select count(*) from follows where target_id = $1 and status = 'active'",
    )
    .bind(&pantry)
    .fetch_one(&mut **tx)
    .await?;
    let on_read = followers > limit;
    if on_read {
        sqlx::query("update posts set fanned_on_read = 1 where id = $1")
            .bind(post)
            .execute(&mut **tx)
            .await?;
    }
    // Larder's own posts have no author: the pantry stands in for it.
    let author = author.unwrap_or_else(|| pantry.clone());
    // The followers of the pantry (unless it is read on read) and of the
    // author: one index range per target (follows_target), each once.
    let insert = |targets: &str, author: &str| {
        format!(
            "insert into timeline_entries (user_id, post_id, created_at) \
             select distinct f.follower_id, cast($1 as text), cast($2 as bigint) from follows f \
             where f.target_id in {targets} and f.status = 'active' \
             and not exists (select 1 from blocks b where (b.blocker_id = f.follower_id and b.blocked_id = {author}) \
               or (b.blocker_id = {author} and b.blocked_id = f.follower_id)) \
             on conflict do nothing"
        )
    };
    if on_read {
        sqlx::query(&insert("($3)", "$3"))
            .bind(post)
            .bind(created_at)
            .bind(&author)
            .execute(&mut **tx)
            .await?;
    } else {
        sqlx::query(&insert("($3, $4)", "$4"))
            .bind(post)
            .bind(created_at)
            .bind(&pantry)
            .bind(&author)
            .execute(&mut **tx)
            .await?;
    }
    if author != pantry {
        sqlx::query(
            "insert into timeline_entries (user_id, post_id, created_at) values ($1, $2, $3) on conflict do nothing",
        )
        .bind(&author)
        .bind(post)
        .bind(created_at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// What the follower now follows: the target's posts.
async fn backfill(
    tx: &mut Tx,
    follower: &str,
    target: &str,
    kind: &str,
    keep: i64,
) -> Result<(), sqlx::Error> {
    // A pantry's posts fanned out on read come in when the timeline is
    // read; its others are written here.
    let (column, read) = if kind == "pantry" {
        ("pantry_id", "and p.fanned_on_read = 0")
    } else {
        ("author_id", "")
    };
    sqlx::query(&format!(
        "insert into timeline_entries (user_id, post_id, created_at) \
         select $1, p.id, p.created_at from posts p where p.{column} = $2 and p.deleted_at is null {read} \
         and {UNBLOCKED} order by p.created_at desc, p.id desc limit $3 on conflict do nothing"
    ))
    .bind(follower)
    .bind(target)
    .bind(keep)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Takes out the target's posts that nothing else the follower follows
/// (nor their own authorship) keeps in their timeline.
async fn prune(tx: &mut Tx, follower: &str, target: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "delete from timeline_entries where user_id = $1 and post_id in ( \
         select p.id from posts p where (p.pantry_id = $2 or p.author_id = $2) \
         and (p.author_id is null or p.author_id <> $1) \
         and not exists (select 1 from follows f where f.follower_id = $1 and f.status = 'active' \
           and (f.target_id = p.pantry_id or f.target_id = p.author_id)))",
    )
    .bind(follower)
    .bind(target)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
