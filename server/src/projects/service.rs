//! The project service: creates projects from a git URL, a local folder or nothing (for
//! uploads), runs their indexing jobs one per project at a time, and answers what chat
//! and wiki generation need: paths, file texts, and "is it ready yet".

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::protocol::rest::{
    CreateProjectRequest, DocumentContent, DocumentInfo, IndexReport, Page, Project,
    ProjectFilters, ProjectKind, ProjectStatus,
};
use app::protocol::{JobProgress, JobStatus, ProjectChange, ServerMsg, rooms};
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::ProjectError;
use super::filters::Filters;
use super::git::remove_dir;
use super::indexer::{self, Mode};
use super::paths;
use super::pdf::PdfLimits;
use super::replica::Replicas;
use super::url_policy::{Source, SourcePolicy};
use crate::clock::now_ms;
use crate::cluster::{Lease, Signal};
use crate::config::Config;
use crate::jobs::JobBoard;
use crate::rag::Rag;
use crate::realtime::Hub;
use crate::storage::Store;
use crate::storage::projects::NewProject;
use crate::telemetry;

/// Indexing jobs running at once; the rest wait their turn (chunking uses every core).
const CONCURRENT_JOBS: usize = 2;
const MAX_NAME_CHARS: usize = 200;
const MAX_TOKEN_CHARS: usize = 4096;
/// With several instances, how often `wait_ready` looks at a project another instance
/// may be indexing (its status changes are not announced here).
const SHARED_STATUS_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Limits and places, from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub clone_timeout: Duration,
    pub max_repo_bytes: u64,
    pub max_file_bytes: u64,
    pub max_upload_bytes: usize,
    pub pdf: PdfLimits,
}

impl Settings {
    pub fn from_config(config: &Config) -> Self {
        Self {
            data_dir: config.data_dir.clone(),
            clone_timeout: Duration::from_secs(config.clone_timeout_secs.max(1)),
            max_repo_bytes: config.max_repo_bytes,
            max_file_bytes: config.max_file_bytes,
            max_upload_bytes: config.max_upload_bytes,
            pdf: PdfLimits::new(
                config.pdf_extractor.clone(),
                config.pdf_memory_mib,
                config.pdf_timeout_secs,
            ),
        }
    }
}

/// What the jobs share with the service.
pub struct Inner {
    pub(super) store: Store,
    pub(super) rag: Arc<Rag>,
    pub(super) hub: Arc<Hub>,
    pub(super) jobs: Arc<JobBoard>,
    pub(super) policy: SourcePolicy,
    pub(super) settings: Settings,
    /// Projects with a job queued or running, and the switch that cancels it.
    active: Mutex<HashMap<String, CancellationToken>>,
    /// Which version of each project this instance's index holds (several instances).
    pub(super) replicas: Replicas,
    /// Bumped whenever a project's status changes, for `wait_ready`.
    status: watch::Sender<u64>,
    permits: Semaphore,
    shutdown: CancellationToken,
}

pub struct ProjectService {
    inner: Arc<Inner>,
    /// `ensure_for_source` is check-then-create; two callers must not both create.
    ensure_lock: tokio::sync::Mutex<()>,
}

/// A project's claim on running a job; released when dropped, even by a panic.
struct Claim {
    inner: Arc<Inner>,
    project_id: String,
    /// Cancels the project's job.
    cancel: CancellationToken,
    /// With several instances: the project's indexing lease, so one instance indexes it
    /// at a time and another takes over if that one dies.
    _lease: Option<Lease>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.inner
            .active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.project_id);
    }
}

impl Inner {
    fn claim(self: &Arc<Self>, project_id: &str) -> Result<Claim, ProjectError> {
        let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        if active.contains_key(project_id) {
            return Err(ProjectError::Busy);
        }
        let cancel = CancellationToken::new();
        active.insert(project_id.to_owned(), cancel.clone());
        Ok(Claim {
            inner: Arc::clone(self),
            project_id: project_id.to_owned(),
            cancel,
            _lease: None,
        })
    }

