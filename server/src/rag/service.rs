//! The retrieval service every other part uses: indexing writes chunks through it, chat
//! and wiki generation read passages from it. It owns the lexical index (always on) and,
//! when an embedding provider is configured, the dense vectors fused on top of it.

use std::path::Path;
use std::sync::Arc;

use app::protocol::Source;

use super::RagError;
use super::chunker::Chunk;
use super::fusion::{fuse, merge_adjacent, within_budget};
use super::index::{Hit, LexicalIndex};
use super::priors::{boost_definitions, demote_release_notes};
use super::vectors::{DenseScores, PendingChunk, Vectors};
use crate::providers::EmbeddingProvider;
use crate::storage::Store;

/// Candidates each retriever contributes before fusion; more than `k` so that merging
/// neighbours and fusing lists still leaves `k` distinct passages.
const CANDIDATES_PER_RESULT: usize = 4;

/// What to retrieve, for whom.
#[derive(Debug, Clone)]
pub struct RetrievalRequest<'a> {
    pub project_id: &'a str,
    pub query: &'a str,
    /// Passages wanted at most.
    pub k: usize,
    /// Tokens the passages' texts may take together in the prompt.
    pub token_budget: u32,
}

impl<'a> RetrievalRequest<'a> {
    /// A chat answer's usual shape: eight passages within about 3,000 tokens.
    pub fn for_answer(project_id: &'a str, query: &'a str) -> Self {
        Self {
            project_id,
            query,
            k: 8,
            token_budget: 3_000,
        }
    }
}

/// A retrieved excerpt: the source as clients see it, and the full text for the prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    pub source: Source,
    pub text: String,
}

pub struct Rag {
    lexical: LexicalIndex,
    vectors: Option<Arc<Vectors>>,
}

impl Rag {
    /// Opens (or creates) the index kept in `dir`. With an embedder, chunks are also
    /// embedded in the background and their vectors kept in `store`.
    pub fn open(
        dir: &Path,
        store: Store,
        embedder: Option<Arc<dyn EmbeddingProvider>>,
    ) -> Result<Self, RagError> {
        Ok(Self {
            lexical: LexicalIndex::open_in_dir(dir)?,
            vectors: embedder.map(|e| Vectors::start(e, store)),
        })
    }

    /// Replaces the chunks of one document of a project. Searchable lexically after
    /// [`commit`](Self::commit); its vectors follow in the background.
    pub fn index_document(
        &self,
        project_id: &str,
        path: &str,
        chunks: &[Chunk],
    ) -> Result<(), RagError> {
        self.lexical.delete_path(project_id, path)?;
        if let Some(vectors) = &self.vectors {
            vectors.remove_path(project_id, path);
        }
        self.add_document(project_id, chunks)
    }

    /// Adds the chunks of a document the index holds nothing of (a new file, or any file
    /// after [`remove_project`](Self::remove_project)). Skipping the delete matters at
    /// scale: tantivy runs every pending delete query at commit, one per file.
    pub fn add_document(&self, project_id: &str, chunks: &[Chunk]) -> Result<(), RagError> {
        self.lexical.add(project_id, chunks)?;
        if let Some(vectors) = &self.vectors {
            vectors.embed_later(
                project_id,
                chunks
                    .iter()
                    .map(|c| PendingChunk {
                        chunk_id: c.id(),
                        path: c.path.clone(),
                        text: embedded_text(c),
                    })
                    .collect(),
            );
        }
        Ok(())
    }

    /// Adds chunks to the lexical index only: a first pass that other chunks of the same
    /// document will replace, not worth embedding.
    pub fn add_document_lexically(
        &self,
        project_id: &str,
        chunks: &[Chunk],
    ) -> Result<(), RagError> {
        self.lexical.add(project_id, chunks)
    }

    /// Drops one document of a project. Visible after [`commit`](Self::commit).
    pub fn remove_document(&self, project_id: &str, path: &str) -> Result<(), RagError> {
        if let Some(vectors) = &self.vectors {
            vectors.remove_path(project_id, path);
        }
        self.lexical.delete_path(project_id, path)
    }

    /// Drops every chunk of a project. Visible after [`commit`](Self::commit).
    pub fn remove_project(&self, project_id: &str) -> Result<(), RagError> {
        if let Some(vectors) = &self.vectors {
            vectors.remove_project(project_id);
        }
        self.lexical.delete_project(project_id)
    }

    /// Makes pending changes durable and searchable.
    pub fn commit(&self) -> Result<(), RagError> {
        self.lexical.commit()
    }

