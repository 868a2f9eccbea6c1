//! The pages of wiki jobs: each claimed by one worker at a time (atomically, so two
//! workers never generate the same page), completed once, or failed after its attempts.

use app::protocol::{Importance, JobStatus, PageStatus};

use super::status_sets::{BindStatuses, WIKI_REOPENABLE};
use super::{Backend, Result, StorageError, Store};

/// A page as the structure phase creates it. List fields are JSON arrays.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWikiPage {
    pub page_id: String,
    pub section: String,
    pub title: String,
    pub importance: Importance,
    pub relevant_files: String,
    pub related_pages: String,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct WikiPageRow {
    pub page_id: String,
    pub section: String,
    pub title: String,
    #[sqlx(try_from = "String")]
    pub importance: Importance,
    pub relevant_files: String,
    pub related_pages: String,
    #[sqlx(try_from = "String")]
    pub status: PageStatus,
    pub attempts: i64,
    pub error: Option<String>,
    pub content: Option<String>,
}

macro_rules! page_columns {
    () => {
        "page_id, section, title, importance, relevant_files, related_pages, \
     status, attempts, error, content"
    };
}

/// Pages of a job by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageCounts {
    pub total: u32,
    pub completed: u32,
    pub failed: u32,
    /// Pending or in progress.
    pub unfinished: u32,
}

