//! The project service as the chat engine sees it.

use futures::FutureExt;
use futures::future::BoxFuture;

use super::ProjectFiles;
use crate::projects::{ProjectError, ProjectService};

impl ProjectFiles for ProjectService {
    fn project_exists<'a>(&'a self, project_id: &'a str) -> BoxFuture<'a, Result<bool, String>> {
        async move {
            match self.get(project_id).await {
                Ok(_) => Ok(true),
                Err(ProjectError::NotFound) => Ok(false),
                Err(e) => Err(e.to_string()),
            }
        }
        .boxed()
    }

    fn read<'a>(
        &'a self,
        project_id: &'a str,
        path: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, String>> {
        async move {
            match self.read_document(project_id, path).await {
                Ok(text) => Ok(text),
                // A path that may not be read is, to the question, a file that is not there.
                Err(ProjectError::InvalidPath(_) | ProjectError::NotFound) => Ok(None),
                Err(e) => Err(e.to_string()),
            }
        }
        .boxed()
    }
}
