//! Reviewing reported posts: a pantry's managers see the posts people
//! reported on its timeline (how many reports, their reasons, never who
//! made them) and either delete the post or dismiss its reports, which
//! keeps it and closes them.

use sqlx::Row as _;

use super::model::ReportedPost;
use super::service::{append_post_event, pantry_access, readable_post};
use crate::auth::service::Caller;
use crate::error::{AppError, AppResult};
use crate::events::domain::DomainEvent;
use crate::ids::{PantryId, PostId};
use crate::state::AppState;
use crate::zones::Zone;

/// Longest excerpt of a reported post in the list.
const EXCERPT_CHARS: usize = 160;

/// Reported posts waiting for the pantry's managers, most reported first.
pub async fn reported(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
) -> AppResult<Vec<ReportedPost>> {
    let access = pantry_access(&state.db, caller, pantry).await?;
    if !access.can_manage() {
        return Err(AppError::forbidden());
    }
    let rows = sqlx::query(
        "select p.id, p.body, u.display_name as author, count(*) as reports, max(r.created_at) as last_at \
         from post_reports r join posts p on p.id = r.post_id left join users u on u.id = p.author_id \
         where p.pantry_id = $1 and p.deleted_at is null and r.dismissed_at is null \
         group by p.id, p.body, u.display_name order by count(*) desc, max(r.created_at) desc limit 100",
    )
    .bind(pantry.as_str())
    .fetch_all(state.db.pool())
    .await?;
    let zone = Zone::stored(&access.pantry.time_zone);
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id: String = r.try_get("id")?;
        let reasons: Vec<String> = sqlx::query_scalar(
            "select reason from post_reports where post_id = $1 and dismissed_at is null order by created_at",
        )
        .bind(&id)
        .fetch_all(state.db.pool())
        .await?;
        let body: String = r.try_get("body")?;
        let mut excerpt: String = body.chars().take(EXCERPT_CHARS).collect();
        if body.chars().count() > EXCERPT_CHARS {
            excerpt.push('…');
        }
        out.push(ReportedPost {
            post: PostId::from_stored(id),
            excerpt,
            author: r
                .try_get::<Option<String>, _>("author")?
                .unwrap_or_else(|| "Larder".into()),
            reports: r.try_get("reports")?,
            reasons,
            last_at: zone.format(r.try_get("last_at")?),
        });
    }
    Ok(out)
}

/// Keeps a reported post: its open reports are closed, and the managers'
/// notifications about it go.
pub async fn dismiss(state: &AppState, caller: &Caller, post: &PostId) -> AppResult<()> {
    let (stored, access) = readable_post(&state.db, caller, post).await?;
    if !access.can_manage() {
        return Err(AppError::forbidden());
    }
    let mut tx = state.db.begin().await?;
    let closed = sqlx::query(
        "update post_reports set dismissed_at = $1 where post_id = $2 and dismissed_at is null",
    )
    .bind(state.clock.now_ms())
    .bind(post.as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if closed == 0 {
        return Err(AppError::conflict(
            "post",
            "This post has no open reports; someone reviewed it already.",
        ));
    }
    let target = (post, &stored, &access);
    append_post_event(
        &mut tx,
        state,
        caller,
        target,
        DomainEvent::ReportsDismissed,
        vec![],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
