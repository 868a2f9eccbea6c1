//! Retrieval benchmark (SPEC §5, §12): chunks and indexes the real sources of the crates
//! in `~/.cargo/registry/src/*/` — repeated under other paths until the index holds
//! 200,000 chunks — then times identifier-like queries, both the raw BM25 search and the
//! whole retrieval a chat turn makes (search, neighbour merging, token budget). Then the
//! same chunks get 384-dimension vectors (from an in-process word-hashing embedder, so the
//! figure is the server's own cost of hybrid retrieval: the scan over every vector of the
//! project and the fusion, without a model's time, which the provider adds on top).
//!
//! `cargo bench -p server -- lexical_index` prints files, chunks, indexing seconds
//! and query latency p50/p99, and writes them to `target/bench-lexical.json`. Sizes can be
//! lowered for a quick run: `REPOWIKI_BENCH_FILES=500 REPOWIKI_BENCH_CHUNKS=5000
//! REPOWIKI_BENCH_QUERIES=100`.

use crate::support;

use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use server::providers::{EmbeddingProvider, Embeddings, ProviderError};
use server::rag::{Chunk, Chunker, Rag, RagError, RetrievalRequest};
use support::{percentile_ms as percentile, size};

pub fn bench() {
    support::block_on(run());
}

async fn run() {
    let max_files = size("REPOWIKI_BENCH_FILES", 10_000);
    let target_chunks = size("REPOWIKI_BENCH_CHUNKS", 200_000);
    let queries = size("REPOWIKI_BENCH_QUERIES", 1_000);
    let files: Vec<PathBuf> = support::source_files(max_files)
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    let (_dir, rag) = match support::lexical_rag().await {
        Ok(opened) => opened,
        Err(e) => return eprintln!("{e}"),
    };
    let index = rag.lexical();
    let chunker = Chunker::default();
    let mut rng = StdRng::seed_from_u64(5);
    let mut words: Vec<String> = Vec::new();
    let mut corpus = Vec::new();
    let mut chunks = 0;
    let started = Instant::now();
    for path in &files {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let name = path.to_string_lossy();
        let file_chunks = match chunker.chunk(&name, &text) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{name}: {e}");
                continue;
            }
        };
        chunks += file_chunks.len();
        if let Err(e) = index.add("bench", &file_chunks) {
            return eprintln!("indexing failed: {e}");
        }
        // A few identifiers per file make the query set look like what people search for.
        let idents: Vec<&str> = text
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| w.len() >= 4 && w.chars().next().is_some_and(char::is_alphabetic))
            .collect();
        for _ in 0..3 {
            if !idents.is_empty() {
                words.push(idents[rng.random_range(0..idents.len())].to_owned());
            }
        }
        corpus.push(file_chunks);
    }
    if let Err(e) = index.commit() {
        return eprintln!("commit failed: {e}");
    }
    let indexing = started.elapsed().as_secs_f64();
    let corpus_chunks = chunks;

    // Copies of the corpus under other paths, until the index is as large as asked.
    let add = |copied: &[Chunk]| index.add("bench", copied);
    let chunks = match add_copies(&corpus, 1, chunks, target_chunks, add) {
        Ok(chunks) => chunks,
        Err(e) => return eprintln!("indexing failed: {e}"),
    };
    if let Err(e) = index.commit() {
        return eprintln!("commit failed: {e}");
    }

    let mut retrievals = match timed_retrievals(&rag, &words, queries, &mut rng).await {
        Ok(durations) => durations,
        Err(e) => return eprintln!("retrieval failed: {e}"),
    };
    retrievals.sort_unstable();
    let (r50, r99) = (percentile(&retrievals, 0.50), percentile(&retrievals, 0.99));

    let mut latencies = Vec::with_capacity(queries);
    let mut empty = 0;
    for _ in 0..queries {
        if words.is_empty() {
            break;
        }
        let word = &words[rng.random_range(0..words.len())];
        let started = Instant::now();
        match index.search("bench", word, 10) {
            Ok(hits) => empty += usize::from(hits.is_empty()),
            Err(e) => return eprintln!("search failed: {e}"),
        }
        latencies.push(started.elapsed());
    }
    latencies.sort_unstable();
    let (p50, p99) = (percentile(&latencies, 0.50), percentile(&latencies, 0.99));

    let hybrid = hybrid_retrievals(&corpus, chunks, &words, queries, &mut rng).await;
    let (h50, h99) = (percentile(&hybrid, 0.50), percentile(&hybrid, 0.99));

    println!("files indexed:   {}", files.len());
    println!("chunks:          {corpus_chunks} from the files, {chunks} searched");
    println!("indexing:        {indexing:.2} s (the files once)");
    println!(
        "queries:         {} ({empty} without hits)",
        latencies.len()
    );
    println!("query latency:   p50 {p50:.3} ms, p99 {p99:.3} ms (BM25 top 10)");
    println!(
        "retrieval:       p50 {r50:.3} ms, p99 {r99:.3} ms (top 8 merged, 3,000-token budget)"
    );
    println!(
        "hybrid:          p50 {h50:.3} ms, p99 {h99:.3} ms ({} queries; the same retrieval plus the scan of as many vectors and fusion, model time excluded)",
        hybrid.len()
    );
    let report = serde_json::json!({
        "hybrid_retrieval_p50_ms": h50,
        "hybrid_retrieval_p99_ms": h99,
        "files": files.len(),
        "file_chunks": corpus_chunks,
        "chunks": chunks,
        "indexing_seconds": indexing,
        "queries": latencies.len(),
        "queries_without_hits": empty,
        "query_p50_ms": p50,
        "query_p99_ms": p99,
        "retrieval_p50_ms": r50,
        "retrieval_p99_ms": r99,
    });
    support::write_report("bench-lexical.json", &report);
}

