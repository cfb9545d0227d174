//! Photos on posts (up to four) and avatars. The browser optimizes a photo
//! and uploads it on its own; the server checks and strips it through the
//! photo pipeline (`photos::service::store_checked`) and keeps it as its
//! uploader's until a post or their profile uses it. A photo is used once.
//! A post's photos are shown to whoever may read the post. An avatar goes
//! with its person's name wherever that shows (on posts and comments read
//! on opened timelines too), so like the name it is shown to everyone
//! signed in except across a block; the profile's setting covers the bio,
//! roles and posts. One never used is removed a day after its upload.

use sqlx::Row as _;

use super::model::MAX_POST_PHOTOS;
use super::service::{blocked, readable_post};
use crate::auth::service::Caller;
use crate::db::Tx;
use crate::error::{AppError, AppResult};
use crate::ids::{PhotoId, PostId};
use crate::photos::model::Uploaded;
use crate::photos::service::{self as pipeline, Rendition, StoredPicture};
use crate::state::AppState;

/// Photos one person may have uploaded and not used yet.
pub const MAX_UNUSED: i64 = 20;

/// How long an unused photo is kept.
pub const UNUSED_FOR_MS: i64 = 24 * 60 * 60 * 1000;

/// `c` (a `community_photos` row) is used by a post or as an avatar.
const USED: &str = "(exists (select 1 from post_photos pp where pp.photo_id = c.id) \
     or exists (select 1 from profiles pr where pr.avatar_photo_id = c.id))";

/// Checks and stores a photo for the caller's next post or avatar.
pub async fn upload(state: &AppState, caller: &Caller, bytes: Vec<u8>) -> AppResult<Uploaded> {
    let me = caller.me.id.as_str();
    forget_unused(state, me).await?;
    let waiting: i64 = sqlx::query_scalar(&format!(
        "select count(*) from community_photos c where c.owner_id = $1 and not {USED}"
    ))
    .bind(me)
    .fetch_one(state.db.pool())
    .await?;
    if waiting >= MAX_UNUSED {
        return Err(AppError::invalid(
            "photo",
            format!(
                "You have {waiting} photos that no post uses yet. Post them, or wait a day: unused photos are removed after a day."
            ),
        ));
    }
    let picture =
        pipeline::store_checked(state, bytes, &format!("community/{me}"), PhotoId::new()).await?;
    if let Err(e) = save(state, me, &picture).await {
        pipeline::discard(state, &picture).await;
        return Err(e);
    }
    Ok(picture.uploaded())
}

