//! The REST API's one error type: every failure becomes `{"error": {code, message}}`
//! with the right status. Internal details are logged, never sent.

pub use app::protocol::rest::{ErrorBody, ErrorDetail};
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::auth::AuthError;
use crate::chat::ChatError;
use crate::fault::{ClientFault, Fault};
use crate::projects::ProjectError;
use crate::storage::StorageError;
use crate::wiki::WikiError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Unauthorized(#[from] AuthError),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The model provider failed; `code` is its `message_error` code.
    #[error("{message}")]
    Upstream { code: String, message: String },
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A project source refused by policy (scheme, host, folder), before any connection.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    TooLarge(String),
    /// Logged; the client only learns that something failed on the server.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &str) {
        match self {
            Self::Upstream { code, .. } => (StatusCode::BAD_GATEWAY, code.as_str()),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::Storage(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            Self::Refused(_) => (StatusCode::UNPROCESSABLE_ENTITY, "refused_source"),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl ApiError {
    /// The one mapping from a domain error to a response.
    fn from_domain(error: &impl ClientFault) -> Self {
        let message = error.to_string();
        match error.fault() {
            Fault::Invalid => Self::BadRequest(message),
            Fault::NotFound => Self::NotFound(message),
            Fault::Busy | Fault::Conflict => Self::Conflict(message),
            Fault::Refused => Self::Refused(message),
            Fault::TooLarge => Self::TooLarge(message),
            Fault::Upstream(code) => Self::Upstream {
                code: code.to_owned(),
                message,
            },
            // Logged when the response is made; the client gets "internal error".
            Fault::Internal => Self::Internal(message),
        }
    }
}

impl From<ChatError> for ApiError {
    fn from(error: ChatError) -> Self {
        Self::from_domain(&error)
    }
}

impl From<ProjectError> for ApiError {
    fn from(error: ProjectError) -> Self {
        Self::from_domain(&error)
    }
}

impl From<WikiError> for ApiError {
    fn from(error: WikiError) -> Self {
        Self::from_domain(&error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            Self::Storage(e) => {
                tracing::error!(error = %e, "request failed in storage");
                "internal error".to_owned()
            }
            Self::Internal(e) => {
                tracing::error!(error = %e, "request failed on the server");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                message,
            },
        };
        (status, Json(body)).into_response()
    }
}
