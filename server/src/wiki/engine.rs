//! The engine: finds jobs this worker may run (new, its own from before a restart, or
//! another worker's whose lease expired), claims them, and runs each through its phases
//! with the bounded pool of page workers. On shutdown every job is released as it
//! stands, resumable.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use app::protocol::rest::WikiFilters;
use app::protocol::{JobStatus, PageStatus};
use futures::future::try_join_all;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::llm::{self, AskError};
use super::pages::{self, PagePlan};
use super::structure::{self, Planned};
use super::{MAX_PAGE_ATTEMPTS, WikiService};
use crate::clock::now_ms;
use crate::providers::{ChatProvider, ProviderError};
use crate::storage::StorageError;
use crate::storage::wiki_jobs::{Finish, WikiJobRow};
use crate::storage::wiki_pages::WikiPageRow;

const LAYOUT_NOTE: &str = "used a structure derived from the repository layout";

impl WikiService {
    /// Starts the engine (once): resumes every job that was running, then keeps looking
    /// for new ones until shutdown.
    pub fn start(self: &Arc<Self>) {
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let this = Arc::clone(self);
        self.tasks.spawn(async move { this.engine().await });
    }

    /// Resolves when the engine and every job it ran have stopped (after shutdown).
    pub async fn stopped(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }

