//! Documents: one file of a project with its full text, so the index can be rebuilt by
//! re-chunking and file questions never read a disk that may have changed since.

use app::protocol::rest::{DocumentContent, DocumentInfo};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store};

/// A document as written by indexing or an upload.
#[derive(Debug, Clone)]
pub struct DocumentRow {
    pub id: String,
    pub path: String,
    pub language: String,
    pub size: u64,
    pub content_hash: String,
    pub content: String,
    pub chunks: u64,
    pub origin: &'static str,
}

/// What incremental re-indexing compares against: a stored document's path and hash.
#[derive(Debug, Clone)]
pub struct StoredHash {
    pub id: String,
    pub path: String,
    pub content_hash: String,
    pub origin: String,
}

macro_rules! select_document_info {
    () => {
        "SELECT id, path, language, size, content_hash, chunks, origin, updated_at FROM documents"
    };
}

impl Store {
    /// Paths and hashes of a project's documents.
    pub async fn document_hashes(&self, project_id: &str) -> Result<Vec<StoredHash>> {
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT id, path, content_hash, origin FROM documents WHERE project_id = $1",
        )
        .bind(project_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, path, content_hash, origin)| StoredHash {
                id,
                path,
                content_hash,
                origin,
            })
            .collect())
    }

    /// Writes new and changed documents and drops removed ones, all or nothing.
    pub async fn apply_document_changes(
        &self,
        project_id: &str,
        upserts: &[DocumentRow],
        removed_paths: &[String],
        now: u64,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        for path in removed_paths {
            sqlx::query("DELETE FROM documents WHERE project_id = $1 AND path = $2")
                .bind(project_id)
                .bind(path)
                .execute(&mut *tx)
                .await?;
        }
        for doc in upserts {
            upsert(&mut tx, project_id, doc, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Sets the chunk count of documents re-chunked without a content change.
    pub async fn set_document_chunks(
        &self,
        project_id: &str,
        counts: &[(String, u64)],
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        for (path, chunks) in counts {
            sqlx::query("UPDATE documents SET chunks = $1 WHERE project_id = $2 AND path = $3")
                .bind(*chunks as i64)
                .bind(project_id)
                .bind(path)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every document of a project without its text, by path.
    pub async fn documents(&self, project_id: &str) -> Result<Vec<DocumentInfo>> {
        let rows = sqlx::query(concat!(
            select_document_info!(),
            " WHERE project_id = $1 ORDER BY path"
        ))
        .bind(project_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(info_from_row).collect()
    }

    pub async fn document_info(
        &self,
        project_id: &str,
        document_id: &str,
    ) -> Result<Option<DocumentInfo>> {
        let row = sqlx::query(concat!(
            select_document_info!(),
            " WHERE project_id = $1 AND id = $2"
        ))
        .bind(project_id)
        .bind(document_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(info_from_row).transpose()
    }

    pub async fn document_info_by_path(
        &self,
        project_id: &str,
        path: &str,
    ) -> Result<Option<DocumentInfo>> {
        let row = sqlx::query(concat!(
            select_document_info!(),
            " WHERE project_id = $1 AND path = $2"
        ))
        .bind(project_id)
        .bind(path)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(info_from_row).transpose()
    }

    pub async fn document_paths(&self, project_id: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT path FROM documents WHERE project_id = $1 ORDER BY path")
                .bind(project_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(p,)| p).collect())
    }

    pub async fn document_content(
        &self,
        project_id: &str,
        path: &str,
    ) -> Result<Option<DocumentContent>> {
        let row: Option<(String, String, String, String)> = sqlx::query_as(
            "SELECT id, path, language, content FROM documents WHERE project_id = $1 AND path = $2",
        )
        .bind(project_id)
        .bind(path)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(id, path, language, content)| DocumentContent {
            id,
            path,
            language,
            content,
        }))
    }

    /// Paths and texts of a project's documents, for rebuilding its index.
    pub async fn document_texts(&self, project_id: &str) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT path, content FROM documents WHERE project_id = $1 ORDER BY path",
        )
        .bind(project_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Deletes one document; its path if it existed.
    pub async fn delete_document(&self, project_id: &str, document_id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM documents WHERE project_id = $1 AND id = $2")
            .bind(project_id)
            .bind(document_id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

async fn upsert(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    project_id: &str,
    doc: &DocumentRow,
    now: u64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO documents (id, project_id, path, language, size, content_hash, content, \
         chunks, origin, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
         ON CONFLICT (project_id, path) DO UPDATE SET language = excluded.language, \
         size = excluded.size, content_hash = excluded.content_hash, \
         content = excluded.content, chunks = excluded.chunks, origin = excluded.origin, \
         updated_at = excluded.updated_at",
    )
    .bind(doc.id.as_str())
    .bind(project_id)
    .bind(doc.path.as_str())
    .bind(doc.language.as_str())
    .bind(doc.size as i64)
    .bind(doc.content_hash.as_str())
    .bind(doc.content.as_str())
    .bind(doc.chunks as i64)
    .bind(doc.origin)
    .bind(now as i64)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn info_from_row(row: &AnyRow) -> Result<DocumentInfo> {
    Ok(DocumentInfo {
        id: row.try_get("id")?,
        path: row.try_get("path")?,
        language: row.try_get("language")?,
        size: row.try_get::<i64, _>("size")?.max(0) as u64,
        content_hash: row.try_get("content_hash")?,
        chunks: row.try_get::<i64, _>("chunks")?.max(0) as u64,
        origin: row.try_get("origin")?,
        updated_at: row.try_get::<i64, _>("updated_at")?.max(0) as u64,
    })
}
