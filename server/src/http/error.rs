//! The REST API's one error type: every failure becomes `{"error": {code, message}}`
//! with the right status. Internal details are logged, never sent.

pub use app::protocol::rest::{ErrorBody, ErrorDetail};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
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
    /// A request from a page or a `Host` this server does not trust.
    #[error("{0}")]
    Forbidden(String),
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
    /// A per-client limit: too many requests or open streams; try again after a while.
    #[error("{message}")]
    TooMany {
        message: String,
        retry_after_secs: u64,
    },
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
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::Storage(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            Self::Refused(_) => (StatusCode::UNPROCESSABLE_ENTITY, "refused_source"),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            Self::TooMany { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
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
            Fault::Overloaded => Self::TooMany {
                message,
                retry_after_secs: 5,
            },
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
        let mut response = (status, Json(body)).into_response();
        if let Self::TooMany {
            retry_after_secs, ..
        } = self
        {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs.max(1)),
            );
        }
        response
    }
}

/// axum's own refusals (a malformed query, JSON body, path or upload; a wrong method; a
/// body over its limit) come as `text/plain`. API clients get every error in the one
/// shape, so those are rewrapped here, their text as the message.
pub async fn json_refusals(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    if !status.is_client_error() || !is_plain {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
        _ => "bad_request",
    };
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("refused").to_owned()
    } else {
        text
    };
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.to_owned(),
            message,
        },
    };
    let mut rewrapped = (status, Json(body)).into_response();
    // Keep what else the refusal said (`Allow` on a 405).
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewrapped.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rewrapped
}

/// Any `/api/…` path no route matched: a JSON 404, not the HTML page a browser gets.
pub async fn no_such_endpoint() -> ApiError {
    ApiError::NotFound("no such API endpoint".into())
}
