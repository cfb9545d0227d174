//! Opening an intake and the life of its photos' files: an upload waits
//! for room, is checked and stored with its thumbnail, its row and event;
//! a photo is served to those who may see it, and removed while its intake
//! is open.

use sha2::Digest as _;
use sqlx::Row as _;

use crate::auth::model::Role;
use crate::auth::service::Caller;
use crate::db::Backend;
use crate::error::{AppError, AppResult};
use crate::events::domain::DomainEvent;
use crate::events::store::{self as events, NewEvent};
use crate::ids::{IntakeId, PantryId, PhotoId};
use crate::inventory::model::parse_text;
use crate::inventory::service::{self as inventory, Actor};
use crate::photos::model::*;
use crate::photos::picture::{self};
use crate::state::AppState;

use super::{intake_for, IntakeRow, Photos, IN_FLIGHT_KIB, IN_FLIGHT_WAIT, MAX_PHOTOS};

/// The longest edge of a thumbnail, in pixels.
const THUMBNAIL_EDGE: u32 = 480;

/// Room for an upload body of `bytes` among those being received: waits
/// up to [`IN_FLIGHT_WAIT`], then answers 503 with `Retry-After`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn room_for_upload(
    photos: &Photos,
    bytes: usize,
) -> AppResult<tokio::sync::OwnedSemaphorePermit> {
    let kib = bytes.div_ceil(1024).clamp(1, IN_FLIGHT_KIB) as u32;
    match tokio::time::timeout(
        IN_FLIGHT_WAIT,
        photos.in_flight.clone().acquire_many_owned(kib),
    )
    .await
    {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(e)) => Err(AppError::internal(&e)),
        Err(_) => Err(AppError::Busy {
            message:
                "Many photos are being uploaded right now; this one will be sent again in a moment."
                    .into(),
            retry_after_secs: 5,
        }),
    }
}

/// Opens an intake at a pantry: staff photograph a donation into it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_intake(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    donor: &str,
) -> AppResult<IntakeId> {
    let (header, place) = inventory::pantry_header(&state.db, pantry).await?;
    caller.require(&place, Role::Staff, "pantry")?;
    let donor = parse_text(donor, "donor", 120)?;
    let id = IntakeId::new();
    sqlx::query(
        "insert into intakes (id, organization_id, pantry_id, donor, status, created_by, created_at) \
         values ($1, $2, $3, $4, 'open', $5, $6)",
    )
    .bind(id.as_str())
    .bind(header.organization_id.as_str())
    .bind(header.id.as_str())
    .bind(donor)
    .bind(caller.me.id.as_str())
    .bind(state.clock.now_ms())
    .execute(state.db.pool())
    .await?;
    Ok(id)
}

/// Refuses an upload before its body is read: the caller must be staff at
/// the intake's pantry and the intake still open.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn may_upload(state: &AppState, caller: &Caller, intake: &IntakeId) -> AppResult<()> {
    let (row, _) = intake_for(state, caller, intake, Role::Staff).await?;
    if row.status != "open" {
        return Err(AppError::conflict(
            "intake",
            "This intake is confirmed already; start a new one for more photos.",
        ));
    }
    Ok(())
}

/// The payload of `PhotoUploaded`, version 1.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PhotoUploaded {
    pub photo_id: String,
    pub intake_id: String,
    pub bytes: i64,
    pub width: i64,
    pub height: i64,
}

/// Checks an upload and stores it: the photo (without metadata) and its
/// thumbnail in the object store, its row and a `PhotoUploaded` event in
/// one transaction. A refused upload stores nothing.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn upload(
    state: &AppState,
    caller: &Caller,
    intake: &IntakeId,
    bytes: Vec<u8>,
) -> AppResult<Uploaded> {
    let (row, _) = intake_for(state, caller, intake, Role::Staff).await?;
    if row.status != "open" {
        return Err(AppError::conflict(
            "intake",
            "This intake is confirmed already; start a new one for more photos.",
        ));
    }
    let dir = format!("photos/{}/{}", row.organization_id, intake.as_str());
    let picture = store_checked(state, bytes, &dir, PhotoId::new()).await?;
    let saved = save_row(state, caller, intake, &row, &picture).await;
    if let Err(e) = saved {
        discard(state, &picture).await;
        return Err(e);
    }
    Ok(picture.uploaded())
}

/// A checked picture in the object store: the photo without its metadata
/// and its thumbnail, under `{dir}/{id}/`.
#[derive(Debug, Clone)]
pub struct StoredPicture {
    pub id: PhotoId,
    pub media: MediaType,
    pub width: u32,
    pub height: u32,
    pub bytes: i64,
    pub sha256: String,
    pub original_key: String,
    pub thumbnail_key: String,
}

