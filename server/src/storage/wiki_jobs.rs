//! Wiki generation jobs: created queued, claimed by one worker at a time under a lease
//! that the worker renews, moved through their phases by that worker only, and
//! controlled (cancel, pause, resume) by anyone through guarded status changes.

use app::protocol::{JobStatus, PageStatus};

use super::status_sets::BindStatuses;
use super::wiki_pages::NewWikiPage;
use super::{Result, Store};

const RUNNING: &[JobStatus] = &JobStatus::WIKI_RUNNING;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct WikiJobRow {
    pub id: String,
    pub project_id: String,
    pub language: String,
    pub provider: String,
    pub model: String,
    pub comprehensive: i64,
    /// JSON.
    pub filters: String,
    #[sqlx(try_from = "String")]
    pub status: JobStatus,
    pub current_phase: i64,
    pub message: String,
    pub error: Option<String>,
    /// JSON, once phase 1 is done.
    pub structure: Option<String>,
    pub structure_fallback: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

macro_rules! job_columns {
    () => {
        "id, project_id, language, provider, model, comprehensive, filters, \
     status, current_phase, message, error, structure, structure_fallback, created_at, updated_at"
    };
}

/// How a worker finishes a job it holds.
pub struct Finish<'a> {
    pub status: JobStatus,
    pub message: &'a str,
    pub error: Option<&'a str>,
    /// Make this job's pages the project's current wiki in the job's language.
    pub publish: bool,
}

macro_rules! job_list_filter {
    () => {
        "WHERE ($1 IS NULL OR project_id = $1) AND ($2 IS NULL OR status = $2)"
    };
}

