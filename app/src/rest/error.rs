//! The API's one error shape: `{"error": {"code", "message", "field"?}}`,
//! with the status codes the server functions use. Built from the same
//! [`AppError`] the rest of Larder speaks, so a message reads the same in
//! a form and in a script's log.

use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::AppError;

/// An [`AppError`] on its way out of `/api/v1`.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        Self(e)
    }
}

/// What every error response of the API carries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, for programs: `invalid`, `conflict`, `unauthenticated`,
    /// `forbidden`, `not_found`, `too_many_requests`, `busy`,
    /// `bad_request` or `internal`.
    pub code: String,
    /// For people: what went wrong and what to do.
    pub message: String,
    /// The parameter or body field the error is about, when it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The code of an error, as the API names it.
pub fn code(e: &AppError) -> &'static str {
    match e {
        AppError::Invalid { .. } => "invalid",
        AppError::Conflict { .. } => "conflict",
        AppError::Unauthenticated(_) => "unauthenticated",
        AppError::Forbidden(_) => "forbidden",
        AppError::NotFound(_) => "not_found",
        AppError::TooManyRequests { .. } => "too_many_requests",
        AppError::Busy { .. } => "busy",
        AppError::BadRequest(_) => "bad_request",
        AppError::Internal { .. } => "internal",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = http::StatusCode::from_u16(e.status())
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            error: ErrorDetail {
                code: code(&e).into(),
                message: e.to_string(),
                field: e.field().map(String::from),
            },
        };
        let mut res = (status, axum::Json(body)).into_response();
        if let AppError::TooManyRequests {
            retry_after_secs, ..
        }
        | AppError::Busy {
            retry_after_secs, ..
        } = &e
        {
            res.headers_mut()
                .insert(http::header::RETRY_AFTER, (*retry_after_secs).into());
        }
        if let AppError::Unauthenticated(_) = &e {
            res.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer realm=\"larder\""),
            );
        }
        res
    }
}
