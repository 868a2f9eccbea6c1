//! Wiki generation (SPEC §8): persisted, resumable jobs run by a bounded pool of page
//! workers. A job goes queued → preparing (phase 0) → generating_structure (1) →
//! generating_pages (2) → completed / partially_completed / failed (3), or is paused or
//! cancelled on the way. Everything a job has done lives in the database, so a restarted
//! server (or another server on the same database) carries on where it stopped, and a
//! finished page is never generated again.
//!
//! Exclusivity comes from leases: a worker claims a job, and each page it generates, with
//! a conditional UPDATE, and renews the lease while it works. A worker that dies simply
//! stops renewing; its own restart (same worker id, kept in the data folder) takes its
//! jobs back at once, any other worker once the lease has expired.

mod engine;
pub mod error;
pub mod export;
pub mod inputs;
mod llm;
pub mod pages;
mod progress;
mod project_inputs;
pub mod structure;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use app::protocol::rest::{NewWikiJob, Page, Wiki, WikiJob, WikiPage, WikiStructure};
use app::protocol::{JobProgress, JobStatus, ServerMsg, rooms};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

pub use error::WikiError;
pub use inputs::{InputError, MemoryInputs, NoProjects, WikiInputs};

use crate::clock::now_ms;
use crate::config::Config;
use crate::jobs::JobBoard;
use crate::providers::Providers;
use crate::rag::Rag;
use crate::realtime::Hub;
use crate::storage::Store;
use crate::storage::status_sets::WIKI_CANCELLABLE;
use crate::storage::wiki_jobs::WikiJobRow;

/// Attempts a page gets before it fails for good.
pub const MAX_PAGE_ATTEMPTS: u32 = 3;
const DEFAULT_LIST_LIMIT: u64 = 20;
const MAX_LIST_LIMIT: u64 = 200;

#[derive(Debug, Clone)]
pub struct WikiSettings {
    /// Pages generated at once by this process, over all jobs.
    pub page_concurrency: usize,
    /// How long a claim on a job or page lasts without renewal.
    pub lease: Duration,
    /// Delay before a failed page is tried again, times its attempts so far.
    pub retry_backoff: Duration,
    /// This worker's identity in claims; stable across restarts of one data folder.
    pub worker_id: String,
}

impl WikiSettings {
    pub fn from_config(config: &Config) -> Self {
        Self {
            page_concurrency: config.wiki_page_concurrency.max(1),
            lease: Duration::from_secs(config.wiki_lease_secs.max(1)),
            retry_backoff: Duration::from_millis(500),
            worker_id: worker_id(&config.data_dir),
        }
    }

    /// How often the engine looks for jobs it may take over.
    fn poll(&self) -> Duration {
        (self.lease / 3).clamp(Duration::from_millis(50), Duration::from_secs(5))
    }
}

/// The worker id kept in the data folder, so a restart recognises its own claims.
fn worker_id(data_dir: &Path) -> String {
    let path = data_dir.join("wiki-worker-id");
    if let Ok(id) = std::fs::read_to_string(&path)
        && !id.trim().is_empty()
    {
        return id.trim().to_owned();
    }
    let id = Uuid::new_v4().to_string();
    if let Err(e) = std::fs::create_dir_all(data_dir).and_then(|()| std::fs::write(&path, &id)) {
        // Still correct, only slower: after a restart its old claims wait out their lease.
        tracing::warn!(error = %e, "could not keep the wiki worker id");
    }
    id
}

/// What the wiki service works with.
pub struct WikiDeps {
    pub store: Store,
    pub hub: Arc<Hub>,
    pub board: Arc<JobBoard>,
    pub providers: Providers,
    pub rag: Arc<Rag>,
    pub inputs: Arc<dyn WikiInputs>,
    /// Cancelled when the server shuts down; running jobs then stop, resumable.
    pub shutdown: CancellationToken,
}

