//! Chunking benchmark: the costly part of first indexing (SPEC §12: 10,000 files < 30 s).
//! Chunks the real sources of the crates in `~/.cargo/registry/src/*/` on one thread and
//! prints throughput per file kind and the slowest files, so a splitter whose cost grows
//! faster than the file shows up at once.
//!
//! `cargo bench -p server -- chunking` writes `target/bench-chunking.json`.
//! `REPOWIKI_BENCH_FILES=500` for a quick run.

use crate::support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use server::rag::Chunker;

#[derive(Default)]
struct KindTotals {
    files: usize,
    bytes: usize,
    chunks: usize,
    time: Duration,
}

pub fn bench() {
    let max_files = support::size("REPOWIKI_BENCH_FILES", 10_000);
    let chunker = Chunker::default();
    let mut kinds: BTreeMap<String, KindTotals> = BTreeMap::new();
    let mut slowest: Vec<(Duration, usize, String)> = Vec::new();
    let started = Instant::now();
    for (path, rel) in support::source_files(max_files) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let name = rel.to_string_lossy().into_owned();
        let one = Instant::now();
        let chunks = chunker.chunk(&name, &text).map(|c| c.len()).unwrap_or(0);
        let took = one.elapsed();
        let kind = rel
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_owned();
        let totals = kinds.entry(kind).or_default();
        totals.files += 1;
        totals.bytes += text.len();
        totals.chunks += chunks;
        totals.time += took;
        slowest.push((took, text.len(), name));
    }
    let total = started.elapsed();
    slowest.sort_unstable_by_key(|slow| std::cmp::Reverse(slow.0));

    let mb = |bytes: usize| bytes as f64 / 1_048_576.0;
    println!("kind   files      MB   chunks   seconds   MB/s");
    for (kind, t) in &kinds {
        println!(
            "{kind:<5} {:>6} {:>7.2} {:>8} {:>9.2} {:>6.2}",
            t.files,
            mb(t.bytes),
            t.chunks,
            t.time.as_secs_f64(),
            mb(t.bytes) / t.time.as_secs_f64().max(1e-9)
        );
    }
    let files: usize = kinds.values().map(|t| t.files).sum();
    let bytes: usize = kinds.values().map(|t| t.bytes).sum();
    let chunks: usize = kinds.values().map(|t| t.chunks).sum();
    println!(
        "all    {files:>6} {:>7.2} {chunks:>8} {:>9.2} {:>6.2}  (one thread)",
        mb(bytes),
        total.as_secs_f64(),
        mb(bytes) / total.as_secs_f64().max(1e-9)
    );
    println!("slowest files:");
    for (took, len, name) in slowest.iter().take(10) {
        println!(
            "  {:>8.1} ms {:>8} B  {name}",
            took.as_secs_f64() * 1e3,
            len
        );
    }
    let report = serde_json::json!({
        "files": files,
        "bytes": bytes,
        "chunks": chunks,
        "seconds": total.as_secs_f64(),
        "slowest_file_ms": slowest.first().map(|s| s.0.as_secs_f64() * 1e3),
        "kinds": kinds.iter().map(|(k, t)| (k.clone(), serde_json::json!({
            "files": t.files, "bytes": t.bytes, "chunks": t.chunks,
            "seconds": t.time.as_secs_f64(),
        }))).collect::<serde_json::Map<_, _>>(),
    });
    support::write_report("bench-chunking.json", &report);
}
