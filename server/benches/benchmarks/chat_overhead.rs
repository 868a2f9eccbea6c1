//! Chat turn overhead (SPEC §12): the server's own time from a `send_message` to the first
//! token leaving it, with a 10,000-file project indexed, minus the provider's own
//! first-token time. The provider is a local OpenAI-compatible server that streams its
//! answer as soon as the request arrives and notes both moments, so what remains is
//! ours: storing the question, retrieval, prompt building, the HTTP call, SSE parsing
//! and the publish to the room.
//!
//! `cargo bench -p server -- chat_overhead` prints p50/p99 over 1,000 turns and
//! writes `target/bench-chat-overhead.json`. Targets: p50 < 5 ms, p99 < 20 ms. Quick
//! run: `REPOWIKI_BENCH_FILES=500 REPOWIKI_BENCH_TURNS=100`.

use crate::in_process::{Instance, ask};
use crate::{scripted_provider, support};

use std::time::Instant;

const TOKENS: &[&str] = &["The", " answer", " is", " in", " [1]."];

pub fn bench() {
    support::block_on(measure());
}

async fn measure() {
    let files = support::size("REPOWIKI_BENCH_FILES", 10_000);
    let turns = support::size("REPOWIKI_BENCH_TURNS", 1_000);
    let work = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => return eprintln!("no temporary directory: {e}"),
    };
    let tree = work.path().join("tree");
    let copied = support::copy_source_tree(&tree, files);

    let tokens = TOKENS.iter().map(|t| (*t).to_owned()).collect();
    let provider = match scripted_provider::start(tokens, None).await {
        Ok(p) => p,
        Err(e) => return eprintln!("{e}"),
    };
    // OpenRouter speaks OpenAI's wire but offers no embeddings, so retrieval is the default
    // one (lexical). With an embedding provider a question also waits for its embedding,
    // which is the provider's round trip rather than ours, like its first token.
    let instance = match Instance::start(work.path(), &provider.env()).await {
        Ok(i) => i,
        Err(e) => return eprintln!("{e}"),
    };
    let indexing = Instant::now();
    let project = match instance.index(&tree).await {
        Ok(p) => p,
        Err(e) => return eprintln!("{e}"),
    };
    let indexing = indexing.elapsed();
    println!(
        "project:         {} files copied, {} documents, {} chunks, indexed in {:.1} s",
        copied.len(),
        project.documents,
        project.chunks,
        indexing.as_secs_f64()
    );
    let mut ws = match instance.connect().await {
        Ok(ws) => ws,
        Err(e) => return eprintln!("{e}"),
    };
    let questions = [
        "How is the configuration parsed?",
        "Where are errors converted into responses?",
        "What does the serializer do with maps?",
        "How are connections retried?",
    ];

    let mut overheads = Vec::with_capacity(turns);
    let mut sources_seen = 0usize;
    for turn in 0..turns {
        let sent = Instant::now();
        let asked = match ask(&mut ws, &project.id, questions[turn % questions.len()]).await {
            Ok(t) => t,
            Err(e) => return eprintln!("{e}"),
        };
        sources_seen += asked.sources;
        overheads.push((asked.first_token - sent).saturating_sub(provider.last_own_time()));
    }
    overheads.sort_unstable();
    let (p50, p99) = (
        support::percentile_ms(&overheads, 0.50),
        support::percentile_ms(&overheads, 0.99),
    );
    let mean_sources = sources_seen as f64 / turns.max(1) as f64;
    println!("turns:           {turns}, {mean_sources:.1} sources each on average");
    println!("server overhead: p50 {p50:.2} ms, p99 {p99:.2} ms (targets 5 / 20)");
    support::write_report(
        "bench-chat-overhead.json",
        &serde_json::json!({
            "files": copied.len(),
            "documents": project.documents,
            "chunks": project.chunks,
            "indexing_seconds": indexing.as_secs_f64(),
            "turns": turns,
            "mean_sources": mean_sources,
            "overhead_p50_ms": p50,
            "overhead_p99_ms": p99,
        }),
    );
    let _ = ws.close(None).await;
    instance.stop().await;
}
