//! The REST API's one error type: every failure becomes `{"error": {code, message}}`
//! with the right status. Internal details are logged, never sent.

use app::protocol::ErrorCode;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::AuthError;
use crate::chat::ChatError;
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

impl From<ChatError> for ApiError {
    fn from(error: ChatError) -> Self {
        match (error.code(), error) {
            (_, ChatError::Storage(e)) => Self::Storage(e),
            (ErrorCode::Internal, other) => Self::Internal(other.to_string()),
            (ErrorCode::Busy, other) => Self::Conflict(other.to_string()),
            (ErrorCode::NotFound, other) => Self::NotFound(other.to_string()),
            (_, other) => Self::BadRequest(other.to_string()),
        }
    }
}

impl From<ProjectError> for ApiError {
    fn from(error: ProjectError) -> Self {
        match error {
            ProjectError::NotFound | ProjectError::DocumentNotFound => {
                Self::NotFound(error.to_string())
            }
            ProjectError::InvalidInput(_) | ProjectError::InvalidPath(_) => {
                Self::BadRequest(error.to_string())
            }
            ProjectError::Refused(_) => Self::Refused(error.to_string()),
            ProjectError::Busy => Self::Conflict(error.to_string()),
            ProjectError::TooLarge(_) => Self::TooLarge(error.to_string()),
            ProjectError::Fetch(_) => Self::Upstream {
                code: "fetch_failed".into(),
                message: error.to_string(),
            },
            ProjectError::Storage(e) => Self::Storage(e),
            ProjectError::Index(_) | ProjectError::Internal(_) => Self::Internal(error.to_string()),
        }
    }
}

impl From<WikiError> for ApiError {
    fn from(error: WikiError) -> Self {
        match error {
            WikiError::ProjectNotFound(_)
            | WikiError::JobNotFound(_)
            | WikiError::PageNotFound { .. }
            | WikiError::WikiNotFound { .. } => Self::NotFound(error.to_string()),
            WikiError::UnknownProvider(_) | WikiError::BadRequest(_) => {
                Self::BadRequest(error.to_string())
            }
            WikiError::Conflict(_) => Self::Conflict(error.to_string()),
            WikiError::Inputs(_) => Self::Upstream {
                code: "project_unavailable".into(),
                message: error.to_string(),
            },
            WikiError::Storage(e) => Self::Storage(e),
        }
    }
}

/// What every failed request answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable: `bad_request`, `unauthorized`, `not_found`, `conflict`,
    /// `refused_source`, `too_large`, `internal`, or a provider's code.
    pub code: String,
    pub message: String,
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
