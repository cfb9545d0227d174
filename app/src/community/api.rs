//! Server functions of the community: thin calls into the service.

use leptos::prelude::*;

use super::model::*;
use crate::error::AppError;
use crate::ids::{CommentId, PantryId, PostId, UserId};

#[cfg(feature = "ssr")]
async fn context() -> Result<(crate::state::AppState, crate::auth::service::Caller), AppError> {
    let state = crate::state::AppState::current()?;
    let caller = crate::auth::service::require_caller(&state).await?;
    Ok((state, caller))
}

/// An id of a post or a comment, checked.
#[cfg(feature = "ssr")]
fn target_id(target: &str) -> Result<&str, AppError> {
    if crate::ids::is_id(target) {
        Ok(target)
    } else {
        Err(AppError::not_found("post"))
    }
}

#[server(prefix = "/api", endpoint = "pantry_timeline")]
pub async fn get_pantry_timeline(
    pantry: PantryId,
    cursor: String,
) -> Result<PantryTimeline, AppError> {
    let (state, caller) = context().await?;
    super::reads::pantry_timeline(&state, &caller, &pantry, &cursor).await
}

#[server(prefix = "/api", endpoint = "home_timeline")]
pub async fn get_home_timeline(cursor: String) -> Result<Timeline, AppError> {
    let (state, caller) = context().await?;
    super::reads::home(&state, &caller, &cursor).await
}

#[server(prefix = "/api", endpoint = "mark_home_read")]
pub async fn mark_home_read() -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::reads::mark_home_read(&state, &caller).await
}

#[server(prefix = "/api", endpoint = "post_thread")]
pub async fn get_post_thread(post: PostId) -> Result<Thread, AppError> {
    let (state, caller) = context().await?;
    super::reads::thread(&state, &caller, &post).await
}

#[server(prefix = "/api", endpoint = "publish_post")]
pub async fn publish_post(
    pantry: PantryId,
    kind: String,
    body: String,
    event_on: String,
    /// Photos uploaded to `/community/photos`, their ids separated by
    /// spaces (at most four).
    #[server(default)]
    photos: String,
) -> Result<PostId, AppError> {
    let (state, caller) = context().await?;
    let draft = super::service::NewPost {
        kind: &kind,
        body: &body,
        event_on: &event_on,
        photos: super::photos::parse_list(&photos)?,
    };
    super::service::publish(&state, &caller, &pantry, draft).await
}

#[server(prefix = "/api", endpoint = "edit_post")]
pub async fn edit_post(
    post: PostId,
    kind: String,
    body: String,
    event_on: String,
) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::service::edit(&state, &caller, &post, &kind, &body, &event_on).await
}

#[server(prefix = "/api", endpoint = "delete_post")]
pub async fn delete_post(post: PostId) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::service::delete(&state, &caller, &post).await
}

#[server(prefix = "/api", endpoint = "report_post")]
pub async fn report_post(post: PostId, reason: String) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::service::report(&state, &caller, &post, &reason).await
}

#[server(prefix = "/api", endpoint = "add_comment")]
pub async fn add_comment(
    post: PostId,
    parent: Option<CommentId>,
    body: String,
) -> Result<CommentId, AppError> {
    let (state, caller) = context().await?;
    super::service::comment(&state, &caller, &post, parent.as_ref(), &body).await
}

#[server(prefix = "/api", endpoint = "delete_comment")]
pub async fn delete_comment(comment: CommentId) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::service::delete_comment(&state, &caller, &comment).await
}

/// Likes a post or a comment (`on`), or takes the like back.
#[server(prefix = "/api", endpoint = "like")]
pub async fn like(target: String, on: bool) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::service::like(&state, &caller, target_id(&target)?, on).await
}

#[server(prefix = "/api", endpoint = "follow_pantry")]
pub async fn follow_pantry(pantry: PantryId) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::social::follow_pantry(&state, &caller, &pantry).await
}

/// Follows a person; false when it is a request they have to accept.
#[server(prefix = "/api", endpoint = "follow_person")]
pub async fn follow_person(person: UserId) -> Result<bool, AppError> {
    let (state, caller) = context().await?;
    super::social::follow_person(&state, &caller, &person).await
}

/// Stops following a pantry or a person.
#[server(prefix = "/api", endpoint = "unfollow")]
pub async fn unfollow(target: String) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::social::unfollow(&state, &caller, target_id(&target)?).await
}

#[server(prefix = "/api", endpoint = "answer_follow_request")]
pub async fn answer_follow_request(follower: UserId, accept: bool) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::social::answer_request(&state, &caller, &follower, accept).await
}

#[server(prefix = "/api", endpoint = "block_person")]
pub async fn block_person(person: UserId) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::social::block(&state, &caller, &person).await
}

#[server(prefix = "/api", endpoint = "unblock_person")]
pub async fn unblock_person(person: UserId) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::social::unblock(&state, &caller, &person).await
}

