//! The one error type that crosses every boundary: server functions, the
//! REST layer and the views all speak `AppError`.
//!
//! Variants a user can act on carry a specific message (and for form input,
//! the field it is about). `Internal` never carries the cause: that is logged
//! on the server, and the user sees only the request id to quote.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum AppError {
    /// Input that does not parse; `field` names the form field it came from.
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// Input that parses but clashes with what is stored (a duplicate name).
    #[error("{message}")]
    Conflict { field: String, message: String },
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    /// The server is at its limit for this kind of work (uploads in
    /// flight, say); the same request later will do.
    #[error("{message}")]
    Busy {
        message: String,
        retry_after_secs: u64,
    },
    /// A request the server could not even read (malformed arguments).
    #[error("{0}")]
    BadRequest(String),
    /// Something went wrong on our side. The cause is in the server log
    /// under this request id.
    #[error(
        "Something went wrong on our side. If it keeps happening, quote request id {request_id}."
    )]
    Internal {
        request_id: String,
        /// The cause, for the server's own records (a parked event's
        /// error); never sent to the browser.
        #[serde(skip)]
        cause: Option<String>,
    },
}

impl AppError {
    /// What went wrong, for the server's own records: the cause of an
    /// internal error (which users see only as a request id), else the
    /// message.
    pub fn detail(&self) -> String {
        match self {
            Self::Internal {
                cause: Some(cause), ..
            } => cause.clone(),
            other => other.to_string(),
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Conflict {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn forbidden() -> Self {
        Self::Forbidden("You do not have permission to do that here.".into())
    }

    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!(
            "That {what} does not exist, or you do not have access to it."
        ))
    }

    pub fn sign_in_required() -> Self {
        Self::Unauthenticated("Please sign in to continue.".into())
    }

    /// The HTTP status this error is sent with.
    pub fn status(&self) -> u16 {
        match self {
            Self::Invalid { .. } => 422,
            Self::Conflict { .. } => 409,
            Self::Unauthenticated(_) => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::TooManyRequests { .. } => 429,
            Self::Busy { .. } => 503,
            Self::BadRequest(_) => 400,
            Self::Internal { .. } => 500,
        }
    }

    /// The form field this error belongs to, if it belongs to one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid { field, .. } | Self::Conflict { field, .. } => Some(field),
            _ => None,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(msg) | ServerFnErrorErr::Deserialization(msg) => {
                Self::BadRequest(format!("The request could not be read: {msg}"))
            }
            ServerFnErrorErr::MissingArg(arg) => {
                Self::invalid(arg.clone(), format!("{arg} is required."))
            }
            ServerFnErrorErr::UnsupportedRequestMethod(m) => {
                Self::BadRequest(format!("Method {m} is not supported here."))
            }
            ServerFnErrorErr::Request(msg) | ServerFnErrorErr::Response(msg) => {
                // Only ever seen on the client: the server could not be reached.
                Self::BadRequest(format!("Could not reach the server: {msg}"))
            }
            other => Self::Internal {
                request_id: format!("unknown ({other})"),
                cause: None,
            },
        }
    }
}

/// Result alias used by services and server functions.
pub type AppResult<T> = Result<T, AppError>;

/// Shown for the [`AppError::Internal`] display as a heading, and used by the
/// error page.
pub struct ErrorTitle<'a>(pub &'a AppError);

impl fmt::Display for ErrorTitle<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            AppError::Invalid { .. } | AppError::BadRequest(_) => "That did not work",
            AppError::Conflict { .. } => "Already exists",
            AppError::Unauthenticated(_) => "Sign in required",
            AppError::Forbidden(_) => "Not allowed",
            AppError::NotFound(_) => "Not found",
            AppError::TooManyRequests { .. } => "Slow down",
            AppError::Busy { .. } => "Busy",
            AppError::Internal { .. } => "Something went wrong",
        })
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::AppError;

    impl AppError {
        /// Logs an unexpected failure with its whole cause chain and returns
        /// the error the user sees, which names only the request id.
        pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
            let mut chain = cause.to_string();
            let mut source = cause.source();
            while let Some(s) = source {
                chain.push_str(": ");
                chain.push_str(&s.to_string());
                source = s.source();
            }
            let request_id = crate::request::current_request_id();
            tracing::error!(error = %chain, %request_id, "internal error");
            Self::Internal {
                request_id,
                cause: Some(chain),
            }
        }
    }

    impl From<sqlx::Error> for AppError {
        fn from(e: sqlx::Error) -> Self {
            Self::internal(&e)
        }
    }

    impl axum::response::IntoResponse for AppError {
        fn into_response(self) -> axum::response::Response {
            let status = axum::http::StatusCode::from_u16(self.status())
                .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
            let mut res = (status, axum::Json(&self)).into_response();
            if let AppError::TooManyRequests {
                retry_after_secs, ..
            }
            | AppError::Busy {
                retry_after_secs, ..
            } = &self
            {
                if let Ok(v) = retry_after_secs.to_string().parse() {
                    res.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
                }
            }
            res
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_round_trip_through_json_with_their_kind() {
        let e = AppError::invalid("name", "Name is required.");
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains(r#""kind":"invalid""#), "{json}");
        assert_eq!(serde_json::from_str::<AppError>(&json).unwrap(), e);
    }

    #[test]
    fn each_error_maps_to_a_client_or_server_status() {
        assert_eq!(AppError::invalid("x", "y").status(), 422);
        assert_eq!(AppError::forbidden().status(), 403);
        assert_eq!(
            AppError::Internal {
                request_id: "r".into(),
                cause: None,
            }
            .status(),
            500
        );
    }
}

#[cfg(test)]
mod every_variant {
    use super::*;

    /// Resources serialize their errors into the page for hydration; a
    /// variant serde cannot encode would panic the render.
    #[test]
    fn every_variant_survives_json() {
        for e in [
            AppError::invalid("f", "m"),
            AppError::conflict("f", "m"),
            AppError::Unauthenticated("m".into()),
            AppError::Forbidden("m".into()),
            AppError::NotFound("m".into()),
            AppError::TooManyRequests {
                message: "m".into(),
                retry_after_secs: 3,
            },
            AppError::BadRequest("m".into()),
            AppError::Busy {
                message: "m".into(),
                retry_after_secs: 5,
            },
            AppError::Internal {
                request_id: "r".into(),
                cause: None,
            },
        ] {
            let json = serde_json::to_string(&e).expect("serializes");
            assert_eq!(
                serde_json::from_str::<AppError>(&json).unwrap(),
                e,
                "{json}"
            );
        }
    }
}
