//! What wiki generation reads from a project: whether it exists, when it is indexed, its
//! file list and file contents. Behind a trait so the engine does not depend on how
//! projects are fetched, and so tests and the benchmark can hand it files directly.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use futures::FutureExt;
use futures::future::BoxFuture;

#[derive(Debug, Clone, thiserror::Error)]
pub enum InputError {
    #[error("no such project")]
    NotFound,
    #[error("{0}")]
    Failed(String),
}

pub trait WikiInputs: Send + Sync {
    fn exists<'a>(&'a self, project_id: &'a str) -> BoxFuture<'a, Result<bool, InputError>>;
    /// The project's display name, for the title of a wiki derived from its layout.
    fn name<'a>(&'a self, _project_id: &'a str) -> BoxFuture<'a, Option<String>> {
        async { None }.boxed()
    }
    /// Resolves once the project is fetched and indexed.
    fn wait_ready<'a>(&'a self, project_id: &'a str) -> BoxFuture<'a, Result<(), InputError>>;
    fn document_paths<'a>(
        &'a self,
        project_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, InputError>>;
    fn read_document<'a>(
        &'a self,
        project_id: &'a str,
        path: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, InputError>>;
}

/// Projects held in memory, ready at once: for tests and benchmarks.
#[derive(Default)]
pub struct MemoryInputs {
    projects: RwLock<HashMap<String, BTreeMap<String, String>>>,
}

impl MemoryInputs {
    pub fn insert(&self, project_id: &str, files: BTreeMap<String, String>) {
        self.projects
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(project_id.to_owned(), files);
    }

    fn with<T>(
        &self,
        project_id: &str,
        f: impl FnOnce(&BTreeMap<String, String>) -> T,
    ) -> Result<T, InputError> {
        let projects = self.projects.read().unwrap_or_else(|p| p.into_inner());
        projects.get(project_id).map(f).ok_or(InputError::NotFound)
    }
}

impl WikiInputs for MemoryInputs {
    fn exists<'a>(&'a self, project_id: &'a str) -> BoxFuture<'a, Result<bool, InputError>> {
        let found = self.with(project_id, |_| ()).is_ok();
        async move { Ok(found) }.boxed()
    }

    fn wait_ready<'a>(&'a self, project_id: &'a str) -> BoxFuture<'a, Result<(), InputError>> {
        let ready = self.with(project_id, |_| ());
        async move { ready }.boxed()
    }

    fn document_paths<'a>(
        &'a self,
        project_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, InputError>> {
        let paths = self.with(project_id, |files| files.keys().cloned().collect());
        async move { paths }.boxed()
    }

    fn read_document<'a>(
        &'a self,
        project_id: &'a str,
        path: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, InputError>> {
        let content = self.with(project_id, |files| files.get(path).cloned());
        async move { content }.boxed()
    }
}

/// No projects at all: the server's inputs until the project service provides them.
pub struct NoProjects;

impl WikiInputs for NoProjects {
    fn exists<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<bool, InputError>> {
        async { Ok(false) }.boxed()
    }

    fn wait_ready<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), InputError>> {
        async { Err(InputError::NotFound) }.boxed()
    }

    fn document_paths<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Vec<String>, InputError>> {
        async { Err(InputError::NotFound) }.boxed()
    }

    fn read_document<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, InputError>> {
        async { Err(InputError::NotFound) }.boxed()
    }
}