    /// [`claim`](Self::claim), and with several instances the project's indexing lease:
    /// `Busy` while another instance indexes it.
    async fn claim_everywhere(self: &Arc<Self>, project_id: &str) -> Result<Claim, ProjectError> {
        let mut claim = self.claim(project_id)?;
        if let Some(cluster) = self.hub.cluster() {
            claim._lease = Some(
                cluster
                    .acquire(&format!("indexing:{project_id}"))
                    .await
                    .map_err(|e| ProjectError::internal("taking the indexing lease", e))?
                    .ok_or(ProjectError::Busy)?,
            );
        }
        Ok(claim)
    }

    pub(super) fn is_active(&self, project_id: &str) -> bool {
        self.active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(project_id)
    }

    /// Cancels the project's job if this instance runs it.
    pub(super) fn cancel_here(&self, project_id: &str) -> bool {
        match self
            .active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(project_id)
        {
            Some(cancel) => {
                cancel.cancel();
                true
            }
            None => false,
        }
    }

    /// A job stopped by request: the project fails with that reason, keeping what the
    /// index held before.
    async fn cancelled(&self, project_id: &str, job_id: &str) {
        let message = "indexing was cancelled".to_owned();
        if let Err(e) = self
            .store
            .fail_project_index(project_id, &message, now_ms())
            .await
        {
            tracing::error!(project = project_id, error = %e, "could not store a cancelled job");
        }
        self.publish_progress(project_id, job_id, JobStatus::Cancelled, 100.0, message);
        metrics::counter!(telemetry::JOBS_FINISHED, "kind" => "indexing", "status" => "cancelled")
            .increment(1);
        self.status_changed(project_id, ProjectStatus::Failed);
    }

    /// Publishes a job's progress to its job room (kept for late subscribers) and to the
    /// project's room.
    pub(super) fn publish_progress(
        &self,
        project_id: &str,
        job_id: &str,
        status: JobStatus,
        percent: f32,
        message: String,
    ) {
        let progress = indexing_progress(job_id, status, percent, message);
        self.hub.publish(
            &rooms::project(project_id),
            ServerMsg::JobProgress(progress.clone()),
        );
        self.jobs.publish(&self.hub, progress);
    }

    pub(super) fn status_changed(&self, project_id: &str, status: ProjectStatus) {
        self.status.send_modify(|n| *n = n.wrapping_add(1));
        self.hub.publish(
            &rooms::project(project_id),
            ServerMsg::ProjectUpdate {
                project_id: project_id.to_owned(),
                update: ProjectChange::StatusChanged,
                document_id: None,
                path: None,
                status: Some(status),
            },
        );
    }

    /// Marks the project indexing and runs the job in the background.
    async fn start_job(
        self: &Arc<Self>,
        project: Project,
        job_id: String,
        token: Option<String>,
        mode: Mode,
    ) -> Result<String, ProjectError> {
        let claim = self.claim_everywhere(&project.id).await?;
        self.launch(claim, project, job_id, token, mode).await
    }

    /// [`start_job`](Self::start_job) with the claim already taken.
    async fn launch(
        self: &Arc<Self>,
        claim: Claim,
        project: Project,
        job_id: String,
        token: Option<String>,
        mode: Mode,
    ) -> Result<String, ProjectError> {
        self.store
            .set_project_indexing(&project.id, &job_id, now_ms())
            .await?;
        self.status_changed(&project.id, ProjectStatus::Indexing);
        self.publish_progress(
            &project.id,
            &job_id,
            JobStatus::Queued,
            0.0,
            "waiting to start".into(),
        );
        let inner = Arc::clone(self);
        let id = job_id.clone();
        tokio::spawn(async move { inner.run_job(claim, project, id, token, mode).await });
        Ok(job_id)
    }

