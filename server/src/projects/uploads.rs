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
use super::pdf::{PdfLimits, pdf_text};
use super::service::{Inner, ProjectService};
use super::walk::{content_hash, text_of};
use crate::clock::now_ms;
use crate::rag::{Chunker, Depth};
use crate::storage::documents::DocumentRow;

fn is_pdf(path: &str, bytes: &[u8]) -> bool {
    path.to_ascii_lowercase().ends_with(".pdf") || bytes.starts_with(b"%PDF-")
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

/// One uploaded file, read and chunked, not yet stored.
struct Prepared {
    document_id: String,
    path: String,
    size: u64,
    hash: String,
    text: String,
    chunks: Vec<crate::rag::Chunk>,
}

impl ProjectService {
    /// Adds (or replaces, for the same path) the uploaded documents, all or none: every
    /// file is checked, read and chunked before the first one is stored, so a request
    /// whose second file is refused leaves no trace of the first.
    pub async fn upload(
        &self,
        project_id: &str,
        files: Vec<(String, Vec<u8>)>,
    ) -> Result<Vec<DocumentInfo>, ProjectError> {
        self.get(project_id).await?;
        let inner = self.inner();
        let mut named = Vec::with_capacity(files.len());
        for (name, bytes) in files {
            let path = paths::normalize(&name)?;
            if bytes.len() > inner.settings.max_upload_bytes {
                return Err(ProjectError::TooLarge(format!(
                    "{path} is larger than {} bytes (REPOWIKI_MAX_UPLOAD_BYTES)",
                    inner.settings.max_upload_bytes
                )));
            }
            named.push((path, bytes));
        }
        let mut prepared = Vec::with_capacity(named.len());
        for (path, bytes) in named {
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
            match prepare(&inner.settings.pdf, &document_id, &path, bytes, &status).await {
                Ok(ready) => prepared.push(ready),
                Err(e) => {
                    status.send(DocumentState::Failed, 100.0, Some(e.public_message()));
                    return Err(e);
                }
            }
        }
        let mut stored = Vec::with_capacity(prepared.len());
        for document in prepared {
            stored.push(self.store_prepared(inner, project_id, document).await?);
        }
        Ok(stored)
    }

    async fn store_prepared(
        &self,
        inner: &Arc<Inner>,
        project_id: &str,
        document: Prepared,
    ) -> Result<DocumentInfo, ProjectError> {
        let status = Status {
            inner,
            project_id,
            document_id: &document.document_id,
            path: &document.path,
        };
        match store(inner, project_id, &document).await {
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
}

/// The file's text (PDF extracted) and its chunks; nothing is stored yet.
async fn prepare(
    pdf: &PdfLimits,
    document_id: &str,
    path: &str,
    bytes: Vec<u8>,
    status: &Status<'_>,
) -> Result<Prepared, ProjectError> {
    let size = bytes.len() as u64;
    let hash = content_hash(&bytes);
    let text = if is_pdf(path, &bytes) {
        pdf_text(bytes, pdf).await?
    } else {
        text_of(bytes).ok_or_else(|| {
            ProjectError::InvalidInput(format!(
                "{path}: only text, Markdown, source files and PDF can be uploaded"
            ))
        })?
    };
    status.send(DocumentState::Processing, 40.0, None);
    let (chunk_path, chunk_text) = (path.to_owned(), text.clone());
    let chunks = tokio::task::spawn_blocking(move || {
        chunk_one(&Chunker::default(), Depth::Syntax, &chunk_path, &chunk_text)
    })
    .await?;
    status.send(DocumentState::Processing, 70.0, None);
    Ok(Prepared {
        document_id: document_id.to_owned(),
        path: path.to_owned(),
        size,
        hash,
        text,
        chunks,
    })
}

async fn store(
    inner: &Arc<Inner>,
    project_id: &str,
    document: &Prepared,
) -> Result<DocumentInfo, ProjectError> {
    let row = DocumentRow {
        id: document.document_id.clone(),
        path: document.path.clone(),
        language: language_of(&document.path).to_owned(),
        size: document.size,
        content_hash: document.hash.clone(),
        content: document.text.clone(),
        chunks: document.chunks.len() as u64,
        origin: "upload",
    };
    let now = now_ms();
    inner
        .store
        .apply_document_changes(project_id, std::slice::from_ref(&row), &[], now)
        .await?;
    let rag = Arc::clone(&inner.rag);
    let (id, doc_path, chunks) = (
        project_id.to_owned(),
        document.path.clone(),
        document.chunks.clone(),
    );
    tokio::task::spawn_blocking(move || {
        rag.index_document(&id, &doc_path, &chunks)?;
        rag.commit()
    })
    .await??;
    inner.store.refresh_project_counts(project_id, now).await?;
    inner
        .store
        .document_info_by_path(project_id, &document.path)
        .await?
        .ok_or(ProjectError::DocumentNotFound)
}
