//! Projects: what was asked for (source, branch, filters), where indexing stands, and
//! what the last run did. Counts are recomputed from the documents table on each change,
//! so they cannot drift from it.

use app::protocol::UnknownState;
use app::protocol::rest::{IndexReport, Page, Project, ProjectFilters, ProjectKind, ProjectStatus};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, StorageError, Store};

macro_rules! select_projects {
    () => {
        "SELECT id, name, kind, source, branch, filters, status, error, documents, \
     chunks, last_commit, job_id, report, created_at, updated_at, indexed_at, needs_token FROM projects"
    };
}

/// A project about to be stored.
pub struct NewProject<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub kind: ProjectKind,
    pub source: Option<&'a str>,
    pub source_key: Option<&'a str>,
    pub branch: Option<&'a str>,
    pub filters: &'a ProjectFilters,
    /// The job indexing it; `None` for an upload project, which starts ready.
    pub job_id: Option<&'a str>,
    /// Indexed with an access token: re-indexing asks for it again.
    pub needs_token: bool,
    pub now: u64,
}

impl Store {
    pub async fn insert_project(&self, new: &NewProject<'_>) -> Result<()> {
        let filters = serde_json::to_string(new.filters)
            .map_err(|e| StorageError::Corrupt(format!("filters: {e}")))?;
        let status = if new.job_id.is_some() {
            ProjectStatus::Indexing
        } else {
            ProjectStatus::Ready
        };
        sqlx::query(
            "INSERT INTO projects (id, name, kind, source, source_key, branch, filters, status, \
             job_id, created_at, updated_at, needs_token) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11)",
        )
        .bind(new.id)
        .bind(new.name)
        .bind(new.kind.as_str())
        .bind(new.source.map(str::to_owned))
        .bind(new.source_key.map(str::to_owned))
        .bind(new.branch.map(str::to_owned))
        .bind(filters)
        .bind(status.as_str())
        .bind(new.job_id.map(str::to_owned))
        .bind(new.now as i64)
        .bind(i64::from(new.needs_token))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn project(&self, id: &str) -> Result<Option<Project>> {
        let row = sqlx::query(concat!(select_projects!(), " WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(project_from_row).transpose()
    }

    /// The project whose latest indexing job is `job_id`.
    pub async fn project_by_job(&self, job_id: &str) -> Result<Option<Project>> {
        let row = sqlx::query(concat!(select_projects!(), " WHERE job_id = $1"))
            .bind(job_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(project_from_row).transpose()
    }

    /// The newest project made from this normalised source (and branch) with exactly
    /// these filters, if any: the same folder with other filters is another project.
    pub async fn project_by_source(
        &self,
        source_key: &str,
        branch: Option<&str>,
        filters: &ProjectFilters,
    ) -> Result<Option<Project>> {
        // Stored as this same serialisation, so equal filters are equal text.
        let filters = serde_json::to_string(filters)
            .map_err(|e| StorageError::Corrupt(format!("filters: {e}")))?;
        let row = sqlx::query(concat!(
            select_projects!(),
            " WHERE source_key = $1 AND (($2 IS NULL AND branch IS NULL) OR branch = $2) \
             AND filters = $3 ORDER BY created_at DESC LIMIT 1"
        ))
        .bind(source_key)
        .bind(branch.map(str::to_owned))
        .bind(filters)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(project_from_row).transpose()
    }

    /// Newest first.
    pub async fn projects(&self, limit: u64, offset: u64) -> Result<Page<Project>> {
        let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM projects")
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query(concat!(
            select_projects!(),
            " ORDER BY created_at DESC, id LIMIT $1 OFFSET $2"
        ))
        .bind(super::sql_count(limit))
        .bind(super::sql_count(offset))
        .fetch_all(&self.pool)
        .await?;
        Ok(Page {
            items: rows.iter().map(project_from_row).collect::<Result<_>>()?,
            total: total.max(0) as u64,
        })
    }

    /// Every project, for the checks made at start-up.
    pub async fn all_projects(&self) -> Result<Vec<Project>> {
        let rows = sqlx::query(concat!(select_projects!(), " ORDER BY created_at"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(project_from_row).collect()
    }

    /// Marks a project as being indexed by `job_id`.
    pub async fn set_project_indexing(&self, id: &str, job_id: &str, now: u64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE projects SET status = $4, error = NULL, job_id = $1, updated_at = $2 \
             WHERE id = $3",
        )
        .bind(job_id)
        .bind(now as i64)
        .bind(id)
        .bind(ProjectStatus::Indexing.as_str())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Indexing succeeded: ready, with the run's report and fresh counts.
    pub async fn finish_project_index(
        &self,
        id: &str,
        commit: Option<&str>,
        report: &IndexReport,
        now: u64,
    ) -> Result<()> {
        let report = serde_json::to_string(report)
            .map_err(|e| StorageError::Corrupt(format!("report: {e}")))?;
        sqlx::query(
            "UPDATE projects SET status = $5, error = NULL, \
             last_commit = COALESCE($1, last_commit), report = $2, indexed_at = $3, \
             updated_at = $3 WHERE id = $4",
        )
        .bind(commit.map(str::to_owned))
        .bind(report)
        .bind(now as i64)
        .bind(id)
        .bind(ProjectStatus::Ready.as_str())
        .execute(&self.writer)
        .await?;
        self.refresh_project_counts(id, now).await
    }

    /// Indexing failed; the documents indexed before stay as they were.
    pub async fn fail_project_index(&self, id: &str, error: &str, now: u64) -> Result<()> {
        sqlx::query("UPDATE projects SET status = $4, error = $1, updated_at = $2 WHERE id = $3")
            .bind(error)
            .bind(now as i64)
            .bind(id)
            .bind(ProjectStatus::Failed.as_str())
            .execute(&self.writer)
            .await?;
        self.refresh_project_counts(id, now).await
    }

    pub async fn refresh_project_counts(&self, id: &str, now: u64) -> Result<()> {
        sqlx::query(
            "UPDATE projects SET \
             documents = (SELECT COUNT(*) FROM documents d WHERE d.project_id = $1), \
             chunks = (SELECT COALESCE(SUM(d.chunks), 0) FROM documents d WHERE d.project_id = $1), \
             updated_at = $2 WHERE id = $1",
        )
        .bind(id)
        .bind(now as i64)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Deletes a project and its documents; false if there was none.
    pub async fn delete_project(&self, id: &str) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM documents WHERE project_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM projects WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}

fn project_from_row(row: &AnyRow) -> Result<Project> {
    let text = |name: &str| -> Result<String> { Ok(row.try_get::<String, _>(name)?) };
    let optional = |name: &str| -> Result<Option<String>> { Ok(row.try_get(name)?) };
    let number = |name: &str| -> Result<i64> { Ok(row.try_get::<i64, _>(name)?) };
    let kind: ProjectKind = text("kind")?
        .parse()
        .map_err(|e: UnknownState| StorageError::Corrupt(e.to_string()))?;
    let status: ProjectStatus = text("status")?
        .parse()
        .map_err(|e: UnknownState| StorageError::Corrupt(e.to_string()))?;
    let filters = serde_json::from_str(&text("filters")?)
        .map_err(|e| StorageError::Corrupt(format!("project filters: {e}")))?;
    let last_index = optional("report")?
        .map(|r| serde_json::from_str(&r))
        .transpose()
        .map_err(|e| StorageError::Corrupt(format!("project report: {e}")))?;
    let indexed_at: Option<i64> = row.try_get("indexed_at")?;
    Ok(Project {
        id: text("id")?,
        name: text("name")?,
        kind,
        source: optional("source")?,
        branch: optional("branch")?,
        filters,
        status,
        error: optional("error")?,
        documents: number("documents")?.max(0) as u64,
        chunks: number("chunks")?.max(0) as u64,
        commit: optional("last_commit")?,
        job_id: optional("job_id")?,
        last_index,
        created_at: number("created_at")?.max(0) as u64,
        updated_at: number("updated_at")?.max(0) as u64,
        indexed_at: indexed_at.map(|t| t.max(0) as u64),
        needs_token: number("needs_token")? != 0,
    })
}
