//! What can go wrong with a project, in words safe to show a user: no token, no internal
//! paths beyond the project's own.

use crate::fault::{ClientFault, Fault};
use crate::rag::RagError;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("no such project")]
    NotFound,
    #[error("no such document")]
    DocumentNotFound,
    #[error("{0}")]
    InvalidInput(String),
    /// A document path with `..`, an absolute path, or a symlink out of the tree.
    #[error("{0}")]
    InvalidPath(String),
    /// A source refused by policy before any connection: scheme, host or folder.
    #[error("{0}")]
    Refused(String),
    #[error("the project is being indexed; try again when it is done")]
    Busy,
    #[error("the project is not being indexed")]
    NotIndexing,
    #[error(
        "this private repository needs its access token again to be indexed (tokens are never stored)"
    )]
    TokenRequired,
    #[error("{0}")]
    TooLarge(String),
    /// Fetching the source failed (clone error, timeout); the message is scrubbed.
    #[error("{0}")]
    Fetch(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Index(#[from] RagError),
    /// Anything else internal (I/O, a task that panicked); logged, not shown.
    #[error("{0}")]
    Internal(String),
}

impl ProjectError {
    pub(crate) fn internal(what: &str, e: impl std::fmt::Display) -> Self {
        Self::Internal(format!("{what}: {e}"))
    }

    /// The text stored as the project's `error` and shown to users.
    pub(crate) fn public_message(&self) -> String {
        if self.fault() == Fault::Internal {
            return "indexing failed on the server; see its log".to_owned();
        }
        self.to_string()
    }
}

impl ClientFault for ProjectError {
    fn fault(&self) -> Fault {
        match self {
            Self::NotFound | Self::DocumentNotFound => Fault::NotFound,
            Self::InvalidInput(_) | Self::InvalidPath(_) | Self::TokenRequired => Fault::Invalid,
            Self::Refused(_) => Fault::Refused,
            Self::Busy => Fault::Busy,
            Self::NotIndexing => Fault::Conflict,
            Self::TooLarge(_) => Fault::TooLarge,
            Self::Fetch(_) => Fault::Upstream("fetch_failed"),
            Self::Storage(_) | Self::Index(_) | Self::Internal(_) => Fault::Internal,
        }
    }
}

impl From<tokio::task::JoinError> for ProjectError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::internal("background task", e)
    }
}