    #[tracing::instrument(name = "indexing", skip_all, fields(project = %project.id, job = %job_id))]
    async fn run_job(
        self: Arc<Self>,
        claim: Claim,
        project: Project,
        job_id: String,
        token: Option<String>,
        mode: Mode,
    ) {
        let cancel = claim.cancel.clone();
        // On shutdown the project stays `indexing`; the next start runs it again.
        let _permit = tokio::select! {
            permit = self.permits.acquire() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
            () = self.shutdown.cancelled() => return,
            () = cancel.cancelled() => return self.cancelled(&project.id, &job_id).await,
        };
        let id = project.id.as_str();
        let started = std::time::Instant::now();
        let _running = telemetry::Held::job("indexing");
        self.publish_progress(id, &job_id, JobStatus::Running, 0.0, "started".into());
        let progress = |percent: f32, message: String| {
            self.publish_progress(id, &job_id, JobStatus::Running, percent, message);
        };
        let result = tokio::select! {
            result = indexer::run(&self, &project, &job_id, token.as_deref(), mode, &progress) => result,
            () = self.shutdown.cancelled() => return,
            () = cancel.cancelled() => return self.cancelled(id, &job_id).await,
        };
        let now = now_ms();
        let mut refinement = None;
        let (status, stored) = match result {
            Ok(mut outcome) => {
                let first_pass = std::mem::take(&mut outcome.first_pass);
                let message = summary(&outcome.report);
                let stored = self
                    .store
                    .finish_project_index(id, outcome.commit.as_deref(), &outcome.report, now)
                    .await;
                if stored.is_ok() {
                    // The index holds what this run stored, the version `now`.
                    self.replicas.record(id, now);
                    if !first_pass.is_empty() {
                        refinement = Some((first_pass, outcome));
                    }
                }
                self.publish_progress(id, &job_id, JobStatus::Completed, 100.0, message);
                (ProjectStatus::Ready, stored)
            }
            Err(e) => {
                tracing::warn!(project = id, error = %e, "indexing failed");
                let message = e.public_message();
                let stored = self.store.fail_project_index(id, &message, now).await;
                self.publish_progress(id, &job_id, JobStatus::Failed, 100.0, message);
                (ProjectStatus::Failed, stored)
            }
        };
        if let Err(e) = stored {
            tracing::error!(project = id, error = %e, "could not store the indexing outcome");
        }
        let outcome = if status == ProjectStatus::Ready {
            "completed"
        } else {
            "failed"
        };
        metrics::counter!(telemetry::JOBS_FINISHED, "kind" => "indexing", "status" => outcome)
            .increment(1);
        metrics::histogram!(telemetry::JOB_DURATION, "kind" => "indexing", "status" => outcome)
            .record(started.elapsed().as_secs_f64());
        self.status_changed(id, status);
        // Answerable from here on; the job still holds the project while it refines.
        if let Some((first_pass, outcome)) = refinement {
            let refined = tokio::select! {
                refined = self.refine(id, first_pass, outcome, now) => refined,
                () = self.shutdown.cancelled() => false,
                () = cancel.cancelled() => {
                    tracing::info!(project = id, "refining stopped; the project keeps its first-pass chunks");
                    false
                }
            };
            // Free before announced, so whoever hears it can index or delete at once.
            drop(claim);
            if refined {
                self.status_changed(id, ProjectStatus::Ready);
            }
        }
    }

    /// Replaces a run's first-pass chunks with syntax chunks, then stores the run's
    /// report again with the chunks the index now holds, under the same version, since
    /// the documents did not change. False if the index was not changed.
    async fn refine(
        self: &Arc<Self>,
        id: &str,
        first_pass: Vec<(String, String)>,
        outcome: indexer::Outcome,
        version: u64,
    ) -> bool {
        let refined = match indexer::refine(self, id, first_pass).await {
            Ok(refined) => refined,
            Err(e) => {
                tracing::warn!(project = id, error = %e, "could not refine the first-pass chunks");
                return false;
            }
        };
        let mut report = outcome.report;
        report.chunks_indexed = report
            .chunks_indexed
            .saturating_sub(outcome.first_pass_chunks)
            + refined;
        if let Err(e) = self
            .store
            .finish_project_index(id, outcome.commit.as_deref(), &report, version)
            .await
        {
            tracing::error!(project = id, error = %e, "could not store the refined report");
        }
        true
    }
}

