//! With several instances (SPEC §10) every instance keeps its own search index: a
//! replica of the chunks the shared database holds. A project's `updated_at` is its
//! version; each instance remembers the version its index holds, and a grounded answer
//! first brings a stale replica up to date (re-chunking the stored documents, as
//! start-up does for a lost index), so a project indexed through one instance is found
//! by a question on any other. Alone, an instance's index is always current and none of
//! this runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use app::protocol::rest::ProjectStatus;
use app::protocol::{JobProgress, JobStatus};

use super::ProjectError;
use super::indexer::{IndexChanges, chunk_in_background, write_index};
use super::service::{Inner, ProjectService, indexing_progress};

/// The project versions this instance's index holds.
#[derive(Default)]
pub(super) struct Replicas {
    versions: Mutex<HashMap<String, u64>>,
    /// One rebuild at a time: two questions about a stale project wait for one rebuild.
    rebuilding: tokio::sync::Mutex<()>,
}

impl Replicas {
    /// The index holds the project as of `version` (this instance just wrote it).
    pub(super) fn record(&self, project_id: &str, version: u64) {
        self.versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(project_id.to_owned(), version);
    }

    fn holds(&self, project_id: &str, version: u64) -> bool {
        self.versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(project_id)
            == Some(&version)
    }

    /// Forgets the project; true if the index held a version of it.
    fn forget(&self, project_id: &str) -> bool {
        self.versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(project_id)
            .is_some()
    }
}

impl ProjectService {
    /// An indexing job's state as the database holds it, for a job this instance does not
    /// run (another instance does, or did before a restart): running while the project is
    /// `indexing` under this job, else how it ended.
    pub async fn stored_job_progress(
        &self,
        job_id: &str,
    ) -> Result<Option<JobProgress>, ProjectError> {
        let Some(project) = self.inner().store.project_by_job(job_id).await? else {
            return Ok(None);
        };
        let (status, percent, message) = match project.status {
            ProjectStatus::Indexing => (JobStatus::Running, 0.0, "indexing".to_owned()),
            ProjectStatus::Ready => (JobStatus::Completed, 100.0, "indexed".to_owned()),
            ProjectStatus::Failed => (
                JobStatus::Failed,
                100.0,
                project
                    .error
                    .unwrap_or_else(|| "indexing failed".to_owned()),
            ),
        };
        Ok(Some(indexing_progress(job_id, status, percent, message)))
    }

    /// Brings this instance's index of the project up to what the database holds, when
    /// other instances may have changed it. Cheap when current: one database read.
    pub async fn ensure_replica(&self, project_id: &str) -> Result<(), ProjectError> {
        let inner = self.inner();
        if !inner.hub.is_shared() || inner.is_active(project_id) {
            return Ok(());
        }
        let Some(project) = inner.store.project(project_id).await? else {
            return remove(inner, project_id).await;
        };
        // Mid-job elsewhere: the documents are changing; the finished version is read
        // by the next question.
        if project.status == ProjectStatus::Indexing
            || inner.replicas.holds(project_id, project.updated_at)
        {
            return Ok(());
        }
        let _one_at_a_time = inner.replicas.rebuilding.lock().await;
        if inner.replicas.holds(project_id, project.updated_at) {
            return Ok(());
        }
        tracing::info!(
            project = project_id,
            version = project.updated_at,
            "refreshing this instance's index of a project changed elsewhere"
        );
        let texts = inner.store.document_texts(project_id).await?;
        let chunks = chunk_in_background(texts, crate::rag::Depth::Syntax, &|_, _| {}).await?;
        let changes = IndexChanges {
            replace_all: true,
            added: chunks,
            ..IndexChanges::default()
        };
        write_index(inner, project_id, changes).await?;
        inner.replicas.record(project_id, project.updated_at);
        Ok(())
    }
}

/// The project was deleted elsewhere: its chunks leave this index too.
async fn remove(inner: &Arc<Inner>, project_id: &str) -> Result<(), ProjectError> {
    if !inner.replicas.forget(project_id) {
        return Ok(());
    }
    write_index(
        inner,
        project_id,
        IndexChanges {
            replace_all: true,
            ..IndexChanges::default()
        },
    )
    .await
}
