//! What can go wrong when asking the wiki service for something; each maps to one HTTP
//! status at the edge (`http::error`).

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

impl From<sqlx::Error> for WikiError {
    fn from(error: sqlx::Error) -> Self {
        Self::Storage(StorageError::Database(error))
    }
}