impl Store {
    /// In structure order.
    pub async fn wiki_pages(&self, job_id: &str) -> Result<Vec<WikiPageRow>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            page_columns!(),
            " FROM wiki_pages WHERE job_id = $1 ORDER BY position"
        ))
        .bind(job_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn wiki_page_counts(&self, job_id: &str) -> Result<PageCounts> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, COUNT(*) FROM wiki_pages WHERE job_id = $1 GROUP BY status",
        )
        .bind(job_id)
        .fetch_all(&self.pool)
        .await?;
        let mut counts = PageCounts::default();
        for (status, n) in rows {
            let n = n.max(0) as u32;
            counts.total += n;
            match status.parse() {
                Ok(PageStatus::Completed) => counts.completed += n,
                Ok(PageStatus::Failed) => counts.failed += n,
                Ok(PageStatus::Pending | PageStatus::InProgress) => counts.unfinished += n,
                Err(e) => return Err(StorageError::Corrupt(e.to_string())),
            }
        }
        Ok(counts)
    }

    /// Claims the first page of the job that is pending (and due), or in progress under
    /// an expired lease. One statement, so of two workers racing for a page exactly one
    /// gets it; on PostgreSQL the candidate row is also locked with `SKIP LOCKED` so the
    /// loser moves on to the next page instead of waiting.
    pub async fn claim_wiki_page(
        &self,
        job_id: &str,
        worker: &str,
        now: u64,
        lease_until: u64,
    ) -> Result<Option<WikiPageRow>> {
        // $5 is `in_progress`, $6 `pending`.
        macro_rules! claim_first_claimable {
            ($lock:literal) => {
                concat!(
                    "UPDATE wiki_pages SET status = $5, claimed_by = $1, lease_until = $2, \
                     updated_at = $3 \
                     WHERE job_id = $4 \
                     AND ((status = $6 AND not_before <= $3) OR (status = $5 AND lease_until < $3)) \
                     AND page_id = (SELECT page_id FROM wiki_pages WHERE job_id = $4 \
                     AND ((status = $6 AND not_before <= $3) OR (status = $5 AND lease_until < $3)) \
                     ORDER BY position LIMIT 1",
                    $lock,
                    ") RETURNING ",
                    page_columns!()
                )
            };
        }
        let sql = match self.backend {
            Backend::Postgres => claim_first_claimable!(" FOR UPDATE SKIP LOCKED"),
            Backend::Sqlite => claim_first_claimable!(""),
        };
        Ok(sqlx::query_as(sql)
            .bind(worker)
            .bind(lease_until as i64)
            .bind(now as i64)
            .bind(job_id)
            .bind(PageStatus::InProgress.as_str())
            .bind(PageStatus::Pending.as_str())
            .fetch_optional(&self.writer)
            .await?)
    }

    /// Stores a generated page; false if the worker had lost it (it was taken over, or
    /// the job was paused or cancelled), in which case the content is discarded.
    pub async fn complete_wiki_page(
        &self,
        job_id: &str,
        page_id: &str,
        worker: &str,
        content: &str,
        now: u64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE wiki_pages SET status = $6, content = $1, error = NULL, \
             claimed_by = NULL, lease_until = 0, updated_at = $2 \
             WHERE job_id = $3 AND page_id = $4 AND claimed_by = $5 AND status = $7",
        )
        .bind(content)
        .bind(now as i64)
        .bind(job_id)
        .bind(page_id)
        .bind(worker)
        .bind(PageStatus::Completed.as_str())
        .bind(PageStatus::InProgress.as_str())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a failed attempt: the page goes back to pending (due at `not_before`), or
    /// to failed for good once it has used `max_attempts`. Returns the new status.
    #[allow(clippy::too_many_arguments)]
    pub async fn fail_wiki_page(
        &self,
        job_id: &str,
        page_id: &str,
        worker: &str,
        error: &str,
        max_attempts: u32,
        not_before: u64,
        now: u64,
    ) -> Result<Option<PageStatus>> {
        let row: Option<(String,)> = sqlx::query_as(
            "UPDATE wiki_pages SET attempts = attempts + 1, error = $1, \
             status = CASE WHEN attempts + 1 >= $2 THEN $8 ELSE $9 END, \
             not_before = $3, claimed_by = NULL, lease_until = 0, updated_at = $4 \
             WHERE job_id = $5 AND page_id = $6 AND claimed_by = $7 AND status = $10 \
             RETURNING status",
        )
        .bind(error)
        .bind(i64::from(max_attempts))
        .bind(not_before as i64)
        .bind(now as i64)
        .bind(job_id)
        .bind(page_id)
        .bind(worker)
        .bind(PageStatus::Failed.as_str())
        .bind(PageStatus::Pending.as_str())
        .bind(PageStatus::InProgress.as_str())
        .fetch_optional(&self.writer)
        .await?;
        row.map(|(status,)| status.parse::<PageStatus>())
            .transpose()
            .map_err(|e| StorageError::Corrupt(e.to_string()))
    }

    /// Gives a page that failed for good a new set of attempts, and sets its job running
    /// again if it had finished. False if the page had not failed.
    pub async fn retry_wiki_page(&self, job_id: &str, page_id: &str, now: u64) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(
            "UPDATE wiki_pages SET status = $4, attempts = 0, error = NULL, \
             not_before = 0, updated_at = $1 \
             WHERE job_id = $2 AND page_id = $3 AND status = $5",
        )
        .bind(now as i64)
        .bind(job_id)
        .bind(page_id)
        .bind(PageStatus::Pending.as_str())
        .bind(PageStatus::Failed.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        // A job that had ended runs again just for this page; a running one picks it up,
        // a paused one when it is resumed.
        sqlx::query(
            "UPDATE wiki_jobs SET status = $3, current_phase = 2, message = 'Retrying a page', \
             updated_at = $1 WHERE id = $2 AND status IN ($4, $5, $6, $7, $8)",
        )
        .bind(now as i64)
        .bind(job_id)
        .bind(JobStatus::Queued.as_str())
        .bind_statuses(&WIKI_REOPENABLE)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// At start-up: pages this worker had in progress when it died go back to pending.
    pub async fn release_worker_pages(&self, worker: &str, now: u64) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE wiki_pages SET status = $3, claimed_by = NULL, lease_until = 0, \
             updated_at = $1 WHERE claimed_by = $2 AND status = $4",
        )
        .bind(now as i64)
        .bind(worker)
        .bind(PageStatus::Pending.as_str())
        .bind(PageStatus::InProgress.as_str())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }
}