/// Adds copies of the corpus's chunks, each under `copy{n}/` from `first_copy` on, until
/// `chunks` (those already added) reaches `target`; returns the new count.
fn add_copies(
    corpus: &[Vec<Chunk>],
    first_copy: usize,
    mut chunks: usize,
    target: usize,
    mut add: impl FnMut(&[Chunk]) -> Result<(), RagError>,
) -> Result<usize, RagError> {
    for copy in first_copy.. {
        if chunks >= target || corpus.iter().all(Vec::is_empty) {
            break;
        }
        for file_chunks in corpus {
            let copied: Vec<Chunk> = file_chunks
                .iter()
                .map(|c| Chunk {
                    path: format!("copy{copy}/{}", c.path),
                    ..c.clone()
                })
                .collect();
            chunks += copied.len();
            add(&copied)?;
            if chunks >= target {
                break;
            }
        }
    }
    Ok(chunks)
}

/// How long whole retrievals take, one query at a time, each a random word of `words`.
async fn timed_retrievals(
    rag: &Arc<Rag>,
    words: &[String],
    queries: usize,
    rng: &mut StdRng,
) -> Result<Vec<Duration>, RagError> {
    let mut durations = Vec::with_capacity(queries);
    for _ in 0..queries {
        if words.is_empty() {
            break;
        }
        let word = &words[rng.random_range(0..words.len())];
        let started = Instant::now();
        rag.retrieve(RetrievalRequest::for_answer("bench", word))
            .await?;
        durations.push(started.elapsed());
    }
    Ok(durations)
}

/// Whole retrievals over the same chunks with a vector for each: the corpus is indexed
/// again, as copies up to `target_chunks`, into a service that embeds through
/// [`HashingEmbedder`]. Sorted; empty when something failed (said on stderr).
async fn hybrid_retrievals(
    corpus: &[Vec<Chunk>],
    target_chunks: usize,
    words: &[String],
    queries: usize,
    rng: &mut StdRng,
) -> Vec<Duration> {
    let embedder: Arc<dyn EmbeddingProvider> = Arc::new(HashingEmbedder);
    let (_dir, rag) = match support::rag(Some(embedder)).await {
        Ok(opened) => opened,
        Err(e) => {
            eprintln!("{e}");
            return Vec::new();
        }
    };
    let add = |copied: &[Chunk]| rag.add_document("bench", copied);
    let indexed = add_copies(corpus, 0, 0, target_chunks, add).and_then(|_| rag.commit());
    if let Err(e) = indexed {
        eprintln!("indexing failed: {e}");
        return Vec::new();
    }
    rag.vectors_settled().await;
    match timed_retrievals(&rag, words, queries.min(200), rng).await {
        Ok(mut durations) => {
            durations.sort_unstable();
            durations
        }
        Err(e) => {
            eprintln!("retrieval failed: {e}");
            Vec::new()
        }
    }
}

/// Vectors from the hashes of a text's words: instant and deterministic, so a benchmark
/// measures what the server does with vectors, not a model.
struct HashingEmbedder;

const DIMENSIONS: usize = 384;

impl EmbeddingProvider for HashingEmbedder {
    fn id(&self) -> &'static str {
        "hashing"
    }

    fn model(&self) -> &str {
        "word-hashing-384"
    }

    fn embed<'a>(
        &'a self,
        inputs: &'a [String],
    ) -> BoxFuture<'a, Result<Embeddings, ProviderError>> {
        let vectors = inputs
            .iter()
            .map(|text| {
                let mut vector = vec![0.0f32; DIMENSIONS];
                for word in text
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty())
                {
                    let mut hasher = std::collections::hash_map::DefaultHasher::new();
                    word.hash(&mut hasher);
                    let hash = hasher.finish();
                    let sign = if hash & 1 == 0 { 1.0 } else { -1.0 };
                    vector[(hash >> 1) as usize % DIMENSIONS] += sign;
                }
                vector
            })
            .collect();
        Box::pin(std::future::ready(Ok(Embeddings {
            vectors,
            dimension: DIMENSIONS,
        })))
    }
}
