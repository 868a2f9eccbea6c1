//! One indexing run of a project: fetch (clone or read the folder), compare content
//! hashes with what is stored, chunk only what changed, then write the documents (one
//! transaction) and the index (one commit). Nothing is written before everything is
//! fetched and chunked, so a failed run leaves the project as it was.
//!
//! Parsing code for its syntax chunks is most of a large run's cost, so a run with much
//! code first cuts it by lines ([`Depth::Lines`]): the project is answerable as soon as
//! those chunks are committed, and [`refine`] then replaces them with syntax chunks
//! (and only those are embedded).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use app::protocol::rest::{IndexReport, Project, ProjectKind};
use uuid::Uuid;

use super::ProjectError;
use super::chunking::chunk_all;
use super::filters::Filters;
use super::git::{CloneRequest, remove_dir, shallow_clone};
use super::language::language_of;
use super::service::Inner;
use super::url_policy::Source;
use super::walk::walk;
use crate::clock::now_ms;
use crate::rag::{Chunk, Depth, is_code};
use crate::storage::documents::DocumentRow;

/// What a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Fetch the source and index what changed; `rebuild` re-chunks every file and
    /// replaces the project's whole index (after a crash, or a lost index).
    Sync { rebuild: bool },
    /// Re-chunk the stored documents, without fetching: upload projects, and an index
    /// that lost a project's chunks.
    FromDatabase,
}

/// Code beyond this many bytes is first cut by lines. A first index of ~1,500 files holds
/// several megabytes; small runs (one changed file, a small repository) are not worth
/// indexing twice.
const LINES_FIRST_ABOVE_BYTES: usize = 1024 * 1024;

/// What a run produced.
pub struct Outcome {
    pub report: IndexReport,
    pub commit: Option<String>,
    /// Code documents (path, text) indexed from a first pass by lines, for [`refine`].
    pub first_pass: Vec<(String, String)>,
    /// The chunks of those documents in the report.
    pub first_pass_chunks: u64,
}

/// Reports progress in percent with a message.
pub type Progress<'a> = &'a (dyn Fn(f32, String) + Sync);

pub async fn run(
    inner: &Arc<Inner>,
    project: &Project,
    job_id: &str,
    token: Option<&str>,
    mode: Mode,
    progress: Progress<'_>,
) -> Result<Outcome, ProjectError> {
    let started = Instant::now();
    let mut outcome = match (mode, project.kind) {
        (Mode::FromDatabase, _) | (_, ProjectKind::Upload) => {
            from_database(inner, project, progress).await?
        }
        (Mode::Sync { rebuild }, _) => {
            sync(inner, project, job_id, token, rebuild, progress).await?
        }
    };
    outcome.report.duration_ms = started.elapsed().as_millis() as u64;
    Ok(outcome)
}

/// Where the files are: a fresh clone (replacing the previous one) or the folder itself.
async fn fetch(
    inner: &Inner,
    project: &Project,
    job_id: &str,
    token: Option<&str>,
) -> Result<(PathBuf, Option<String>), ProjectError> {
    let source = project
        .source
        .as_deref()
        .ok_or_else(|| ProjectError::InvalidInput("the project has no source".into()))?;
    // Checked again at every fetch: the host's addresses may have changed since.
    match inner.policy.check(source).await? {
        Source::Local(path) => Ok((path, None)),
        Source::Git(url) => {
            let repos = inner.settings.data_dir.join("repos");
            let staging = repos.join(format!("{}.{job_id}", project.id));
            let commit = shallow_clone(CloneRequest {
                url: &url,
                branch: project.branch.as_deref(),
                token,
                dest: &staging,
                timeout: inner.settings.clone_timeout,
                max_bytes: inner.settings.max_repo_bytes,
            })
            .await?;
            let checkout = repos.join(&project.id);
            remove_dir(&checkout).await;
            tokio::fs::rename(&staging, &checkout)
                .await
                .map_err(|e| ProjectError::internal("moving the clone in place", e))?;
            Ok((checkout, Some(commit)))
        }
    }
}

