//! Server functions for intakes, and the HTTP handlers for photo uploads
//! and photo files.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use super::model::*;
use crate::error::AppError;
use crate::ids::{IntakeId, PantryId, PhotoId};

#[cfg(feature = "ssr")]
async fn context() -> Result<(crate::state::AppState, crate::auth::service::Caller), AppError> {
    let state = crate::state::AppState::current()?;
    let caller = crate::auth::service::require_caller(&state).await?;
    Ok((state, caller))
}

/// Opens an intake at a pantry, for photographing a donation.
#[server(prefix = "/api", endpoint = "create_intake")]
pub async fn create_intake(
    pantry: PantryId,
    #[server(default)] donor: String,
) -> Result<IntakeId, AppError> {
    let (state, caller) = context().await?;
    super::service::create_intake(&state, &caller, &pantry, &donor).await
}

#[server(prefix = "/api", endpoint = "intake")]
pub async fn get_intake(id: IntakeId) -> Result<IntakeView, AppError> {
    let (state, caller) = context().await?;
    super::service::intake(&state, &caller, &id).await
}

#[server(prefix = "/api", endpoint = "intakes")]
pub async fn get_intakes(pantry: PantryId) -> Result<Vec<IntakeListItem>, AppError> {
    let (state, caller) = context().await?;
    super::service::intakes(&state, &caller, &pantry).await
}

/// Takes a photo out of an open intake.
#[server(prefix = "/api", endpoint = "remove_photo")]
pub async fn remove_photo(id: PhotoId) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::service::remove_photo(&state, &caller, &id).await
}

/// Receives the lines as staff left them.
#[server(prefix = "/api", endpoint = "confirm_intake", input = Json)]
pub async fn confirm_intake(
    id: IntakeId,
    lines: Vec<ConfirmLine>,
) -> Result<Vec<ConfirmedLine>, AppError> {
    let (state, caller) = context().await?;
    super::service::confirm(&state, &caller, &id, &lines).await
}

#[cfg(feature = "ssr")]
pub use handlers::*;

#[cfg(feature = "ssr")]
mod handlers {
    use axum::body::Body;
    use axum::extract::{Path, State};
    use axum::response::{IntoResponse, Response};
    use http::{header, HeaderMap, StatusCode};

    use crate::error::{AppError, AppResult};
    use crate::ids::{IntakeId, PhotoId};
    use crate::photos::service::{self, Rendition};
    use crate::state::AppState;

    /// Reads a picture upload's body within the size limit, once there is
    /// room among the bodies being received (the permit holds that room
    /// until the picture is checked and stored).
    pub async fn read_picture(
        state: &AppState,
        headers: &HeaderMap,
        body: Body,
    ) -> AppResult<(Vec<u8>, tokio::sync::OwnedSemaphorePermit)> {
        let limit = state.photos.limits.max_bytes;
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let too_large = || {
            AppError::invalid(
                "photo",
                format!(
                    "The photo is larger than the limit of {:.0} MB. Let the page optimize it before uploading.",
                    limit as f64 / (1024.0 * 1024.0)
                ),
            )
        };
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let room = service::room_for_upload(&state.photos, declared.unwrap_or(limit)).await?;
        let bytes = axum::body::to_bytes(body, limit)
            .await
            .map_err(|_| too_large())?;
        // Moved, not copied: the body is held once while it is checked.
        Ok((Vec::from(bytes), room))
    }

    /// `POST /intakes/{id}/photos` with the photo as the body (JPEG or
    /// PNG, whatever the content type says): answers 201 with the stored
    /// photo, or the reason it was refused.
    pub async fn upload_handler(
        State(state): State<AppState>,
        Path(id): Path<String>,
        headers: HeaderMap,
        body: Body,
    ) -> Response {
        let outcome = async {
            let caller = crate::auth::service::caller_from_headers(&state, &headers).await?;
            let intake: IntakeId = id.parse()?;
            // Access first, so a stranger's upload is not even read.
            service::may_upload(&state, &caller, &intake).await?;
            let (bytes, _room) = read_picture(&state, &headers, body).await?;
            // Moved, not copied: the body is held once while it is checked.
            service::upload(&state, &caller, &intake, bytes).await
        }
        .await;
        match outcome {
            Ok(uploaded) => (StatusCode::CREATED, axum::Json(uploaded)).into_response(),
            Err(e) => e.into_response(),
        }
    }

    async fn send(
        state: AppState,
        id: String,
        headers: HeaderMap,
        rendition: Rendition,
    ) -> Response {
        let outcome: AppResult<_> = async {
            let caller = crate::auth::service::caller_from_headers(&state, &headers).await?;
            let photo: PhotoId = id.parse()?;
            service::file(&state, &caller, &photo, rendition).await
        }
        .await;
        picture_response(&id, rendition, outcome)
    }

    /// A photo's file as an answer: cached for good (a photo never changes
    /// under its id) and never run as a page.
    pub fn picture_response(
        id: &str,
        rendition: Rendition,
        outcome: AppResult<(Vec<u8>, &'static str)>,
    ) -> Response {
        match outcome {
            Ok((bytes, media)) => {
                let extension = if media == "image/png" { "png" } else { "jpg" };
                let name = match rendition {
                    Rendition::Thumbnail => format!("photo-{id}-thumbnail.jpg"),
                    _ => format!("photo-{id}.{extension}"),
                };
                (
                    [
                        (header::CONTENT_TYPE, media.to_string()),
                        // A photo never changes under its id.
                        (
                            header::CACHE_CONTROL,
                            "private, max-age=31536000, immutable".to_string(),
                        ),
                        // Opened on its own, an upload is an image in a
                        // sandbox with nothing allowed to run, never a page.
                        (
                            header::CONTENT_DISPOSITION,
                            format!("inline; filename=\"{name}\""),
                        ),
                        (
                            header::CONTENT_SECURITY_POLICY,
                            "default-src 'none'; img-src 'self'; sandbox; frame-ancestors 'none'"
                                .to_string(),
                        ),
                    ],
                    bytes,
                )
                    .into_response()
            }
            Err(e) => e.into_response(),
        }
    }

    /// `GET /photos/{id}/thumbnail.jpg`
    pub async fn thumbnail_handler(
        State(state): State<AppState>,
        Path(id): Path<String>,
        headers: HeaderMap,
    ) -> Response {
        send(state, id, headers, Rendition::Thumbnail).await
    }

    /// `GET /photos/{id}/photo`: the stored photo (without metadata).
    pub async fn photo_handler(
        State(state): State<AppState>,
        Path(id): Path<String>,
        headers: HeaderMap,
    ) -> Response {
        send(state, id, headers, Rendition::Photo).await
    }
}

/// Photo intake's routes besides its server functions: uploads (streamed,
/// not a server function) and the pictures.
#[cfg(feature = "ssr")]
pub fn routes() -> axum::Router<crate::state::AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/intakes/{id}/photos", post(upload_handler))
        .route("/photos/{id}/thumbnail.jpg", get(thumbnail_handler))
        .route("/photos/{id}/photo", get(photo_handler))
}