    /// Resolves once every chunk handed over so far has its vector (immediately without
    /// an embedder). Lexical search never waits for this.
    pub async fn vectors_settled(&self) {
        if let Some(vectors) = &self.vectors {
            vectors.settled().await;
        }
    }

    pub fn lexical(&self) -> &LexicalIndex {
        &self.lexical
    }

    /// The best passages of a project for a query: lexical hits, fused with dense ones
    /// when vectors exist, neighbours merged, cut to the token budget. Sources are
    /// numbered in the order given, which is the order answers cite them: `[1]`, `[2]`…
    #[tracing::instrument(name = "retrieval", skip_all, fields(project = request.project_id, k = request.k))]
    pub async fn retrieve(
        self: &Arc<Self>,
        request: RetrievalRequest<'_>,
    ) -> Result<Vec<Passage>, RagError> {
        let started = std::time::Instant::now();
        let passages = self.best_passages(request).await;
        metrics::histogram!(crate::telemetry::RETRIEVAL_DURATION)
            .record(started.elapsed().as_secs_f64());
        passages
    }

    async fn best_passages(
        self: &Arc<Self>,
        request: RetrievalRequest<'_>,
    ) -> Result<Vec<Passage>, RagError> {
        if request.k == 0 {
            return Ok(Vec::new());
        }
        let candidates = request.k * CANDIDATES_PER_RESULT;
        let lexical = async {
            let rag = Arc::clone(self);
            let (project, query) = (request.project_id.to_owned(), request.query.to_owned());
            // BM25 over a large index can take milliseconds: keep it off the event loop.
            tokio::task::spawn_blocking(move || rag.lexical.search(&project, &query, candidates))
                .await
                .map_err(|e| RagError::Task(e.to_string()))?
        };
        // The query's embedding is a round trip to the provider: BM25 runs meanwhile.
        let query_vector = async {
            match &self.vectors {
                Some(vectors) => vectors.embed_query(request.query).await,
                None => None,
            }
        };
        let (lexical, query_vector) = tokio::join!(lexical, query_vector);
        // Before fusion, so that a changelog's hit cannot be the best lexical score that
        // every other candidate's share is measured against.
        let lexical =
            demote_release_notes(boost_definitions(lexical?, request.query), request.query);
        let hits = match (&self.vectors, query_vector) {
            (Some(vectors), Some(query_vector)) => {
                let ids: Vec<&str> = lexical.iter().map(|h| h.chunk_id.as_str()).collect();
                let dense = vectors
                    .nearest(request.project_id, &query_vector, candidates, &ids)
                    .await;
                let nearest = self.dense_hits(request.project_id, &dense)?;
                // Again after fusion, for the release notes the vectors brought in.
                demote_release_notes(fuse(lexical, nearest, &dense.of_candidates), request.query)
            }
            _ => lexical,
        };
        let mut hits = merge_adjacent(hits);
        hits.truncate(request.k);
        Ok(within_budget(hits, request.token_budget)
            .into_iter()
            .map(passage)
            .collect())
    }

    /// The nearest chunks as hits, ranked as the vectors ranked them, scored by their
    /// similarity; ids the lexical index no longer has (a file re-indexed since) are
    /// dropped.
    fn dense_hits(&self, project_id: &str, dense: &DenseScores) -> Result<Vec<Hit>, RagError> {
        let ids: Vec<&str> = dense.nearest.iter().map(|(id, _)| id.as_str()).collect();
        let mut by_id: std::collections::HashMap<String, Hit> = self
            .lexical
            .chunks_by_id(project_id, &ids)?
            .into_iter()
            .map(|h| (h.chunk_id.clone(), h))
            .collect();
        Ok(dense
            .nearest
            .iter()
            .filter_map(|(id, similarity)| {
                by_id.remove(id).map(|hit| Hit {
                    score: *similarity,
                    ..hit
                })
            })
            .collect())
    }
}

/// What a chunk's vector is made from: its path first, since a question's nouns often
/// name the file or module, and a small model sees the path's words where the code's
/// identifiers alone say little (retrieval-quality benchmark: README sections' hit@1
/// 0.17 -> 0.28, paraphrases' 0.38 -> 0.42).
fn embedded_text(chunk: &Chunk) -> String {
    format!("{}\n{}", chunk.path, chunk.text)
}

fn passage(hit: Hit) -> Passage {
    Passage {
        source: Source {
            id: hit.chunk_id,
            path: hit.path,
            start_line: u32::try_from(hit.start_line).unwrap_or(u32::MAX),
            end_line: u32::try_from(hit.end_line).unwrap_or(u32::MAX),
            snippet: hit.snippet,
            score: hit.score,
        },
        text: hit.text,
    }
}