impl Store {
    pub async fn insert_wiki_job(&self, job: &WikiJobRow) -> Result<()> {
        sqlx::query(concat!(
            "INSERT INTO wiki_jobs (",
            job_columns!(),
            ") \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        ))
        .bind(&job.id)
        .bind(&job.project_id)
        .bind(&job.language)
        .bind(&job.provider)
        .bind(&job.model)
        .bind(job.comprehensive)
        .bind(&job.filters)
        .bind(job.status.as_str())
        .bind(job.current_phase)
        .bind(&job.message)
        .bind(job.error.clone())
        .bind(job.structure.clone())
        .bind(job.structure_fallback)
        .bind(job.created_at)
        .bind(job.updated_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn wiki_job(&self, id: &str) -> Result<Option<WikiJobRow>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            job_columns!(),
            " FROM wiki_jobs WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Newest first, optionally of one project and in one status; with the total count.
    pub async fn wiki_jobs(
        &self,
        project_id: Option<&str>,
        status: Option<JobStatus>,
        limit: u64,
        offset: u64,
    ) -> Result<(Vec<WikiJobRow>, u64)> {
        let (total,): (i64,) = sqlx::query_as(concat!(
            "SELECT COUNT(*) FROM wiki_jobs ",
            job_list_filter!()
        ))
        .bind(project_id.map(str::to_owned))
        .bind(status.map(JobStatus::as_str))
        .fetch_one(&self.pool)
        .await?;
        let rows = sqlx::query_as(concat!(
            "SELECT ",
            job_columns!(),
            " FROM wiki_jobs ",
            job_list_filter!(),
            " \
             ORDER BY created_at DESC, id LIMIT $3 OFFSET $4"
        ))
        .bind(project_id.map(str::to_owned))
        .bind(status.map(JobStatus::as_str))
        .bind(super::sql_count(limit))
        .bind(super::sql_count(offset))
        .fetch_all(&self.pool)
        .await?;
        Ok((rows, total.max(0) as u64))
    }

    /// The ids of the wiki jobs under way (not paused), newest first: what the header's
    /// badge counts.
    pub async fn running_wiki_jobs(&self) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM wiki_jobs WHERE status IN ($1, $2, $3, $4, $5) \
             ORDER BY created_at DESC, id LIMIT 1000",
        )
        .bind_statuses(RUNNING)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Running jobs this worker may take: unclaimed, its own (from before a restart), or
    /// held under a lease that has expired. Oldest first.
    pub async fn claimable_wiki_jobs(&self, worker: &str, now: u64) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM wiki_jobs WHERE status IN ($3, $4, $5, $6, $7) \
             AND (claimed_by IS NULL OR claimed_by = $1 OR lease_until < $2) \
             ORDER BY created_at, id",
        )
        .bind(worker)
        .bind(now as i64)
        .bind_statuses(RUNNING)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Takes a running job for `worker` until `lease_until`; false if another worker
    /// holds it under a live lease or it is no longer running. Atomic: of two workers
    /// racing for a job, exactly one gets it.
    pub async fn claim_wiki_job(
        &self,
        id: &str,
        worker: &str,
        now: u64,
        lease_until: u64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE wiki_jobs SET claimed_by = $1, lease_until = $2 \
             WHERE id = $3 AND status IN ($5, $6, $7, $8, $9) \
             AND (claimed_by IS NULL OR claimed_by = $1 OR lease_until < $4)",
        )
        .bind(worker)
        .bind(lease_until as i64)
        .bind(id)
        .bind(now as i64)
        .bind_statuses(RUNNING)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Extends the worker's lease on the job and on its pages in progress; false when the
    /// worker no longer holds a running job (cancelled, paused, or taken over).
    pub async fn renew_wiki_job(&self, id: &str, worker: &str, lease_until: u64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE wiki_jobs SET lease_until = $1 \
             WHERE id = $2 AND claimed_by = $3 AND status IN ($4, $5, $6, $7, $8)",
        )
        .bind(lease_until as i64)
        .bind(id)
        .bind(worker)
        .bind_statuses(RUNNING)
        .execute(&self.writer)
        .await?;
        sqlx::query(
            "UPDATE wiki_pages SET lease_until = $1 \
             WHERE job_id = $2 AND claimed_by = $3 AND status = $4",
        )
        .bind(lease_until as i64)
        .bind(id)
        .bind(worker)
        .bind(PageStatus::InProgress.as_str())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Lets go of a job (at shutdown, or after losing it) so a restart or another worker
    /// takes it at once; its pages in progress go back to pending.
    pub async fn release_wiki_job(&self, id: &str, worker: &str, now: u64) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "UPDATE wiki_pages SET status = $4, claimed_by = NULL, lease_until = 0, \
             updated_at = $1 WHERE job_id = $2 AND claimed_by = $3 AND status = $5",
        )
        .bind(now as i64)
        .bind(id)
        .bind(worker)
        .bind(PageStatus::Pending.as_str())
        .bind(PageStatus::InProgress.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE wiki_jobs SET claimed_by = NULL, lease_until = 0 \
             WHERE id = $1 AND claimed_by = $2",
        )
        .bind(id)
        .bind(worker)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The holder moves its running job to another running status; false if it no longer
    /// holds it or the job was cancelled or paused meanwhile.
    pub async fn advance_wiki_job(
        &self,
        id: &str,
        worker: &str,
        status: JobStatus,
        phase: u8,
        message: &str,
        now: u64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE wiki_jobs SET status = $1, current_phase = $2, message = $3, updated_at = $4 \
             WHERE id = $5 AND claimed_by = $6 AND status IN ($7, $8, $9, $10, $11)",
        )
        .bind(status.as_str())
        .bind(i64::from(phase))
        .bind(message)
        .bind(now as i64)
        .bind(id)
        .bind(worker)
        .bind_statuses(RUNNING)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores the structure and its pages and moves the job to `generating_pages`, in
    /// one transaction, so a restart sees either no structure or all of its pages.
    #[allow(clippy::too_many_arguments)]
    pub async fn save_wiki_structure(
        &self,
        id: &str,
        worker: &str,
        structure: &str,
        fallback: bool,
        pages: &[NewWikiPage],
        message: &str,
        now: u64,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(
            "UPDATE wiki_jobs SET structure = $1, structure_fallback = $2, \
             status = $7, current_phase = 2, message = $3, updated_at = $4 \
             WHERE id = $5 AND claimed_by = $6 AND status IN ($8, $9, $10, $11, $12)",
        )
        .bind(structure)
        .bind(i64::from(fallback))
        .bind(message)
        .bind(now as i64)
        .bind(id)
        .bind(worker)
        .bind(JobStatus::GeneratingPages.as_str())
        .bind_statuses(RUNNING)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        for (position, page) in pages.iter().enumerate() {
            sqlx::query(
                "INSERT INTO wiki_pages (job_id, page_id, position, section, title, importance, \
                 relevant_files, related_pages, status, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (job_id, page_id) DO NOTHING",
            )
            .bind(id)
            .bind(&page.page_id)
            .bind(position as i64)
            .bind(&page.section)
            .bind(&page.title)
            .bind(page.importance.as_str())
            .bind(&page.relevant_files)
            .bind(&page.related_pages)
            .bind(PageStatus::Pending.as_str())
            .bind(now as i64)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The holder ends its job; with `publish`, the job becomes its project's current wiki
    /// in the same transaction. False if it no longer held a running job.
    pub async fn finish_wiki_job(
        &self,
        id: &str,
        worker: &str,
        finish: Finish<'_>,
        now: u64,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(
            "UPDATE wiki_jobs SET status = $1, current_phase = 3, message = $2, error = $3, \
             claimed_by = NULL, lease_until = 0, updated_at = $4 \
             WHERE id = $5 AND claimed_by = $6 AND status IN ($7, $8, $9, $10, $11)",
        )
        .bind(finish.status.as_str())
        .bind(finish.message)
        .bind(finish.error.map(str::to_owned))
        .bind(now as i64)
        .bind(id)
        .bind(worker)
        .bind_statuses(RUNNING)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        if finish.publish {
            sqlx::query(
                "INSERT INTO wikis (project_id, language, job_id, updated_at) \
                 SELECT project_id, language, id, $1 FROM wiki_jobs WHERE id = $2 \
                 ON CONFLICT (project_id, language) \
                 DO UPDATE SET job_id = excluded.job_id, updated_at = excluded.updated_at",
            )
            .bind(now as i64)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Anyone moves a job from one of `from` to `to`, releasing its claim;
    /// pages in progress go back to pending. False if the job was in none of `from`.
    pub async fn control_wiki_job(
        &self,
        id: &str,
        from: &[JobStatus],
        to: JobStatus,
        message: &str,
        now: u64,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(
            "UPDATE wiki_jobs SET status = $1, message = $2, claimed_by = NULL, lease_until = 0, \
             updated_at = $3 WHERE id = $4 AND status IN ($5, $6, $7, $8, $9)",
        )
        .bind(to.as_str())
        .bind(message)
        .bind(now as i64)
        .bind(id)
        .bind_statuses(from)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "UPDATE wiki_pages SET status = $3, claimed_by = NULL, lease_until = 0, \
             updated_at = $1 WHERE job_id = $2 AND status = $4",
        )
        .bind(now as i64)
        .bind(id)
        .bind(PageStatus::Pending.as_str())
        .bind(PageStatus::InProgress.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The languages the project has a wiki in, alphabetically.
    pub async fn wiki_languages(&self, project_id: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT language FROM wikis WHERE project_id = $1 ORDER BY language")
                .bind(project_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(language,)| language).collect())
    }

    /// The job whose pages are the project's wiki in `language`, and when it became so.
    pub async fn current_wiki(
        &self,
        project_id: &str,
        language: &str,
    ) -> Result<Option<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT job_id, updated_at FROM wikis WHERE project_id = $1 AND language = $2",
        )
        .bind(project_id)
        .bind(language)
        .fetch_optional(&self.pool)
        .await?)
    }
}