pub struct WikiService {
    store: Store,
    hub: Arc<Hub>,
    board: Arc<JobBoard>,
    providers: Providers,
    rag: Arc<Rag>,
    inputs: Arc<dyn WikiInputs>,
    settings: WikiSettings,
    /// The bounded worker pool: one permit per page being generated.
    permits: Arc<Semaphore>,
    /// Jobs this process runs, with the token that stops each.
    running: Mutex<HashMap<String, CancellationToken>>,
    /// Progress is read and published under this lock, so events never go backwards.
    publishing: tokio::sync::Mutex<()>,
    wake: Notify,
    started: AtomicBool,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl WikiService {
    pub fn new(deps: WikiDeps, settings: WikiSettings) -> Arc<Self> {
        Arc::new(Self {
            store: deps.store,
            hub: deps.hub,
            board: deps.board,
            providers: deps.providers,
            rag: deps.rag,
            inputs: deps.inputs,
            permits: Arc::new(Semaphore::new(settings.page_concurrency.max(1))),
            settings,
            running: Mutex::default(),
            publishing: tokio::sync::Mutex::new(()),
            wake: Notify::new(),
            started: AtomicBool::new(false),
            shutdown: deps.shutdown,
            tasks: TaskTracker::new(),
        })
    }

    pub fn worker_id(&self) -> &str {
        &self.settings.worker_id
    }

    /// Whether this process is running the job right now.
    pub fn runs_here(&self, job_id: &str) -> bool {
        self.running().contains_key(job_id)
    }

    fn running(&self) -> MutexGuard<'_, HashMap<String, CancellationToken>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a job for a project; it runs in the background.
    pub async fn create(&self, request: NewWikiJob) -> Result<WikiJob, WikiError> {
        let project_id = request.project_id.trim().to_owned();
        if project_id.is_empty() {
            return Err(WikiError::BadRequest("project_id is required".into()));
        }
        let language = request.language.unwrap_or_else(|| "en".into());
        let language = language.trim().to_owned();
        if language.is_empty()
            || language.len() > 16
            || !language
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(WikiError::BadRequest(
                "language must be a language code such as en, pt-BR or zh".into(),
            ));
        }
        let provider_name = request.provider.filter(|p| !p.trim().is_empty());
        let provider = self
            .providers
            .get(provider_name.as_deref())
            .ok_or_else(|| WikiError::UnknownProvider(provider_name.clone().unwrap_or_default()))?;
        let model = request
            .model
            .filter(|m| !m.trim().is_empty())
            .unwrap_or_else(|| provider.default_model().to_owned());
        match self.inputs.exists(&project_id).await {
            Ok(true) => {}
            Ok(false) | Err(InputError::NotFound) => {
                return Err(WikiError::ProjectNotFound(project_id));
            }
            Err(InputError::Failed(e)) => return Err(WikiError::Inputs(e)),
        }
        let now = now_ms() as i64;
        let row = WikiJobRow {
            id: Uuid::new_v4().to_string(),
            project_id,
            language,
            provider: provider.id().to_owned(),
            model,
            comprehensive: i64::from(request.comprehensive.unwrap_or(true)),
            filters: serde_json::to_string(&request.filters.unwrap_or_default())
                .unwrap_or_else(|_| "{}".into()),
            status: JobStatus::Queued,
            current_phase: 0,
            message: "Queued".into(),
            error: None,
            structure: None,
            structure_fallback: 0,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_wiki_job(&row).await?;
        self.publish(&row.id, None, None).await;
        self.wake.notify_one();
        self.job(&row.id).await
    }

    /// The job with its pages.
    pub async fn job(&self, id: &str) -> Result<WikiJob, WikiError> {
        let row = self
            .store
            .wiki_job(id)
            .await?
            .ok_or_else(|| WikiError::JobNotFound(id.to_owned()))?;
        let pages = self.store.wiki_pages(id).await?;
        let counts = self.store.wiki_page_counts(id).await?;
        Ok(progress::wiki_job(&row, counts, &pages))
    }

    /// Newest first; list items carry no pages.
    pub async fn jobs(
        &self,
        project_id: Option<&str>,
        status: Option<&str>,
        limit: Option<u64>,
        offset: Option<u64>,
    ) -> Result<Page<WikiJob>, WikiError> {
        let status = status
            .map(|text| {
                text.parse::<JobStatus>()
                    .map_err(|e| WikiError::BadRequest(e.to_string()))
            })
            .transpose()?;
        let limit = limit.unwrap_or(DEFAULT_LIST_LIMIT).clamp(1, MAX_LIST_LIMIT);
        let (rows, total) = self
            .store
            .wiki_jobs(project_id, status, limit, offset.unwrap_or(0))
            .await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let counts = self.store.wiki_page_counts(&row.id).await?;
            items.push(progress::wiki_job(&row, counts, &[]));
        }
        Ok(Page { items, total })
    }

    pub async fn cancel(&self, id: &str) -> Result<WikiJob, WikiError> {
        self.control(id, &WIKI_CANCELLABLE, JobStatus::Cancelled, "Cancelled")
            .await
    }

