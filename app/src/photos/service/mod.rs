//! Intakes and their photos: opening an intake, checking and storing an
//! upload, what the page shows (photos, findings, suggested lines), and
//! confirming the lines as `received` movements.
//!
//! One file per concern: [`upload`] (intakes opened, photos stored, served
//! and removed), [`queries`] (the pages' reads), [`suggestions`] (the lines
//! the photos suggest) and [`confirm`] (posting them). What they share, the
//! configuration and the intake's access check, is here.

mod confirm;
mod queries;
mod suggestions;
mod upload;

pub use confirm::{confirm, ConfirmedPayloadLine, IntakeConfirmed};
pub use queries::{intake, intakes};
pub use upload::{
    create_intake, discard, file, may_upload, read_rendition, remove_photo, room_for_upload,
    store_checked, upload, PhotoRemoved, PhotoUploaded, Rendition, StoredPicture,
};

use std::sync::Arc;

use sqlx::Row as _;

use super::picture::PhotoLimits;
use super::store::ObjectStore;
use crate::auth::model::Role;
use crate::auth::service::{Caller, Place};
use crate::error::{AppError, AppResult};
use crate::ids::{IntakeId, PantryId};
use crate::inventory::model::PantryHeader;
use crate::inventory::service as inventory;
use crate::state::AppState;

/// Photos one intake may hold.
pub const MAX_PHOTOS: i64 = 40;

/// Lines one confirmation may post.
pub const MAX_LINES: usize = 100;

/// The photo services' configuration and file store.
#[derive(Clone)]
pub struct Photos {
    pub store: Arc<dyn ObjectStore>,
    pub limits: PhotoLimits,
    /// Wakes the analysis worker.
    pub wake: Arc<tokio::sync::Notify>,
    /// Uploads decoded at once: a 50 MP original takes 150 MB to decode,
    /// so a burst of them waits its turn rather than exhausting memory.
    pub decoding: Arc<tokio::sync::Semaphore>,
    /// Upload bodies being received, one permit a KiB: sixteen parallel
    /// 24 MB uploads once buffered 500 MB before any check could run.
    pub in_flight: Arc<tokio::sync::Semaphore>,
    /// The image model for item matching (loaded on first use).
    pub items: Arc<super::items::ItemModel>,
    /// The vision model, when one is configured.
    pub llm: Option<Arc<super::llm::VisionLlm>>,
}

/// Uploads decoded side by side.
pub const DECODING_AT_ONCE: usize = 2;

/// The bytes of upload bodies received at once, in KiB (64 MiB).
pub const IN_FLIGHT_KIB: usize = 64 * 1024;

/// How long an upload waits for room before it is told to come back.
pub const IN_FLIGHT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The intake's place and state, checked for `role` at its pantry.
struct IntakeRow {
    organization_id: String,
    pantry_id: String,
    status: String,
}

async fn intake_for(
    state: &AppState,
    caller: &Caller,
    intake: &IntakeId,
    role: Role,
) -> AppResult<(IntakeRow, PantryHeader)> {
    let row = sqlx::query("select organization_id, pantry_id, status from intakes where id = $1")
        .bind(intake.as_str())
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(|| AppError::not_found("intake"))?;
    let row = IntakeRow {
        organization_id: row.try_get("organization_id")?,
        pantry_id: row.try_get("pantry_id")?,
        status: row.try_get("status")?,
    };
    let (header, place) =
        inventory::pantry_header(&state.db, &PantryId::from_stored(row.pantry_id.clone())).await?;
    caller.require(&place, role, "intake")?;
    Ok((row, header))
}

/// Where on the place tree an intake is, for access checks elsewhere.
pub fn place_of(header: &PantryHeader) -> Place {
    Place {
        organization_id: header.organization_id.to_string(),
        campus_id: Some(header.campus_id.to_string()),
        pantry_id: Some(header.id.to_string()),
    }
}
