//! Dense vectors of chunks, when an embedding provider is configured. Embedding is slow
//! (a remote call per batch, or seconds per batch on a local CPU model), so it runs in the
//! background after lexical indexing: search works at once, and gets better as vectors
//! arrive. Vectors are kept in the database and loaded per project on first use.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{RwLock, mpsc, watch};

use super::vector_set::{VectorSet, normalized};
use crate::providers::EmbeddingProvider;
use crate::storage::{Store, StoredVector};

/// Texts per embedding request: large enough to amortise the round trip, small enough
/// for every provider's batch limit.
const BATCH: usize = 32;
/// A query's vector is worth this much wait at most; past it, lexical results stand alone.
const QUERY_TIMEOUT: Duration = Duration::from_secs(3);

/// A change to the vectors, applied in the order indexing made it.
enum VectorOp {
    Embed {
        project_id: String,
        chunks: Vec<PendingChunk>,
    },
    RemovePath {
        project_id: String,
        path: String,
    },
    RemoveProject {
        project_id: String,
    },
}

pub(super) struct PendingChunk {
    pub chunk_id: String,
    pub path: String,
    pub text: String,
}

type ProjectVectors = Arc<RwLock<VectorSet>>;

/// What the vectors say about a query.
#[derive(Debug, Default)]
pub(super) struct DenseScores {
    /// The nearest chunks, best first, as (chunk id, cosine similarity).
    pub nearest: Vec<(String, f32)>,
    /// Cosine similarity of the candidates asked about, by chunk id.
    pub of_candidates: HashMap<String, f32>,
}

pub(super) struct Vectors {
    embedder: Arc<dyn EmbeddingProvider>,
    store: Store,
    ops: mpsc::UnboundedSender<VectorOp>,
    /// Operations sent but not yet applied, so callers can wait for vectors to settle.
    pending: watch::Sender<usize>,
    loaded: std::sync::Mutex<HashMap<String, ProjectVectors>>,
}

impl Vectors {
    /// Starts the background worker that embeds chunks as indexing hands them over.
    pub fn start(embedder: Arc<dyn EmbeddingProvider>, store: Store) -> Arc<Self> {
        let (ops, queue) = mpsc::unbounded_channel();
        let vectors = Arc::new(Self {
            embedder,
            store,
            ops,
            pending: watch::Sender::new(0),
            loaded: std::sync::Mutex::default(),
        });
        tokio::spawn(apply_ops(Arc::downgrade(&vectors), queue));
        vectors
    }

    pub fn embed_later(&self, project_id: &str, chunks: Vec<PendingChunk>) {
        self.send(VectorOp::Embed {
            project_id: project_id.to_owned(),
            chunks,
        });
    }

    pub fn remove_path(&self, project_id: &str, path: &str) {
        self.send(VectorOp::RemovePath {
            project_id: project_id.to_owned(),
            path: path.to_owned(),
        });
    }

    pub fn remove_project(&self, project_id: &str) {
        self.send(VectorOp::RemoveProject {
            project_id: project_id.to_owned(),
        });
    }

    fn send(&self, op: VectorOp) {
        self.pending.send_modify(|n| *n += 1);
        // The worker only stops when `self` is dropped, so a send cannot fail while we
        // hold `self`; if it somehow did, search just stays lexical.
        if self.ops.send(op).is_err() {
            self.pending.send_modify(|n| *n = n.saturating_sub(1));
        }
    }

    /// Resolves once every change handed over so far has been applied.
    pub async fn settled(&self) {
        let mut pending = self.pending.subscribe();
        // The sender lives in `self`, so waiting cannot fail for want of one.
        let _ = pending.wait_for(|n| *n == 0).await;
    }

