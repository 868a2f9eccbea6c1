//! Retrieval benchmark (SPEC §5, §12): chunks and indexes the real sources of the crates
//! in `~/.cargo/registry/src/*/` — repeated under other paths until the index holds
//! 200,000 chunks — then times identifier-like queries, both the raw BM25 search and the
//! whole retrieval a chat turn makes (search, neighbour merging, token budget).
//!
//! `cargo bench -p server -- lexical_index` prints files, chunks, indexing seconds
//! and query latency p50/p99, and writes them to `target/bench-lexical.json`. Sizes can be
//! lowered for a quick run: `REPOWIKI_BENCH_FILES=500 REPOWIKI_BENCH_CHUNKS=5000
//! REPOWIKI_BENCH_QUERIES=100`.

use crate::support;

use std::path::PathBuf;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use server::rag::{Chunker, RetrievalRequest};
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
    let mut copy = 0;
    while chunks < target_chunks && corpus_chunks > 0 {
        copy += 1;
        for file_chunks in &corpus {
            let copied: Vec<_> = file_chunks
                .iter()
                .map(|c| server::rag::Chunk {
                    path: format!("copy{copy}/{}", c.path),
                    ..c.clone()
                })
                .collect();
            chunks += copied.len();
            if let Err(e) = index.add("bench", &copied) {
                return eprintln!("indexing failed: {e}");
            }
            if chunks >= target_chunks {
                break;
            }
        }
    }
    if let Err(e) = index.commit() {
        return eprintln!("commit failed: {e}");
    }

    let mut retrievals = Vec::with_capacity(queries);
    for _ in 0..queries {
        if words.is_empty() {
            break;
        }
        let word = &words[rng.random_range(0..words.len())];
        let started = Instant::now();
        if let Err(e) = rag
            .retrieve(RetrievalRequest::for_answer("bench", word))
            .await
        {
            return eprintln!("retrieval failed: {e}");
        }
        retrievals.push(started.elapsed());
    }
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
    let report = serde_json::json!({
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