    /// Stops the job after aborting the pages in progress; finished pages are kept.
    pub async fn pause(&self, id: &str) -> Result<WikiJob, WikiError> {
        self.control(id, &JobStatus::WIKI_RUNNING, JobStatus::Paused, "Paused")
            .await
    }

    pub async fn resume(&self, id: &str) -> Result<WikiJob, WikiError> {
        self.control(id, &[JobStatus::Paused], JobStatus::Queued, "Resuming")
            .await
    }

    async fn control(
        &self,
        id: &str,
        from: &[JobStatus],
        to: JobStatus,
        message: &str,
    ) -> Result<WikiJob, WikiError> {
        if !self
            .store
            .control_wiki_job(id, from, to, message, now_ms())
            .await?
        {
            let row = self
                .store
                .wiki_job(id)
                .await?
                .ok_or_else(|| WikiError::JobNotFound(id.to_owned()))?;
            return Err(WikiError::Conflict(format!("the job is {}", row.status)));
        }
        // A job running in another process notices at its next lease renewal.
        if let Some(token) = self.running().get(id) {
            token.cancel();
        }
        self.publish(id, None, None).await;
        self.wake.notify_one();
        self.job(id).await
    }

    /// Gives a page that failed for good three new attempts; a finished job runs again
    /// for it (and becomes the project's wiki again when it completes).
    pub async fn retry_page(&self, id: &str, page_id: &str) -> Result<WikiJob, WikiError> {
        if !self.store.retry_wiki_page(id, page_id, now_ms()).await? {
            let job = self.job(id).await?;
            return Err(match job.pages.iter().find(|p| p.page_id == page_id) {
                None => WikiError::PageNotFound {
                    job: id.to_owned(),
                    page: page_id.to_owned(),
                },
                Some(page) => WikiError::Conflict(format!("the page is {}", page.status)),
            });
        }
        self.publish(id, None, None).await;
        self.wake.notify_one();
        self.job(id).await
    }

    /// The project's current wiki in `language`: the pages of the last job that finished.
    pub async fn wiki(&self, project_id: &str, language: &str) -> Result<Wiki, WikiError> {
        let not_found = || WikiError::WikiNotFound {
            project: project_id.to_owned(),
            language: language.to_owned(),
        };
        let (job_id, generated_at) = self
            .store
            .current_wiki(project_id, language)
            .await?
            .ok_or_else(not_found)?;
        let job = self.store.wiki_job(&job_id).await?.ok_or_else(not_found)?;
        let structure: WikiStructure = job
            .structure
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
            .ok_or_else(not_found)?;
        let pages = self
            .store
            .wiki_pages(&job_id)
            .await?
            .into_iter()
            .map(|p| WikiPage {
                id: p.page_id,
                title: p.title,
                section: p.section,
                content: p.content.unwrap_or_default(),
                importance: p.importance,
                relevant_files: serde_json::from_str(&p.relevant_files).unwrap_or_default(),
                related_pages: serde_json::from_str(&p.related_pages).unwrap_or_default(),
                status: p.status,
            })
            .collect();
        Ok(Wiki {
            project_id: project_id.to_owned(),
            language: language.to_owned(),
            job_id,
            generated_at: generated_at.max(0) as u64,
            structure,
            pages,
            languages: self.store.wiki_languages(project_id).await?,
        })
    }

    /// The job's progress as stored (fresh whichever process runs it); None if no such job.
    pub async fn progress(&self, id: &str) -> Result<Option<JobProgress>, WikiError> {
        let Some(row) = self.store.wiki_job(id).await? else {
            return Ok(None);
        };
        let counts = self.store.wiki_page_counts(id).await?;
        Ok(Some(progress::job_progress(&row, counts, None)))
    }

    /// Publishes the job's progress to its room (and the seed-002 sockets); `message`
    /// replaces the stored one for per-page events.
    async fn publish(&self, id: &str, page: Option<(&str, &str)>, message: Option<String>) {
        let _order = self.publishing.lock().await;
        let row = self.store.wiki_job(id).await;
        let counts = self.store.wiki_page_counts(id).await;
        match (row, counts) {
            (Ok(Some(row)), Ok(counts)) => {
                let mut progress = progress::job_progress(&row, counts, page);
                if let Some(message) = message {
                    progress.message = message;
                }
                self.hub
                    .publish(rooms::WIKI_JOBS, ServerMsg::JobProgress(progress.clone()));
                self.board.publish(&self.hub, progress);
            }
            (Ok(None), _) => {}
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, job = id, "could not read a wiki job's progress");
            }
        }
    }
}