async fn sync(
    inner: &Arc<Inner>,
    project: &Project,
    job_id: &str,
    token: Option<&str>,
    rebuild: bool,
    progress: Progress<'_>,
) -> Result<Outcome, ProjectError> {
    progress(1.0, "fetching".into());
    let phase = Instant::now();
    let (root, commit) = fetch(inner, project, job_id, token).await?;
    let fetched = phase.elapsed();
    progress(10.0, "reading files".into());
    let filters = Filters::new(&project.filters)?;
    let max_file_bytes = inner.settings.max_file_bytes;
    let phase = Instant::now();
    let walked =
        tokio::task::spawn_blocking(move || walk(&root, &filters, max_file_bytes)).await??;
    let walked_in = phase.elapsed();

    let stored: HashMap<String, _> = inner
        .store
        .document_hashes(&project.id)
        .await?
        .into_iter()
        .map(|s| (s.path.clone(), s))
        .collect();
    let mut report = IndexReport {
        skipped: walked.skipped,
        ..IndexReport::default()
    };
    let seen: HashSet<String> = walked.files.iter().map(|f| f.path.clone()).collect();
    let removed: Vec<String> = stored
        .values()
        .filter(|s| s.origin == "source" && !seen.contains(&s.path))
        .map(|s| s.path.clone())
        .collect();
    report.removed = removed.len() as u64;

    let mut rows = Vec::new();
    for file in walked.files {
        let previous = stored.get(&file.path);
        match previous {
            Some(p) if p.content_hash == file.content_hash => {
                report.unchanged += 1;
                if !rebuild {
                    continue;
                }
            }
            Some(_) => report.changed += 1,
            None => report.added += 1,
        }
        rows.push(DocumentRow {
            id: previous
                .map(|p| p.id.clone())
                .unwrap_or_else(|| Uuid::new_v4().to_string()),
            language: language_of(&file.path).to_owned(),
            path: file.path,
            size: file.size,
            content_hash: file.content_hash,
            content: file.content,
            chunks: 0,
            origin: "source",
        });
    }
    // A rebuild replaces the whole index, so uploads are re-chunked from the database.
    let mut uploads = Vec::new();
    if rebuild {
        let texts: HashMap<String, String> = inner
            .store
            .document_texts(&project.id)
            .await?
            .into_iter()
            .collect();
        uploads = stored
            .values()
            .filter(|s| s.origin == "upload" && !seen.contains(&s.path))
            .filter_map(|s| Some((s.path.clone(), texts.get(&s.path)?.clone())))
            .collect();
    }

    let items: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.path.clone(), r.content.clone()))
        .chain(uploads)
        .collect();
    let code_bytes: usize = items
        .iter()
        .filter(|(path, _)| is_code(path))
        .map(|(_, text)| text.len())
        .sum();
    let (depth, first_pass) = if code_bytes > LINES_FIRST_ABOVE_BYTES {
        let code = items.iter().filter(|(path, _)| is_code(path)).cloned();
        (Depth::Lines, code.collect())
    } else {
        (Depth::Syntax, Vec::new())
    };
    let phase = Instant::now();
    let chunks = chunk_in_background(items, depth, progress).await?;
    let chunked = phase.elapsed();
    let mut changes = IndexChanges {
        replace_all: rebuild,
        removed,
        first_pass: depth == Depth::Lines,
        ..IndexChanges::default()
    };
    let mut upload_counts = Vec::new();
    let mut first_pass_chunks = 0;
    for (i, (path, file_chunks)) in chunks.into_iter().enumerate() {
        let mut count = file_chunks.len() as u64;
        report.chunks_indexed += count;
        if depth == Depth::Lines && is_code(&path) {
            first_pass_chunks += count;
            // Stored as not chunked yet until `refine` stores the syntax chunks' count,
            // so an index left with first-pass chunks (the process died) disagrees
            // with the database, and start-up re-chunks the project.
            count = 0;
        }
        match rows.get_mut(i) {
            Some(row) => row.chunks = count,
            None => upload_counts.push((path.clone(), count)),
        }
        if !rebuild && stored.contains_key(&path) {
            changes.changed.push((path, file_chunks));
        } else {
            changes.added.push((path, file_chunks));
        }
    }

    progress(92.0, "writing documents and the index".into());
    // The database and the index are written at once: the one waits on SQL, the other
    // keeps the cores busy. Either failing fails the run, as before.
    let phase = Instant::now();
    let now = now_ms();
    let removed = changes.removed.clone();
    let store_documents = async {
        inner
            .store
            .apply_document_changes(&project.id, &rows, &removed, now)
            .await?;
        if !upload_counts.is_empty() {
            inner
                .store
                .set_document_chunks(&project.id, &upload_counts)
                .await?;
        }
        Ok::<_, ProjectError>(phase.elapsed())
    };
    let write_the_index = async {
        write_index(inner, &project.id, changes).await?;
        Ok::<_, ProjectError>(phase.elapsed())
    };
    let (stored_in, indexed_in) = tokio::try_join!(store_documents, write_the_index)?;
    tracing::info!(
        project = project.id,
        fetch_ms = fetched.as_millis() as u64,
        walk_ms = walked_in.as_millis() as u64,
        chunk_ms = chunked.as_millis() as u64,
        store_ms = stored_in.as_millis() as u64,
        index_ms = indexed_in.as_millis() as u64,
        "indexed"
    );
    Ok(Outcome {
        report,
        commit,
        first_pass,
        first_pass_chunks,
    })
}

