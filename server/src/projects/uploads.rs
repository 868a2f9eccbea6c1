//! Uploaded documents: Markdown, text, source files and PDF (its text extracted), each
//! chunked and indexed at once, with `document_status` progress and a `project_update`
//! in the project's room.

use std::sync::Arc;

use app::protocol::rest::DocumentInfo;
use app::protocol::{DocumentState, ProjectChange, ServerMsg, rooms};
use uuid::Uuid;

use super::ProjectError;
use super::chunking::chunk_one;
use super::language::language_of;
use super::paths;
use super::service::{Inner, ProjectService};
use super::walk::{content_hash, text_of};
use crate::clock::now_ms;
use crate::rag::Chunker;
use crate::storage::documents::DocumentRow;

fn is_pdf(path: &str, bytes: &[u8]) -> bool {
    path.to_ascii_lowercase().ends_with(".pdf") || bytes.starts_with(b"%PDF-")
}

/// The PDF's text. The parser runs on the blocking pool and a panic in it (malformed
/// files can cause one) is an invalid upload, not a crashed server.
async fn pdf_text(bytes: Vec<u8>) -> Result<String, ProjectError> {
    let text = tokio::task::spawn_blocking(move || {
        std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem(&bytes))
    })
    .await?;
    match text {
        Ok(Ok(text)) if !text.trim().is_empty() => Ok(text),
        Ok(Ok(_)) => Err(ProjectError::InvalidInput(
            "the PDF has no text to extract (a scanned image?)".into(),
        )),
        _ => Err(ProjectError::InvalidInput(
            "the PDF could not be read".into(),
        )),
    }
}

struct Status<'a> {
    inner: &'a Inner,
    project_id: &'a str,
    document_id: &'a str,
    path: &'a str,
}

impl Status<'_> {
    fn send(&self, status: DocumentState, progress: f32, error: Option<String>) {
        self.inner.hub.publish(
            &rooms::project(self.project_id),
            ServerMsg::DocumentStatus {
                project_id: self.project_id.to_owned(),
                document_id: self.document_id.to_owned(),
                path: self.path.to_owned(),
                status,
                progress,
                error,
            },
        );
    }
}

impl ProjectService {
    /// Adds (or replaces, for the same path) one uploaded document.
    pub async fn upload(
        &self,
        project_id: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<DocumentInfo, ProjectError> {
        let path = paths::normalize(name)?;
        self.get(project_id).await?;
        let inner = self.inner();
        if bytes.len() > inner.settings.max_upload_bytes {
            return Err(ProjectError::TooLarge(format!(
                "the upload is larger than {} bytes (REPOWIKI_MAX_UPLOAD_BYTES)",
                inner.settings.max_upload_bytes
            )));
        }
        let existing = inner.store.document_info_by_path(project_id, &path).await?;
        let document_id = existing
            .map(|d| d.id)
            .unwrap_or_else(|| Uuid::new_v4().to_string());
        let status = Status {
            inner,
            project_id,
            document_id: &document_id,
            path: &path,
        };
        status.send(DocumentState::Processing, 0.0, None);
        match self
            .process(inner, project_id, &document_id, &path, bytes, &status)
            .await
        {
            Ok(info) => {
                status.send(DocumentState::Indexed, 100.0, None);
                inner.hub.publish(
                    &rooms::project(project_id),
                    ServerMsg::ProjectUpdate {
                        project_id: project_id.to_owned(),
                        update: ProjectChange::DocumentAdded,
                        document_id: Some(info.id.clone()),
                        path: Some(info.path.clone()),
                        status: None,
                    },
                );
                Ok(info)
            }
            Err(e) => {
                status.send(DocumentState::Failed, 100.0, Some(e.public_message()));
                Err(e)
            }
        }
    }

    async fn process(
        &self,
        inner: &Arc<Inner>,
        project_id: &str,
        document_id: &str,
        path: &str,
        bytes: Vec<u8>,
        status: &Status<'_>,
    ) -> Result<DocumentInfo, ProjectError> {
        let size = bytes.len() as u64;
        let hash = content_hash(&bytes);
        let text = if is_pdf(path, &bytes) {
            pdf_text(bytes).await?
        } else {
            text_of(bytes).ok_or_else(|| {
                ProjectError::InvalidInput(
                    "only text, Markdown, source files and PDF can be uploaded".into(),
                )
            })?
        };
        status.send(DocumentState::Processing, 40.0, None);
        let (chunk_path, chunk_text) = (path.to_owned(), text.clone());
        let chunks = tokio::task::spawn_blocking(move || {
            chunk_one(&Chunker::default(), &chunk_path, &chunk_text)
        })
        .await?;
        status.send(DocumentState::Processing, 70.0, None);
        let row = DocumentRow {
            id: document_id.to_owned(),
            path: path.to_owned(),
            language: language_of(path).to_owned(),
            size,
            content_hash: hash,
            content: text,
            chunks: chunks.len() as u64,
            origin: "upload",
        };
        let now = now_ms();
        inner
            .store
            .apply_document_changes(project_id, std::slice::from_ref(&row), &[], now)
            .await?;
        let rag = Arc::clone(&inner.rag);
        let (id, doc_path) = (project_id.to_owned(), path.to_owned());
        tokio::task::spawn_blocking(move || {
            rag.index_document(&id, &doc_path, &chunks)?;
            rag.commit()
        })
        .await??;
        inner.store.refresh_project_counts(project_id, now).await?;
        inner
            .store
            .document_info_by_path(project_id, path)
            .await?
            .ok_or(ProjectError::DocumentNotFound)
    }
}