/// Who may read the pantry's timeline: `organization` or `signed_in`.
#[server(prefix = "/api", endpoint = "set_timeline_visibility")]
pub async fn set_timeline_visibility(pantry: PantryId, visibility: String) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    let visibility = TimelineVisibility::parse(&visibility)
        .ok_or_else(|| AppError::invalid("visibility", "Choose “organization” or “signed_in”."))?;
    super::service::set_visibility(&state, &caller, &pantry, visibility).await
}

/// The caller's bio and who may see their profile (`organization`,
/// `followers` or `signed_in`).
#[server(prefix = "/api", endpoint = "save_profile")]
pub async fn save_profile(bio: String, visibility: String) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    let visibility = ProfileVisibility::parse(&visibility).ok_or_else(|| {
        AppError::invalid(
            "visibility",
            "Choose “organization”, “followers” or “signed_in”.",
        )
    })?;
    super::social::save_profile(&state, &caller, &bio, visibility).await
}

/// The posts reported on the pantry's timeline and still open (its
/// managers only).
#[server(prefix = "/api", endpoint = "pantry_reports")]
pub async fn get_pantry_reports(pantry: PantryId) -> Result<Vec<ReportedPost>, AppError> {
    let (state, caller) = context().await?;
    super::moderation::reported(&state, &caller, &pantry).await
}

/// Keeps a reported post and closes its reports (the pantry's managers).
#[server(prefix = "/api", endpoint = "dismiss_reports")]
pub async fn dismiss_reports(post: PostId) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::moderation::dismiss(&state, &caller, &post).await
}

/// The caller's avatar: a photo uploaded to `/community/photos`, or empty
/// to have none.
#[server(prefix = "/api", endpoint = "set_avatar")]
pub async fn set_avatar(photo: String) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::photos::set_avatar(&state, &caller, &photo).await
}

#[server(prefix = "/api", endpoint = "profile")]
pub async fn get_profile(person: UserId) -> Result<ProfileView, AppError> {
    let (state, caller) = context().await?;
    super::profiles::profile(&state, &caller, &person).await
}

#[server(prefix = "/api", endpoint = "my_people")]
pub async fn get_my_people() -> Result<MyPeople, AppError> {
    let (state, caller) = context().await?;
    super::profiles::my_people(&state, &caller).await
}

/// Which automatic posts the pantry has; a box left out is off.
#[server(prefix = "/api", endpoint = "save_automatic_posts")]
pub async fn save_automatic_posts(
    pantry: PantryId,
    donations: Option<String>,
    milestones: Option<String>,
    back_in_stock: Option<String>,
    needs: Option<String>,
) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    let on = |v: &Option<String>| v.as_deref().is_some_and(|v| v == "on" || v == "true");
    let wanted = AutomaticPosts {
        donations: on(&donations),
        milestones: on(&milestones),
        back_in_stock: on(&back_in_stock),
        needs: on(&needs),
    };
    super::service::set_automatic(&state, &caller, &pantry, wanted).await
}

#[cfg(feature = "ssr")]
mod handlers {
    use axum::body::Body;
    use axum::extract::{Path, State};
    use axum::response::{IntoResponse, Response};
    use http::{HeaderMap, StatusCode};

    use crate::auth::service::caller_from_headers;
    use crate::error::AppResult;
    use crate::ids::PhotoId;
    use crate::photos::api::{picture_response, read_picture};
    use crate::photos::service::Rendition;
    use crate::state::AppState;

    /// `POST /community/photos` with the photo as the body: answers 201
    /// with the stored photo (its id goes into the post or the avatar),
    /// or the reason it was refused.
    pub async fn upload(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
        let outcome = async {
            let caller = caller_from_headers(&state, &headers).await?;
            let (bytes, _room) = read_picture(&state, &headers, body).await?;
            crate::community::photos::upload(&state, &caller, bytes).await
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
            let caller = caller_from_headers(&state, &headers).await?;
            let photo: PhotoId = id.parse()?;
            crate::community::photos::file(&state, &caller, &photo, rendition).await
        }
        .await;
        picture_response(&id, rendition, outcome)
    }

    /// `GET /community/photos/{id}/thumbnail.jpg`
    pub async fn thumbnail(
        State(state): State<AppState>,
        Path(id): Path<String>,
        headers: HeaderMap,
    ) -> Response {
        send(state, id, headers, Rendition::Thumbnail).await
    }

    /// `GET /community/photos/{id}/photo`
    pub async fn photo(
        State(state): State<AppState>,
        Path(id): Path<String>,
        headers: HeaderMap,
    ) -> Response {
        send(state, id, headers, Rendition::Photo).await
    }
}

/// The community's routes besides its server functions: photo uploads
/// (a body, not a form) and the photos.
#[cfg(feature = "ssr")]
pub fn routes() -> axum::Router<crate::state::AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/community/photos", post(handlers::upload))
        .route(
            "/community/photos/{id}/thumbnail.jpg",
            get(handlers::thumbnail),
        )
        .route("/community/photos/{id}/photo", get(handlers::photo))
        .route("/live/home", get(super::live::home_stream))
}