/// Replaces the chunks a run cut by lines with syntax chunks, in one commit; returns
/// how many chunks the index holds for them now. Searches meanwhile find the first
/// pass's chunks, then these: never neither.
pub async fn refine(
    inner: &Arc<Inner>,
    project_id: &str,
    first_pass: Vec<(String, String)>,
) -> Result<u64, ProjectError> {
    let started = Instant::now();
    let chunks = chunk_in_background(first_pass, Depth::Syntax, &|_, _| {}).await?;
    let counts: Vec<(String, u64)> = chunks
        .iter()
        .map(|(path, c)| (path.clone(), c.len() as u64))
        .collect();
    let changes = IndexChanges {
        changed: chunks,
        ..IndexChanges::default()
    };
    tokio::try_join!(write_index(inner, project_id, changes), async {
        inner
            .store
            .set_document_chunks(project_id, &counts)
            .await
            .map_err(ProjectError::from)
    },)?;
    tracing::info!(
        project = project_id,
        documents = counts.len(),
        refine_ms = started.elapsed().as_millis() as u64,
        "syntax chunks replaced the first pass"
    );
    Ok(counts.iter().map(|(_, n)| n).sum())
}

async fn from_database(
    inner: &Arc<Inner>,
    project: &Project,
    progress: Progress<'_>,
) -> Result<Outcome, ProjectError> {
    progress(5.0, "reading stored documents".into());
    let texts = inner.store.document_texts(&project.id).await?;
    let chunks = chunk_in_background(texts, Depth::Syntax, progress).await?;
    let counts: Vec<(String, u64)> = chunks
        .iter()
        .map(|(path, c)| (path.clone(), c.len() as u64))
        .collect();
    let report = IndexReport {
        unchanged: chunks.len() as u64,
        chunks_indexed: counts.iter().map(|(_, n)| n).sum(),
        ..IndexReport::default()
    };
    progress(92.0, "writing the index".into());
    inner
        .store
        .set_document_chunks(&project.id, &counts)
        .await?;
    let changes = IndexChanges {
        replace_all: true,
        added: chunks,
        ..IndexChanges::default()
    };
    write_index(inner, &project.id, changes).await?;
    Ok(Outcome {
        report,
        commit: project.commit.clone(),
        first_pass: Vec::new(),
        first_pass_chunks: 0,
    })
}

/// Chunks on the blocking pool; progress runs from 15 to 90 percent.
pub(super) async fn chunk_in_background(
    items: Vec<(String, String)>,
    depth: Depth,
    progress: Progress<'_>,
) -> Result<Vec<(String, Vec<Chunk>)>, ProjectError> {
    let total = items.len();
    // Progress is published from the workers through a channel, since the callback
    // borrows from this task.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let step = (total / 50).max(1);
    let work = tokio::task::spawn_blocking(move || {
        let done = move |n: usize| {
            if n.is_multiple_of(step) || n == total {
                let _ = tx.send(n);
            }
        };
        let chunks = chunk_all(&items, depth, &done);
        items
            .into_iter()
            .map(|(path, _)| path)
            .zip(chunks)
            .collect::<Vec<_>>()
    });
    tokio::pin!(work);
    loop {
        tokio::select! {
            result = &mut work => return Ok(result?),
            Some(n) = rx.recv() => {
                let percent = 15.0 + 75.0 * n as f32 / total.max(1) as f32;
                progress(percent, format!("chunked {n} of {total} files"));
            }
        }
    }
}

/// What one run changes in a project's index.
#[derive(Default)]
pub(super) struct IndexChanges {
    /// Drop the project's whole index first (a rebuild).
    pub replace_all: bool,
    /// Documents whose earlier chunks are replaced.
    pub changed: Vec<(String, Vec<Chunk>)>,
    /// Documents the index holds nothing of yet.
    pub added: Vec<(String, Vec<Chunk>)>,
    pub removed: Vec<String>,
    /// Code among the documents was cut by lines, to be refined: it is searchable at
    /// once but not embedded, since its chunks are about to be replaced.
    pub first_pass: bool,
}

/// Applies the changes to the index and commits once.
pub(super) async fn write_index(
    inner: &Arc<Inner>,
    project_id: &str,
    changes: IndexChanges,
) -> Result<(), ProjectError> {
    let rag = Arc::clone(&inner.rag);
    let project_id = project_id.to_owned();
    tokio::task::spawn_blocking(move || {
        if changes.replace_all {
            rag.remove_project(&project_id)?;
        }
        for path in &changes.removed {
            rag.remove_document(&project_id, path)?;
        }
        let provisional = |path: &str| changes.first_pass && is_code(path);
        for (path, chunks) in &changes.changed {
            if provisional(path) {
                rag.remove_document(&project_id, path)?;
                rag.add_document_lexically(&project_id, chunks)?;
            } else {
                rag.index_document(&project_id, path, chunks)?;
            }
        }
        for (path, chunks) in &changes.added {
            if provisional(path) {
                rag.add_document_lexically(&project_id, chunks)?;
            } else {
                rag.add_document(&project_id, chunks)?;
            }
        }
        rag.commit()
    })
    .await??;
    Ok(())
}