    async fn engine(self: Arc<Self>) {
        // Pages this worker had in progress when it died go back to pending.
        match self
            .store
            .release_worker_pages(&self.settings.worker_id, now_ms())
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                pages = n,
                "wiki pages of an interrupted run are pending again"
            ),
            Err(e) => tracing::warn!(error = %e, "could not release interrupted wiki pages"),
        }
        loop {
            if let Err(e) = self.claim_jobs().await {
                tracing::warn!(error = %e, "could not look for wiki jobs");
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.settings.poll()) => {}
                _ = self.shutdown.cancelled() => return,
            }
        }
    }

    async fn claim_jobs(self: &Arc<Self>) -> Result<(), StorageError> {
        let worker = &self.settings.worker_id;
        let now = now_ms();
        for id in self.store.claimable_wiki_jobs(worker, now).await? {
            if self.shutdown.is_cancelled() {
                break;
            }
            if self.runs_here(&id) {
                continue;
            }
            let lease_until = now + self.settings.lease.as_millis() as u64;
            if !self
                .store
                .claim_wiki_job(&id, worker, now, lease_until)
                .await?
            {
                continue;
            }
            let cancel = self.shutdown.child_token();
            self.running().insert(id.clone(), cancel.clone());
            let this = Arc::clone(self);
            self.tasks.spawn(async move { this.run(id, cancel).await });
        }
        Ok(())
    }

    #[tracing::instrument(name = "wiki_job", skip_all, fields(job = %id))]
    async fn run(self: Arc<Self>, id: String, cancel: CancellationToken) {
        let started = std::time::Instant::now();
        let _running = crate::telemetry::Held::job("wiki");
        let done = CancellationToken::new();
        let heartbeat =
            tokio::spawn(Arc::clone(&self).heartbeat(id.clone(), cancel.clone(), done.clone()));
        // A run ends when the job finishes, pauses, is cancelled or the server stops.
        let ended = match self.drive(&id, &cancel).await {
            Ok(()) => "ended",
            Err(e) => {
                tracing::error!(error = %e, job = %id, "wiki job interrupted by a storage error");
                "storage_error"
            }
        };
        metrics::counter!(crate::telemetry::JOBS_FINISHED, "kind" => "wiki", "status" => ended)
            .increment(1);
        metrics::histogram!(crate::telemetry::JOB_DURATION, "kind" => "wiki", "status" => ended)
            .record(started.elapsed().as_secs_f64());
        done.cancel();
        let _ = heartbeat.await;
        // Whatever stopped the run, what it had in progress goes back to pending and a
        // job still running is left for this or another worker to take up again.
        if let Err(e) = self
            .store
            .release_wiki_job(&id, &self.settings.worker_id, now_ms())
            .await
        {
            tracing::warn!(error = %e, job = %id, "could not release a wiki job");
        }
        self.running().remove(&id);
        self.wake.notify_one();
    }

    /// Renews the job's lease (and its pages'); stops the run when the job was paused or
    /// cancelled elsewhere, or taken over after this worker stalled.
    async fn heartbeat(
        self: Arc<Self>,
        id: String,
        cancel: CancellationToken,
        done: CancellationToken,
    ) {
        let every = self.settings.lease / 3;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = done.cancelled() => return,
            }
            let lease_until = now_ms() + self.settings.lease.as_millis() as u64;
            match self
                .store
                .renew_wiki_job(&id, &self.settings.worker_id, lease_until)
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    cancel.cancel();
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, job = %id, "could not renew a wiki job's lease")
                }
            }
        }
    }

    async fn drive(&self, id: &str, cancel: &CancellationToken) -> Result<(), StorageError> {
        let Some(job) = self.store.wiki_job(id).await? else {
            return Ok(());
        };
        let Some(provider) = self.providers.get(Some(&job.provider)) else {
            let reason = format!("provider {} is not configured on this server", job.provider);
            return self.fail(id, &reason).await;
        };
        let mut fallback_used = job.structure_fallback != 0;
        if job.structure.is_none() {
            let Some(used) = self
                .structure_phase(&job, provider.as_ref(), cancel)
                .await?
            else {
                return Ok(());
            };
            fallback_used = used;
        } else if job.status != JobStatus::GeneratingPages
            && !self
                .advance(id, JobStatus::GeneratingPages, 2, "Generating pages")
                .await?
        {
            return Ok(());
        }

        self.pages_phase(&job, &provider, cancel).await?;
        if cancel.is_cancelled() {
            return Ok(());
        }
        let counts = self.store.wiki_page_counts(id).await?;
        if counts.unfinished > 0 {
            // Paused or taken over between the last page and here.
            return Ok(());
        }
        let pages = self.store.wiki_pages(id).await?;
        let first_error = pages
            .iter()
            .find(|p| p.status == PageStatus::Failed)
            .map(|p| {
                format!(
                    "{}: {}",
                    p.title,
                    p.error.as_deref().unwrap_or("unknown error")
                )
            });
        let note = if fallback_used {
            format!(" ({LAYOUT_NOTE})")
        } else {
            String::new()
        };
        let (status, message, error) = if counts.failed == 0 {
            (
                JobStatus::Completed,
                format!("Wiki generation completed{note}"),
                None,
            )
        } else if counts.completed > 0 {
            (
                JobStatus::PartiallyCompleted,
                format!("{} of {} pages failed{note}", counts.failed, counts.total),
                first_error,
            )
        } else {
            (
                JobStatus::Failed,
                format!("Every page failed{note}"),
                first_error.map(|e| format!("every page failed; first: {e}")),
            )
        };
        let finish = Finish {
            status,
            message: &message,
            error: error.as_deref(),
            publish: status != JobStatus::Failed,
        };
        if self
            .store
            .finish_wiki_job(id, &self.settings.worker_id, finish, now_ms())
            .await?
        {
            self.publish(id, None, None).await;
        }
        Ok(())
    }

    /// Phases 0 and 1. Some(whether the layout fallback was used) once the structure is
    /// stored; None when the run stopped or the job failed.
    async fn structure_phase(
        &self,
        job: &WikiJobRow,
        provider: &dyn ChatProvider,
        cancel: &CancellationToken,
    ) -> Result<Option<bool>, StorageError> {
        let id = job.id.as_str();
        if !self
            .advance(
                id,
                JobStatus::Preparing,
                0,
                "Fetching and indexing the repository",
            )
            .await?
        {
            return Ok(None);
        }
        let ready = tokio::select! {
            ready = self.inputs.wait_ready(&job.project_id) => ready,
            _ = cancel.cancelled() => return Ok(None),
        };
        if let Err(e) = ready {
            self.fail(id, &format!("the project could not be prepared: {e}"))
                .await?;
            return Ok(None);
        }
        let paths = match self.inputs.document_paths(&job.project_id).await {
            Ok(paths) => paths,
            Err(e) => {
                self.fail(id, &format!("the project's files could not be listed: {e}"))
                    .await?;
                return Ok(None);
            }
        };
        let filters: WikiFilters = serde_json::from_str(&job.filters).unwrap_or_default();
        let paths = structure::apply_filters(paths, &filters);
        if !self
            .advance(
                id,
                JobStatus::GeneratingStructure,
                1,
                "Determining the wiki structure",
            )
            .await?
        {
            return Ok(None);
        }
        let Some((planned, note)) = self.plan(job, provider, &paths, cancel).await else {
            return Ok(None);
        };
        let structure = serde_json::to_string(&planned.structure).unwrap_or_else(|_| "{}".into());
        let count = planned.pages.len();
        let message = match &note {
            Some(note) => format!("{note}; generating {count} pages"),
            None => format!("Generating {count} pages"),
        };
        let saved = self
            .store
            .save_wiki_structure(
                id,
                &self.settings.worker_id,
                &structure,
                note.is_some(),
                &planned.pages,
                &message,
                now_ms(),
            )
            .await?;
        if !saved {
            return Ok(None);
        }
        self.publish(id, None, None).await;
        Ok(Some(note.is_some()))
    }

    /// The structure, and a note when it had to come from the layout; None if stopped.
    async fn plan(
        &self,
        job: &WikiJobRow,
        provider: &dyn ChatProvider,
        paths: &[String],
        cancel: &CancellationToken,
    ) -> Option<(Planned, Option<String>)> {
        let comprehensive = job.comprehensive != 0;
        let name = self
            .inputs
            .name(&job.project_id)
            .await
            .unwrap_or_else(|| "Repository".into());
        let layout = || structure::from_layout(&name, paths, comprehensive);
        if provider.id() == "offline" {
            let note = format!("The offline provider cannot plan a wiki; {LAYOUT_NOTE}");
            return Some((layout(), Some(note)));
        }
        let readme = match structure::readme_path(paths) {
            Some(path) => self
                .inputs
                .read_document(&job.project_id, path)
                .await
                .ok()
                .flatten()
                .unwrap_or_default(),
            None => String::new(),
        };
        let answer = llm::ask(
            provider,
            &job.model,
            structure::system_prompt(&job.language),
            structure::user_prompt(paths, &readme, comprehensive),
            cancel,
        )
        .await;
        match answer {
            Ok(answer) => match structure::parse(&answer, paths) {
                Some(planned) => Some((planned, None)),
                None => Some((
                    layout(),
                    Some(format!(
                        "The model's structure did not parse; {LAYOUT_NOTE}"
                    )),
                )),
            },
            Err(AskError::Stopped) => None,
            Err(e) => Some((
                layout(),
                Some(format!(
                    "The model could not plan the wiki ({e}); {LAYOUT_NOTE}"
                )),
            )),
        }
    }

    async fn pages_phase(
        &self,
        job: &WikiJobRow,
        provider: &Arc<dyn ChatProvider>,
        cancel: &CancellationToken,
    ) -> Result<(), StorageError> {
        let titles: HashMap<String, String> = self
            .store
            .wiki_pages(&job.id)
            .await?
            .into_iter()
            .map(|p| (p.page_id, p.title))
            .collect();
        let settled = Notify::new();
        let workers = (0..self.settings.page_concurrency.max(1))
            .map(|_| self.page_worker(job, provider.as_ref(), &titles, &settled, cancel));
        try_join_all(workers).await?;
        Ok(())
    }

    /// Claims and generates pages of the job until none is left to claim. `settled` is
    /// notified whenever a page of the job completes or fails, waking idle workers.
    async fn page_worker(
        &self,
        job: &WikiJobRow,
        provider: &dyn ChatProvider,
        titles: &HashMap<String, String>,
        settled: &Notify,
        cancel: &CancellationToken,
    ) -> Result<(), StorageError> {
        let worker = &self.settings.worker_id;
        loop {
            let permit = tokio::select! {
                permit = Arc::clone(&self.permits).acquire_owned() => permit,
                _ = cancel.cancelled() => return Ok(()),
            };
            let Ok(_permit) = permit else {
                return Ok(());
            };
            let now = now_ms();
            let lease_until = now + self.settings.lease.as_millis() as u64;
            let Some(page) = self
                .store
                .claim_wiki_page(&job.id, worker, now, lease_until)
                .await?
            else {
                drop(_permit);
                // Registered before the check, so a page settling in between still wakes us.
                let woken = settled.notified();
                tokio::pin!(woken);
                woken.as_mut().enable();
                if self.store.wiki_page_counts(&job.id).await?.unfinished == 0 {
                    return Ok(());
                }
                // Left: pages waiting out a retry delay, or held by a worker whose lease
                // has not expired yet.
                let wait = self.settings.retry_backoff.min(self.settings.poll());
                tokio::select! {
                    _ = tokio::time::sleep(wait) => continue,
                    _ = &mut woken => continue,
                    _ = cancel.cancelled() => return Ok(()),
                }
            };
            let title = page.title.clone();
            self.publish(
                &job.id,
                Some((&page.page_id, &title)),
                Some(format!("Generating {title}")),
            )
            .await;
            let written = self.write_page(job, provider, &page, titles, cancel).await;
            // Whatever happened, workers waiting for this page may go on.
            let _wake = WakeOnDrop(settled);
            match written {
                Ok(content) => {
                    if self
                        .store
                        .complete_wiki_page(&job.id, &page.page_id, worker, &content, now_ms())
                        .await?
                    {
                        self.publish(
                            &job.id,
                            Some((&page.page_id, &title)),
                            Some(format!("Generated {title}")),
                        )
                        .await;
                    }
                }
                // Released, back to pending, when the run ends.
                Err(AskError::Stopped) => return Ok(()),
                Err(e) => {
                    let attempts = page.attempts.max(0) as u32 + 1;
                    let delay = self.settings.retry_backoff * attempts;
                    let now = now_ms();
                    let status = self
                        .store
                        .fail_wiki_page(
                            &job.id,
                            &page.page_id,
                            worker,
                            &e.to_string(),
                            MAX_PAGE_ATTEMPTS,
                            now + delay.as_millis() as u64,
                            now,
                        )
                        .await?;
                    let message = match status {
                        Some(PageStatus::Failed) => {
                            format!("{title} failed after {attempts} attempts: {e}")
                        }
                        _ => format!("{title} will be retried: {e}"),
                    };
                    self.publish(&job.id, Some((&page.page_id, &title)), Some(message))
                        .await;
                }
            }
        }
    }

    async fn write_page(
        &self,
        job: &WikiJobRow,
        provider: &dyn ChatProvider,
        page: &WikiPageRow,
        titles: &HashMap<String, String>,
        cancel: &CancellationToken,
    ) -> Result<String, AskError> {
        let files: Vec<String> = serde_json::from_str(&page.relevant_files).unwrap_or_default();
        let related: Vec<String> = serde_json::from_str::<Vec<String>>(&page.related_pages)
            .unwrap_or_default()
            .iter()
            .filter_map(|id| titles.get(id).cloned())
            .collect();
        let plan = PagePlan {
            title: &page.title,
            relevant_files: &files,
            related_titles: &related,
            importance: page.importance,
        };
        let excerpts =
            pages::excerpts(&self.rag, self.inputs.as_ref(), &job.project_id, &plan).await;
        if provider.id() == "offline" {
            return Ok(pages::extractive(&plan, &excerpts));
        }
        // A prompt over the model's window is tried again with half the excerpts, then a
        // quarter, before the attempt counts as failed.
        let mut keep = excerpts.len();
        loop {
            let answer = llm::ask(
                provider,
                &job.model,
                pages::system_prompt(&job.language),
                pages::user_prompt(&plan, &excerpts[..keep]),
                cancel,
            )
            .await;
            match answer {
                Err(AskError::Provider(ProviderError::ContextTooLong))
                    if keep > 1 && keep * 4 > excerpts.len() =>
                {
                    keep /= 2;
                }
                answer => return Ok(pages::tidy(&answer?, &plan)),
            }
        }
    }

    /// Moves the job this worker holds to the next running status; false when it no
    /// longer may (paused, cancelled, or taken over).
    async fn advance(
        &self,
        id: &str,
        status: JobStatus,
        phase: u8,
        message: &str,
    ) -> Result<bool, StorageError> {
        let moved = self
            .store
            .advance_wiki_job(
                id,
                &self.settings.worker_id,
                status,
                phase,
                message,
                now_ms(),
            )
            .await?;
        if moved {
            self.publish(id, None, None).await;
        }
        Ok(moved)
    }

    async fn fail(&self, id: &str, reason: &str) -> Result<(), StorageError> {
        let message = format!("Wiki generation failed: {reason}");
        let finish = Finish {
            status: JobStatus::Failed,
            message: &message,
            error: Some(reason),
            publish: false,
        };
        if self
            .store
            .finish_wiki_job(id, &self.settings.worker_id, finish, now_ms())
            .await?
        {
            self.publish(id, None, None).await;
        }
        Ok(())
    }
}

/// Wakes every idle page worker of the job once a page has been settled (stored as
/// completed, failed, or pending again).
struct WakeOnDrop<'a>(&'a Notify);

impl Drop for WakeOnDrop<'_> {
    fn drop(&mut self) {
        self.0.notify_waiters();
    }
}
