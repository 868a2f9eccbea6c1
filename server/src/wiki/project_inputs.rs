//! Wiki generation reads projects through the project service: the stored documents,
//! so any server on the same database can generate any project's wiki.

use app::protocol::rest::ProjectStatus;
use futures::FutureExt;
use futures::future::BoxFuture;

use super::inputs::{InputError, WikiInputs};
use crate::projects::{ProjectError, ProjectService};

fn input_error(error: ProjectError) -> InputError {
    match error {
        ProjectError::NotFound => InputError::NotFound,
        other => InputError::Failed(other.to_string()),
    }
}

impl WikiInputs for ProjectService {
    fn exists<'a>(&'a self, project_id: &'a str) -> BoxFuture<'a, Result<bool, InputError>> {
        async move {
            match self.get(project_id).await {
                Ok(_) => Ok(true),
                Err(ProjectError::NotFound) => Ok(false),
                Err(e) => Err(input_error(e)),
            }
        }
        .boxed()
    }

    fn name<'a>(&'a self, project_id: &'a str) -> BoxFuture<'a, Option<String>> {
        async move { self.get(project_id).await.ok().map(|p| p.name) }.boxed()
    }

    fn wait_ready<'a>(&'a self, project_id: &'a str) -> BoxFuture<'a, Result<(), InputError>> {
        async move {
            let project = self.wait_ready(project_id).await.map_err(input_error)?;
            match project.status {
                // Pages are grounded in this instance's index: current before they start.
                ProjectStatus::Ready => self.ensure_replica(project_id).await.map_err(input_error),
                _ => Err(InputError::Failed("indexing the project failed".into())),
            }
        }
        .boxed()
    }

    fn document_paths<'a>(
        &'a self,
        project_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, InputError>> {
        async move { self.document_paths(project_id).await.map_err(input_error) }.boxed()
    }

    fn read_document<'a>(
        &'a self,
        project_id: &'a str,
        path: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, InputError>> {
        async move {
            self.read_document(project_id, path)
                .await
                .map_err(input_error)
        }
        .boxed()
    }
}