/// Checks an upload (a picture within the limits, decoded without
/// surprises), strips it, makes its thumbnail and stores both under
/// `{dir}/{id}/`. Decoding waits for one
/// of the few decoding slots. Nothing is left stored when it fails.
pub async fn store_checked(
    state: &AppState,
    bytes: Vec<u8>,
    dir: &str,
    id: PhotoId,
) -> AppResult<StoredPicture> {
    let limits = state.photos.limits;
    let _slot = state
        .photos
        .decoding
        .acquire()
        .await
        .map_err(|e| AppError::internal(&e))?;
    let (media, width, height, stored, thumb) = tokio::task::spawn_blocking(move || {
        let checked = picture::check(&bytes, limits)?;
        let thumb = picture::thumbnail(&checked.image, THUMBNAIL_EDGE)?;
        Ok::<_, AppError>((
            checked.media,
            checked.width,
            checked.height,
            checked.stored,
            thumb,
        ))
    })
    .await
    .map_err(|e| AppError::internal(&e))??;
    let base = format!("{dir}/{}", id.as_str());
    let extension = if media == MediaType::Jpeg {
        "jpg"
    } else {
        "png"
    };
    let picture = StoredPicture {
        id,
        media,
        width,
        height,
        bytes: stored.len() as i64,
        sha256: hex(&sha2::Sha256::digest(&stored)),
        original_key: format!("{base}/photo.{extension}"),
        thumbnail_key: format!("{base}/thumbnail.jpg"),
    };
    let store = &state.photos.store;
    let put = async {
        store.put(&picture.original_key, stored).await?;
        store.put(&picture.thumbnail_key, thumb).await
    }
    .await;
    if let Err(e) = put {
        let _ = store.delete(&picture.original_key).await;
        return Err(AppError::internal(&e));
    }
    Ok(picture)
}

impl StoredPicture {
    /// What the uploader is told.
    pub fn uploaded(&self) -> Uploaded {
        Uploaded {
            id: self.id.clone(),
            bytes: self.bytes,
            width: self.width as i64,
            height: self.height as i64,
        }
    }
}

/// Removes a stored picture's files (its row could not be saved, or it
/// is no longer wanted). A file already gone is no failure.
pub async fn discard(state: &AppState, picture: &StoredPicture) {
    let store = &state.photos.store;
    let _ = store.delete(&picture.original_key).await;
    let _ = store.delete(&picture.thumbnail_key).await;
}

