//! What can go wrong when asking the wiki service for something; each is one [`Fault`],
//! told to clients at the edge.

use crate::fault::{ClientFault, Fault};
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum WikiError {
    #[error("no project {0}")]
    ProjectNotFound(String),
    #[error("no wiki job {0}")]
    JobNotFound(String),
    #[error("job {job} has no page {page}")]
    PageNotFound { job: String, page: String },
    #[error("project {project} has no wiki in {language}")]
    WikiNotFound { project: String, language: String },
    #[error("provider {0} is not configured")]
    UnknownProvider(String),
    #[error("{0}")]
    BadRequest(String),
    /// The job or page is in a state the request does not apply to.
    #[error("{0}")]
    Conflict(String),
    #[error("reading the project: {0}")]
    Inputs(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ClientFault for WikiError {
    fn fault(&self) -> Fault {
        match self {
            Self::ProjectNotFound(_)
            | Self::JobNotFound(_)
            | Self::PageNotFound { .. }
            | Self::WikiNotFound { .. } => Fault::NotFound,
            Self::UnknownProvider(_) | Self::BadRequest(_) => Fault::Invalid,
            Self::Conflict(_) => Fault::Conflict,
            Self::Inputs(_) => Fault::Upstream("project_unavailable"),
            Self::Storage(_) => Fault::Internal,
        }
    }
}

impl From<sqlx::Error> for WikiError {
    fn from(error: sqlx::Error) -> Self {
        Self::Storage(StorageError::Database(error))
    }
}