async fn save(state: &AppState, me: &str, p: &StoredPicture) -> AppResult<()> {
    sqlx::query(
        "insert into community_photos (id, owner_id, media_type, width, height, bytes, sha256, \
         original_key, thumbnail_key, uploaded_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(p.id.as_str())
    .bind(me)
    .bind(p.media.mime())
    .bind(p.width as i64)
    .bind(p.height as i64)
    .bind(p.bytes)
    .bind(&p.sha256)
    .bind(&p.original_key)
    .bind(&p.thumbnail_key)
    .bind(state.clock.now_ms())
    .execute(state.db.pool())
    .await?;
    Ok(())
}

/// Removes the person's photos no post or profile took within a day:
/// rows first (a photo is only ever taken while it is younger than that,
/// see [`take`]), then files.
async fn forget_unused(state: &AppState, me: &str) -> AppResult<()> {
    let before = state.clock.now_ms() - UNUSED_FOR_MS;
    let rows = sqlx::query(&format!(
        "delete from community_photos where id in (select c.id from community_photos c \
         where c.owner_id = $1 and c.uploaded_at < $2 and not {USED}) \
         returning original_key, thumbnail_key"
    ))
    .bind(me)
    .bind(before)
    .fetch_all(state.db.pool())
    .await?;
    for r in rows {
        for key in ["original_key", "thumbnail_key"] {
            let key: String = r.try_get(key)?;
            let _ = state.photos.store.delete(&key).await;
        }
    }
    Ok(())
}

/// The photos a post form names: ids separated by spaces or commas, at
/// most [`MAX_POST_PHOTOS`], each once.
pub fn parse_list(text: &str) -> AppResult<Vec<PhotoId>> {
    let mut out: Vec<PhotoId> = Vec::new();
    for part in text.split([' ', ',']).filter(|p| !p.is_empty()) {
        let id: PhotoId = part.parse().map_err(|_| {
            AppError::invalid(
                "photos",
                "One of the photos is not a photo this page added.",
            )
        })?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    if out.len() > MAX_POST_PHOTOS {
        return Err(AppError::invalid(
            "photos",
            format!("A post holds at most {MAX_POST_PHOTOS} photos."),
        ));
    }
    Ok(out)
}

/// Checks, in the transaction that uses it, that a photo is the caller's,
/// unused and younger than a day (so the clean-up cannot take it away).
async fn take(tx: &mut Tx, state: &AppState, me: &str, photo: &PhotoId) -> AppResult<()> {
    let n: i64 = sqlx::query_scalar(&format!(
        "select count(*) from community_photos c where c.id = $1 and c.owner_id = $2 \
         and c.uploaded_at >= $3 and not {USED}"
    ))
    .bind(photo.as_str())
    .bind(me)
    .bind(state.clock.now_ms() - UNUSED_FOR_MS + 60_000)
    .fetch_one(&mut **tx)
    .await?;
    if n == 0 {
        return Err(AppError::invalid(
            "photos",
            "A photo was already used, removed, or is not yours; add it again.",
        ));
    }
    Ok(())
}

/// Gives a new post its photos, in order.
pub(super) async fn attach(
    tx: &mut Tx,
    state: &AppState,
    me: &str,
    post: &PostId,
    photos: &[PhotoId],
) -> AppResult<()> {
    for (position, photo) in photos.iter().enumerate() {
        take(tx, state, me, photo).await?;
        sqlx::query("insert into post_photos (post_id, position, photo_id) values ($1, $2, $3)")
            .bind(post.as_str())
            .bind(position as i64)
            .bind(photo.as_str())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Sets (or, with an empty `photo`, takes away) the caller's avatar. The
/// one it replaces is unused from then on and goes with the clean-up.
pub async fn set_avatar(state: &AppState, caller: &Caller, photo: &str) -> AppResult<()> {
    let me = caller.me.id.as_str();
    let photo = match photo.trim() {
        "" => None,
        p => Some(
            p.parse::<PhotoId>()
                .map_err(|_| AppError::invalid("avatar", "That is not a photo this page added."))?,
        ),
    };
    let mut tx = state.db.begin().await?;
    if let Some(p) = &photo {
        take(&mut tx, state, me, p)
            .await
            .map_err(|_| AppError::invalid("avatar", "Add the photo again, then save."))?;
    }
    sqlx::query(
        "insert into profiles (user_id, avatar_photo_id, updated_at) values ($1, $2, $3) \
         on conflict (user_id) do update set avatar_photo_id = excluded.avatar_photo_id, \
         updated_at = excluded.updated_at",
    )
    .bind(me)
    .bind(photo.as_ref().map(|p| p.as_str()))
    .bind(state.clock.now_ms())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A photo's file, for its uploader, a reader of its post, or (an
/// avatar) anyone neither blocking nor blocked by its person. Anyone else
/// is told it does not exist.
pub async fn file(
    state: &AppState,
    caller: &Caller,
    photo: &PhotoId,
    rendition: Rendition,
) -> AppResult<(Vec<u8>, &'static str)> {
    let row = sqlx::query(
        "select c.owner_id, c.media_type, c.original_key, c.thumbnail_key, \
         (select pp.post_id from post_photos pp where pp.photo_id = c.id) as post_id, \
         (select count(*) from profiles pr where pr.avatar_photo_id = c.id) as avatar \
         from community_photos c where c.id = $1",
    )
    .bind(photo.as_str())
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(|| AppError::not_found("photo"))?;
    let me = caller.me.id.as_str();
    let owner: String = row.try_get("owner_id")?;
    let post: Option<String> = row.try_get("post_id")?;
    let avatar = row.try_get::<i64, _>("avatar")? > 0;
    let allowed = if owner == me {
        true
    } else if let Some(post) = post {
        readable_post(&state.db, caller, &PostId::from_stored(post))
            .await
            .is_ok()
    } else {
        avatar && !blocked(&state.db, me, &owner).await?
    };
    if !allowed {
        return Err(AppError::not_found("photo"));
    }
    pipeline::read_rendition(state, &row, rendition).await
}
