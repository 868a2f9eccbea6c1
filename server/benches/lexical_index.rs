//! Lexical index benchmark (SPEC §5, §12): chunks and indexes the real sources of the
//! crates in `~/.cargo/registry/src/*/`, then times identifier-like queries.
//!
//! `cargo bench -p server --bench lexical_index` prints files, chunks, indexing seconds
//! and query latency p50/p99, and writes them to `target/bench-lexical.json`. Sizes can be
//! lowered for a quick run: `REPOWIKI_BENCH_FILES=500 REPOWIKI_BENCH_QUERIES=100`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use server::rag::{Chunker, LexicalIndex};

const MAX_FILE_BYTES: u64 = 200 * 1024;
const SOURCE_EXTENSIONS: &[&str] = &[
    "rs", "py", "js", "ts", "tsx", "go", "java", "c", "h", "cc", "cpp", "hpp", "md", "txt",
];

fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Depth-first, sorted, so every run indexes the same files.
fn source_files(roots: Vec<PathBuf>, limit: usize) -> Vec<PathBuf> {
    let mut stack = roots;
    stack.sort_unstable_by(|a, b| b.cmp(a));
    let mut files = Vec::new();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut children: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        children.sort_unstable_by(|a, b| b.cmp(a));
        for path in children {
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file()
                && meta.len() <= MAX_FILE_BYTES
                && path
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| SOURCE_EXTENSIONS.contains(&e))
            {
                files.push(path);
                if files.len() == limit {
                    return files;
                }
            }
        }
    }
    files
}

fn registry_roots() -> Vec<PathBuf> {
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(&std::env::var("HOME").unwrap_or_default()).join(".cargo"));
    std::fs::read_dir(home.join("registry/src"))
        .map(|dirs| dirs.flatten().map(|d| d.path()).collect())
        .unwrap_or_default()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn main() {
    let max_files = size("REPOWIKI_BENCH_FILES", 10_000);
    let queries = size("REPOWIKI_BENCH_QUERIES", 1_000);
    let files = source_files(registry_roots(), max_files);
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => return eprintln!("no temporary directory: {e}"),
    };
    let index = match LexicalIndex::open_in_dir(dir.path()) {
        Ok(index) => index,
        Err(e) => return eprintln!("cannot open the index: {e}"),
    };
    let chunker = Chunker::default();
    let mut rng = StdRng::seed_from_u64(5);
    let mut words: Vec<String> = Vec::new();
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
    }
    if let Err(e) = index.commit() {
        return eprintln!("commit failed: {e}");
    }
    let indexing = started.elapsed().as_secs_f64();

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
    println!("chunks:          {chunks}");
    println!("indexing:        {indexing:.2} s");
    println!(
        "queries:         {} ({empty} without hits)",
        latencies.len()
    );
    println!("query latency:   p50 {p50:.3} ms, p99 {p99:.3} ms");
    let report = serde_json::json!({
        "files": files.len(),
        "chunks": chunks,
        "indexing_seconds": indexing,
        "queries": latencies.len(),
        "queries_without_hits": empty,
        "query_p50_ms": p50,
        "query_p99_ms": p99,
    });
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").into());
    let path = Path::new(&target).join("bench-lexical.json");
    match std::fs::write(
        &path,
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    ) {
        Ok(()) => println!("wrote {}", path.display()),
        Err(e) => eprintln!("could not write {}: {e}", path.display()),
    }
}