/// Cancels jobs here that another instance was asked to cancel.
async fn obey_signals(
    mut signals: tokio::sync::broadcast::Receiver<Signal>,
    inner: std::sync::Weak<Inner>,
) {
    loop {
        match signals.recv().await {
            Ok(Signal::CancelIndexing { project_id }) => {
                let Some(inner) = inner.upgrade() else { return };
                inner.cancel_here(&project_id);
            }
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "signals were missed");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// An indexing job's progress: one phase, no pages.
pub(super) fn indexing_progress(
    job_id: &str,
    status: JobStatus,
    percent: f32,
    message: String,
) -> JobProgress {
    JobProgress {
        job_id: job_id.to_owned(),
        status,
        current_phase: 0,
        progress_percent: percent.clamp(0.0, 100.0),
        message,
        page_id: None,
        page_title: None,
        total_pages: 0,
        completed_pages: 0,
        failed_pages: 0,
    }
}

fn summary(report: &IndexReport) -> String {
    format!(
        "indexed: {} added, {} changed, {} removed, {} unchanged, {} skipped; {} chunks written",
        report.added,
        report.changed,
        report.removed,
        report.unchanged,
        report.skipped,
        report.chunks_indexed
    )
}

fn invalid(message: impl Into<String>) -> ProjectError {
    ProjectError::InvalidInput(message.into())
}

/// Branch names git would accept and that cannot be read as an option.
fn valid_branch(branch: &str) -> Result<String, ProjectError> {
    let branch = branch.trim();
    let bad = branch.is_empty()
        || branch.len() > 255
        || branch.starts_with('-')
        || branch.contains("..")
        || branch
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(c));
    if bad {
        return Err(invalid("branch is not a valid git branch name"));
    }
    Ok(branch.to_owned())
}

impl ProjectService {
    pub fn new(
        store: Store,
        rag: Arc<Rag>,
        hub: Arc<Hub>,
        jobs: Arc<JobBoard>,
        config: &Config,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let service = Arc::new(Self {
            inner: Arc::new(Inner {
                store,
                rag,
                hub,
                jobs,
                policy: SourcePolicy::from_config(config),
                settings: Settings::from_config(config),
                active: Mutex::default(),
                replicas: Replicas::default(),
                status: watch::Sender::new(0),
                permits: Semaphore::new(CONCURRENT_JOBS),
                shutdown,
            }),
            ensure_lock: tokio::sync::Mutex::new(()),
        });
        if let Some(cluster) = service.inner.hub.cluster() {
            tokio::spawn(obey_signals(
                cluster.signals(),
                Arc::downgrade(&service.inner),
            ));
        }
        service
    }

    pub(super) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }

    /// Largest upload accepted, in bytes.
    pub fn max_upload_bytes(&self) -> usize {
        self.inner.settings.max_upload_bytes
    }

    /// Checks the request, stores the project and starts indexing it. Refused sources
    /// and bad input fail here, before anything is stored or fetched.
    pub async fn create(
        &self,
        req: CreateProjectRequest,
    ) -> Result<(Project, String), ProjectError> {
        let source = match req.source.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => Some(self.inner.policy.check(s).await?),
            _ => None,
        };
        self.create_checked(req, source).await
    }

    async fn create_checked(
        &self,
        req: CreateProjectRequest,
        source: Option<Source>,
    ) -> Result<(Project, String), ProjectError> {
        let kind = match &source {
            Some(Source::Git(_)) => ProjectKind::Git,
            Some(Source::Local(_)) => ProjectKind::Local,
            None => ProjectKind::Upload,
        };
        let name = match req.name.as_deref().map(str::trim) {
            Some(name) if !name.is_empty() => {
                if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
                    return Err(invalid(format!(
                        "name must have at most {MAX_NAME_CHARS} printable characters"
                    )));
                }
                name.to_owned()
            }
            _ => source
                .as_ref()
                .map(Source::default_name)
                .unwrap_or_else(|| "Uploads".to_owned()),
        };
        let branch = match req.branch.as_deref() {
            Some(b) if kind != ProjectKind::Git && !b.trim().is_empty() => {
                return Err(invalid("branch applies to git sources only"));
            }
            Some(b) if !b.trim().is_empty() => Some(valid_branch(b)?),
            _ => None,
        };
        if let Some(token) = req.token.as_deref().filter(|t| !t.is_empty()) {
            if kind != ProjectKind::Git {
                return Err(invalid("token applies to git sources only"));
            }
            // A newline would let the token add HTTP headers of its own.
            if token.len() > MAX_TOKEN_CHARS || token.chars().any(|c| c.is_control()) {
                return Err(invalid("token is not a valid access token"));
            }
        }
        let filters = ProjectFilters {
            included_dirs: req.included_dirs,
            excluded_dirs: req.excluded_dirs,
            included_files: req.included_files,
            excluded_files: req.excluded_files,
        };
        Filters::validate(&filters)?;
        let id = Uuid::new_v4().to_string();
        let job_id = Uuid::new_v4().to_string();
        // Claimed before the row exists, so start-up recovery, which runs every project
        // stored as `indexing`, cannot take this one over.
        let claim = self.inner.claim_everywhere(&id).await?;
        let source_text = match &source {
            Some(Source::Git(git)) => Some(git.url.clone()),
            Some(Source::Local(path)) => Some(path.display().to_string()),
            None => None,
        };
        let key = source.as_ref().map(Source::key);
        self.inner
            .store
            .insert_project(&NewProject {
                id: &id,
                name: &name,
                kind,
                source: source_text.as_deref(),
                source_key: key.as_deref(),
                branch: branch.as_deref(),
                filters: &filters,
                job_id: Some(&job_id),
                needs_token: req.token.as_deref().is_some_and(|t| !t.is_empty()),
                now: now_ms(),
            })
            .await?;
        let project = self.get(&id).await?;
        let mode = Mode::Sync { rebuild: false };
        let token = req.token.filter(|t| !t.is_empty());
        self.inner
            .launch(claim, project, job_id.clone(), token, mode)
            .await?;
        Ok((self.get(&id).await?, job_id))
    }

    pub async fn get(&self, id: &str) -> Result<Project, ProjectError> {
        self.inner
            .store
            .project(id)
            .await?
            .ok_or(ProjectError::NotFound)
    }

    /// Newest first.
    pub async fn list(&self, limit: u64, offset: u64) -> Result<Page<Project>, ProjectError> {
        Ok(self.inner.store.projects(limit, offset).await?)
    }

    /// Removes the project, its documents, its index entries and its clone. Refused
    /// (`Busy`) while it is being indexed.
    pub async fn delete(&self, id: &str) -> Result<(), ProjectError> {
        let _claim = self.inner.claim_everywhere(id).await?;
        if !self.inner.store.delete_project(id).await? {
            return Err(ProjectError::NotFound);
        }
        let rag = Arc::clone(&self.inner.rag);
        let project_id = id.to_owned();
        tokio::task::spawn_blocking(move || {
            rag.remove_project(&project_id)?;
            rag.commit()
        })
        .await??;
        remove_dir(&self.inner.settings.data_dir.join("repos").join(id)).await;
        self.inner.status.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }

    /// Cancels the project's indexing job, on whichever instance runs it: the project
    /// fails with "indexing was cancelled", keeping what its index held before.
    pub async fn cancel(&self, id: &str) -> Result<(), ProjectError> {
        if self.inner.cancel_here(id) {
            return Ok(());
        }
        if let Some(cluster) = self.inner.hub.cluster() {
            let held = cluster
                .is_held(&format!("indexing:{id}"))
                .await
                .map_err(|e| ProjectError::internal("reading the indexing lease", e))?;
            if held {
                let signal = Signal::CancelIndexing {
                    project_id: id.to_owned(),
                };
                return cluster
                    .signal(&signal)
                    .await
                    .map_err(|e| ProjectError::internal("asking another instance to cancel", e));
            }
        }
        self.get(id).await?;
        Err(ProjectError::NotIndexing)
    }

    /// Indexes the project again; only files whose content changed are re-chunked. A
    /// private repository needs its token again, since tokens are never stored.
    pub async fn reindex(&self, id: &str, token: Option<String>) -> Result<String, ProjectError> {
        let project = self.get(id).await?;
        if let Some(t) = token.as_deref()
            && (t.len() > MAX_TOKEN_CHARS || t.chars().any(|c| c.is_control()))
        {
            return Err(invalid("token is not a valid access token"));
        }
        let token = token.filter(|t| !t.is_empty());
        if project.needs_token && token.is_none() {
            return Err(ProjectError::TokenRequired);
        }
        let mode = Mode::Sync { rebuild: false };
        let job_id = Uuid::new_v4().to_string();
        self.inner.start_job(project, job_id, token, mode).await
    }

    pub async fn document_paths(&self, project_id: &str) -> Result<Vec<String>, ProjectError> {
        self.get(project_id).await?;
        Ok(self.inner.store.document_paths(project_id).await?)
    }

    pub async fn documents(&self, project_id: &str) -> Result<Vec<DocumentInfo>, ProjectError> {
        self.get(project_id).await?;
        Ok(self.inner.store.documents(project_id).await?)
    }

    /// The stored text of one document; `None` if the project has no such path. The
    /// path is checked first: `..` or an absolute path is `InvalidPath`, never a read.
    pub async fn read_document(
        &self,
        project_id: &str,
        path: &str,
    ) -> Result<Option<String>, ProjectError> {
        Ok(self
            .document_content(project_id, path)
            .await?
            .map(|d| d.content))
    }

    pub async fn document_content(
        &self,
        project_id: &str,
        path: &str,
    ) -> Result<Option<DocumentContent>, ProjectError> {
        let path = paths::normalize(path)?;
        self.get(project_id).await?;
        Ok(self.inner.store.document_content(project_id, &path).await?)
    }

    /// The project for this git URL or folder with these filters, created (and indexing)
    /// if there is none; one that failed is indexed again with `token`.
    pub async fn ensure_for_source(
        &self,
        source: &str,
        token: Option<String>,
        filters: ProjectFilters,
    ) -> Result<Project, ProjectError> {
        let _one_at_a_time = self.ensure_lock.lock().await;
        let checked = self.inner.policy.check(source).await?;
        if let Some(project) = self
            .inner
            .store
            .project_by_source(&checked.key(), None, &filters)
            .await?
        {
            if project.status == ProjectStatus::Failed {
                match self.reindex(&project.id, token).await {
                    Ok(_) | Err(ProjectError::Busy) => {}
                    Err(e) => return Err(e),
                }
                return self.get(&project.id).await;
            }
            return Ok(project);
        }
        let ProjectFilters {
            included_dirs,
            excluded_dirs,
            included_files,
            excluded_files,
        } = filters;
        let req = CreateProjectRequest {
            source: Some(source.to_owned()),
            token,
            included_dirs,
            excluded_dirs,
            included_files,
            excluded_files,
            ..CreateProjectRequest::default()
        };
        Ok(self.create_checked(req, Some(checked)).await?.0)
    }

    /// Resolves when the project is `ready` or `failed`, woken by status changes (and,
    /// with several instances, every second: the job may run on another one).
    pub async fn wait_ready(&self, project_id: &str) -> Result<Project, ProjectError> {
        let mut changes = self.inner.status.subscribe();
        let shared = self.inner.hub.is_shared();
        loop {
            let project = self.get(project_id).await?;
            if project.status != ProjectStatus::Indexing {
                return Ok(project);
            }
            tokio::select! {
                () = tokio::time::sleep(SHARED_STATUS_POLL), if shared => {}
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Err(ProjectError::Internal("the project service stopped".into()));
                    }
                }
                () = self.inner.shutdown.cancelled() => {
                    return Err(ProjectError::Internal("the server is shutting down".into()));
                }
            }
        }
    }

    /// Start-up: projects left `indexing` (the server stopped mid-job) are indexed again,
    /// and ready projects whose chunks the index lacks (a lost or fresh index folder)
    /// are re-chunked from the stored documents. With several instances only projects
    /// whose indexing lease is free are taken over (their instance died), and a lacking
    /// index is left to the replica check of the next question.
    pub async fn resume(&self) -> Result<(), ProjectError> {
        let shared = self.inner.hub.is_shared();
        for project in self.inner.store.all_projects().await? {
            if self.inner.is_active(&project.id) {
                continue;
            }
            let mode = match project.status {
                ProjectStatus::Indexing => Mode::Sync { rebuild: true },
                ProjectStatus::Ready => {
                    let rag = Arc::clone(&self.inner.rag);
                    let id = project.id.clone();
                    let indexed =
                        tokio::task::spawn_blocking(move || rag.project_chunk_count(&id)).await??;
                    if indexed == project.chunks {
                        self.inner.replicas.record(&project.id, project.updated_at);
                        continue;
                    }
                    if shared {
                        continue;
                    }
                    tracing::info!(
                        project = project.id,
                        indexed,
                        stored = project.chunks,
                        "rebuilding a project's index from the database"
                    );
                    Mode::FromDatabase
                }
                ProjectStatus::Failed => continue,
            };
            self.run_again(project, mode).await?;
        }
        Ok(())
    }

    /// With several instances: indexing left `indexing` by an instance that died (its
    /// lease expired) is taken over here. Called every few seconds.
    pub async fn take_over_orphans(&self) -> Result<(), ProjectError> {
        for project in self.inner.store.all_projects().await? {
            if project.status == ProjectStatus::Indexing && !self.inner.is_active(&project.id) {
                self.run_again(project, Mode::Sync { rebuild: true })
                    .await?;
            }
        }
        Ok(())
    }

    /// Starts a job for a project found unfinished; `Busy` (someone runs it) is fine. A
    /// private repository cannot be fetched without its token, which was never stored:
    /// it fails at once, saying so, and the user re-indexes it with the token.
    async fn run_again(&self, project: Project, mode: Mode) -> Result<(), ProjectError> {
        if project.needs_token && matches!(mode, Mode::Sync { .. }) {
            let message = ProjectError::TokenRequired.to_string();
            self.inner
                .store
                .fail_project_index(&project.id, &message, now_ms())
                .await?;
            if let Some(job_id) = &project.job_id {
                self.inner
                    .publish_progress(&project.id, job_id, JobStatus::Failed, 100.0, message);
            }
            self.inner
                .status_changed(&project.id, ProjectStatus::Failed);
            return Ok(());
        }
        let job_id = Uuid::new_v4().to_string();
        match self.inner.start_job(project, job_id, None, mode).await {
            Ok(_) | Err(ProjectError::Busy) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Deletes one document of a project and its index entries.
    pub async fn delete_document(
        &self,
        project_id: &str,
        document_id: &str,
    ) -> Result<(), ProjectError> {
        self.get(project_id).await?;
        let document = self
            .inner
            .store
            .document_info(project_id, document_id)
            .await?
            .ok_or(ProjectError::DocumentNotFound)?;
        self.inner
            .store
            .delete_document(project_id, document_id)
            .await?;
        let rag = Arc::clone(&self.inner.rag);
        let (id, path) = (project_id.to_owned(), document.path.clone());
        tokio::task::spawn_blocking(move || {
            rag.remove_document(&id, &path)?;
            rag.commit()
        })
        .await??;
        self.inner
            .store
            .refresh_project_counts(project_id, now_ms())
            .await?;
        self.inner.hub.publish(
            &rooms::project(project_id),
            ServerMsg::ProjectUpdate {
                project_id: project_id.to_owned(),
                update: ProjectChange::DocumentDeleted,
                document_id: Some(document.id),
                path: Some(document.path),
                status: None,
            },
        );
        Ok(())
    }
}