async fn save_row(
    state: &AppState,
    caller: &Caller,
    intake: &IntakeId,
    row: &IntakeRow,
    picture: &StoredPicture,
) -> AppResult<()> {
    let StoredPicture {
        id,
        media,
        width,
        height,
        bytes,
        sha256: sha,
        original_key,
        thumbnail_key,
    } = picture;
    let (media, width, height, bytes) = (*media, *width, *height, *bytes);
    let backend = state.db.backend();
    let mut tx = state.db.begin().await?;
    // The intake row is the lock that numbers photos one after another
    // (SQLite's writers are serialized already).
    let lock = if backend == Backend::Postgres {
        " for update"
    } else {
        ""
    };
    let status: String =
        sqlx::query_scalar(&format!("select status from intakes where id = $1{lock}"))
            .bind(intake.as_str())
            .fetch_one(&mut *tx)
            .await?;
    if status != "open" {
        return Err(AppError::conflict(
            "intake",
            "This intake was confirmed while the photo uploaded; start a new one for more photos.",
        ));
    }
    let count: i64 = sqlx::query_scalar("select count(*) from photos where intake_id = $1")
        .bind(intake.as_str())
        .fetch_one(&mut *tx)
        .await?;
    // Numbers are never reused: staff may have removed photo 2 of 3.
    let last: Option<i64> =
        sqlx::query_scalar("select max(number) from photos where intake_id = $1")
            .bind(intake.as_str())
            .fetch_one(&mut *tx)
            .await?;
    if count >= MAX_PHOTOS {
        return Err(AppError::invalid(
            "photo",
            format!(
                "An intake holds at most {MAX_PHOTOS} photos; confirm this one and start another."
            ),
        ));
    }
    sqlx::query(
        "insert into photos (id, intake_id, organization_id, pantry_id, number, media_type, width, height, bytes, \
         sha256, original_key, thumbnail_key, status, uploaded_by, uploaded_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'waiting', $13, $14)",
    )
    .bind(id.as_str())
    .bind(intake.as_str())
    .bind(row.organization_id.as_str())
    .bind(row.pantry_id.as_str())
    .bind(last.unwrap_or(0) + 1)
    .bind(media.mime())
    .bind(width as i64)
    .bind(height as i64)
    .bind(bytes)
    .bind(sha)
    .bind(original_key)
    .bind(thumbnail_key)
    .bind(caller.me.id.as_str())
    .bind(state.clock.now_ms())
    .execute(&mut *tx)
    .await?;
    let actor = Actor::of(caller);
    events::append(
        &mut tx,
        backend,
        &NewEvent {
            event: &DomainEvent::PhotoUploaded(PhotoUploaded {
                photo_id: id.to_string(),
                intake_id: intake.to_string(),
                bytes,
                width: width as i64,
                height: height as i64,
            }),
            organization_id: &row.organization_id,
            pantry_id: Some(&row.pantry_id),
            actor_id: Some(&actor.user_id),
            correlation_id: &actor.correlation_id,
            client_ip: actor.client_ip.as_deref(),
            trace_parent: actor.trace_parent.as_deref(),
            occurred_at: state.clock.now_ms(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Which rendition of a photo to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rendition {
    Thumbnail,
    Photo,
}

/// A photo's file and media type, for someone who may see its pantry.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn file(
    state: &AppState,
    caller: &Caller,
    photo: &PhotoId,
    rendition: Rendition,
) -> AppResult<(Vec<u8>, &'static str)> {
    let row = sqlx::query(
        "select organization_id, pantry_id, media_type, original_key, thumbnail_key from photos where id = $1",
    )
    .bind(photo.as_str())
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(|| AppError::not_found("photo"))?;
    let (_, place) =
        inventory::pantry_header(&state.db, &PantryId::from_stored(row.try_get("pantry_id")?))
            .await?;
    caller.require(&place, Role::Staff, "photo")?;
    read_rendition(state, &row, rendition).await
}

/// The file of a photo row's rendition (a row with `media_type`,
/// `original_key` and `thumbnail_key`), with its media type.
pub async fn read_rendition(
    state: &AppState,
    row: &crate::db::Row,
    rendition: Rendition,
) -> AppResult<(Vec<u8>, &'static str)> {
    let (key, media): (String, &'static str) = match rendition {
        Rendition::Thumbnail => (row.try_get("thumbnail_key")?, "image/jpeg"),
        Rendition::Photo => {
            let mime: String = row.try_get("media_type")?;
            (
                row.try_get("original_key")?,
                MediaType::from_mime(&mime)
                    .unwrap_or(MediaType::Jpeg)
                    .mime(),
            )
        }
    };
    let bytes = state
        .photos
        .store
        .get(&key)
        .await
        .map_err(|e| AppError::internal(&e))?;
    Ok((bytes, media))
}

/// The payload of `PhotoRemoved`, version 1.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PhotoRemoved {
    pub photo_id: String,
    pub intake_id: String,
    pub number: i64,
}

/// Removes a photo from an open intake (a blurred shot, the wrong box):
/// its findings, its feature vector, its row and then its files. One that
/// is being read right now waits until it has been.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn remove_photo(state: &AppState, caller: &Caller, photo: &PhotoId) -> AppResult<()> {
    let row = sqlx::query(
        "select intake_id, number, status, original_key, thumbnail_key from photos where id = $1",
    )
    .bind(photo.as_str())
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(|| AppError::not_found("photo"))?;
    let intake = IntakeId::from_stored(row.try_get("intake_id")?);
    let (intake_row, _) = intake_for(state, caller, &intake, Role::Staff).await?;
    let number: i64 = row.try_get("number")?;
    if intake_row.status != "open" {
        return Err(AppError::conflict(
            "photo",
            "This intake is confirmed; its photos are its record and stay.",
        ));
    }
    let mut tx = state.db.begin().await?;
    // Not while the worker reads it: it writes its findings when it
    // finishes. The delete below checks again, in the transaction.
    let status: Option<String> = sqlx::query_scalar("select status from photos where id = $1")
        .bind(photo.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    match status.as_deref() {
        None => return Err(AppError::not_found("photo")),
        Some("running") => {
            return Err(AppError::conflict(
                "photo",
                format!(
                    "Photo {number} is being read; remove it when it has been (a few seconds)."
                ),
            ))
        }
        Some(_) => {}
    }
    for table in ["photo_findings", "photo_features"] {
        sqlx::query(&format!("delete from {table} where photo_id = $1"))
            .bind(photo.as_str())
            .execute(&mut *tx)
            .await?;
    }
    let gone = sqlx::query("delete from photos where id = $1 and status <> 'running'")
        .bind(photo.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if gone != 1 {
        return Err(AppError::conflict(
            "photo",
            format!("Photo {number} is being read; remove it when it has been (a few seconds)."),
        ));
    }
    let actor = Actor::of(caller);
    events::append(
        &mut tx,
        state.db.backend(),
        &NewEvent {
            event: &DomainEvent::PhotoRemoved(PhotoRemoved {
                photo_id: photo.to_string(),
                intake_id: intake.to_string(),
                number,
            }),
            organization_id: &intake_row.organization_id,
            pantry_id: Some(&intake_row.pantry_id),
            actor_id: Some(&actor.user_id),
            correlation_id: &actor.correlation_id,
            client_ip: actor.client_ip.as_deref(),
            trace_parent: actor.trace_parent.as_deref(),
            occurred_at: state.clock.now_ms(),
        },
    )
    .await?;
    tx.commit().await?;
    // The files go once the row has: a failure here leaves files no row
    // points at (logged), never a row without its files.
    for key in ["original_key", "thumbnail_key"] {
        let key: String = row.try_get(key)?;
        if let Err(e) = state.photos.store.delete(&key).await {
            tracing::warn!(photo = %photo, key = %key, error = %e, "a removed photo's file was not deleted");
        }
    }
    Ok(())
}
