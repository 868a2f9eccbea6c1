//! Projects (SPEC §2, §5): knowledge sources made from a git repository, a local folder
//! or uploaded documents; fetching them safely, choosing which files count, and indexing
//! them incrementally as a job with live progress.

mod chunking;
mod error;
mod filters;
mod git;
mod indexer;
mod language;
mod paths;
mod service;
mod uploads;
mod url_policy;
mod walk;

pub use error::ProjectError;
pub use filters::{DEFAULT_EXCLUDED_DIRS, DEFAULT_EXCLUDED_FILES};
pub use paths::normalize as normalize_path;
pub use service::{ProjectService, Settings};
pub use url_policy::is_public;