    /// The query's vector, normalised; `None` when it cannot be embedded in time: dense
    /// results are a bonus, lexical ones stand alone.
    pub async fn embed_query(&self, query: &str) -> Option<Vec<f32>> {
        let input = [query.to_owned()];
        let embedded = tokio::time::timeout(QUERY_TIMEOUT, self.embedder.embed(&input)).await;
        match embedded {
            Ok(Ok(mut e)) if !e.vectors.is_empty() => Some(normalized(e.vectors.swap_remove(0))),
            Ok(Ok(_)) => None,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not embed a query; lexical results only");
                None
            }
            Err(_) => {
                tracing::warn!("embedding a query timed out; lexical results only");
                None
            }
        }
    }

    /// The `k` chunks nearest to the query by cosine similarity, and the similarity of
    /// each chunk named in `also` that has a vector (the lexical candidates, so dense
    /// evidence can rank them too), in one pass over the project's vectors.
    pub async fn nearest(
        &self,
        project_id: &str,
        query_vector: &[f32],
        k: usize,
        also: &[&str],
    ) -> DenseScores {
        let Some(project) = self.project(project_id).await else {
            return DenseScores::default();
        };
        let query = query_vector.to_vec();
        let also: Vec<String> = also.iter().map(|id| (*id).to_owned()).collect();
        // The scan reads every vector of the project: milliseconds at a few thousand
        // chunks, tens at hundreds of thousands. Off the event loop, so sockets and
        // streaming tokens never wait for it.
        let scan = tokio::task::spawn_blocking(move || {
            let vectors = project.blocking_read();
            DenseScores {
                nearest: vectors.nearest(&query, k),
                of_candidates: also
                    .into_iter()
                    .filter_map(|id| {
                        let similarity = vectors.similarity(&id, &query)?;
                        Some((id, similarity))
                    })
                    .collect(),
            }
        });
        scan.await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the vector scan failed; lexical results only");
            DenseScores::default()
        })
    }

    /// The project's vectors, read from the database on first use.
    async fn project(&self, project_id: &str) -> Option<ProjectVectors> {
        let existing = self.loaded_project(project_id);
        if existing.is_some() {
            return existing;
        }
        let stored = match self.store.vectors(project_id, self.embedder.model()).await {
            Ok(stored) => stored,
            Err(e) => {
                tracing::warn!(error = %e, "could not load chunk vectors");
                return None;
            }
        };
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        // Another search may have loaded it meanwhile; keep the first, the worker
        // updates that one.
        Some(Arc::clone(
            loaded
                .entry(project_id.to_owned())
                .or_insert_with(|| Arc::new(RwLock::new(VectorSet::new(stored)))),
        ))
    }

    fn loaded_project(&self, project_id: &str) -> Option<ProjectVectors> {
        self.loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(project_id)
            .cloned()
    }
}

async fn apply_ops(
    vectors: std::sync::Weak<Vectors>,
    mut queue: mpsc::UnboundedReceiver<VectorOp>,
) {
    while let Some(op) = queue.recv().await {
        let Some(vectors) = vectors.upgrade() else {
            return;
        };
        let result = match op {
            VectorOp::Embed { project_id, chunks } => embed(&vectors, &project_id, chunks).await,
            VectorOp::RemovePath { project_id, path } => {
                if let Some(p) = vectors.loaded_project(&project_id) {
                    p.write().await.remove_path(&path);
                }
                vectors
                    .store
                    .delete_vectors(&project_id, Some(&path))
                    .await
                    .map_err(|e| e.to_string())
            }
            VectorOp::RemoveProject { project_id } => {
                vectors
                    .loaded
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&project_id);
                vectors
                    .store
                    .delete_vectors(&project_id, None)
                    .await
                    .map_err(|e| e.to_string())
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "a chunk vector update failed; search stays lexical for it");
        }
        vectors.pending.send_modify(|n| *n = n.saturating_sub(1));
    }
}

async fn embed(
    vectors: &Vectors,
    project_id: &str,
    chunks: Vec<PendingChunk>,
) -> Result<(), String> {
    for batch in chunks.chunks(BATCH) {
        let texts: Vec<String> = batch.iter().map(|c| c.text.clone()).collect();
        let embedded = vectors
            .embedder
            .embed(&texts)
            .await
            .map_err(|e| e.to_string())?;
        let stored: Vec<StoredVector> = batch
            .iter()
            .zip(embedded.vectors)
            .map(|(chunk, vector)| StoredVector {
                chunk_id: chunk.chunk_id.clone(),
                path: chunk.path.clone(),
                vector,
            })
            .collect();
        vectors
            .store
            .upsert_vectors(project_id, vectors.embedder.model(), &stored)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(p) = vectors.loaded_project(project_id) {
            let mut p = p.write().await;
            for vector in stored {
                p.upsert(vector);
            }
        }
    }
    Ok(())
}
