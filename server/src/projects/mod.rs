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
pub mod pdf;
mod public_address;
mod replica;
mod service;
mod uploads;
mod url_policy;
mod walk;

pub use error::ProjectError;
pub use filters::{DEFAULT_EXCLUDED_DIRS, DEFAULT_EXCLUDED_FILES};
pub use paths::normalize as normalize_path;
pub use public_address::is_public;
pub use service::{ProjectService, Settings};
