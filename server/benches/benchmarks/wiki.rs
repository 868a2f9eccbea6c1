//! Wiki generation benchmark (SPEC §12 style: the server's own cost, against providers
//! whose timing is known).
//!
//! - Job overhead: a 50-page wiki with a provider that answers at once; the whole job's
//!   time minus the time spent inside the provider, total and per page.
//! - Throughput: pages per minute at page concurrency 1, 4 and 16 with a provider that
//!   streams at 50 tokens/s, against the ideal (concurrency × 60 s / page time).
//!
//! Runs on SQLite in a temporary folder. Prints each figure and writes them to
//! `target/bench-wiki.json`. `REPOWIKI_BENCH_WIKI_TOKENS` sets the tokens of one page.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use app::protocol::rest::NewWikiJob;
use futures::{StreamExt, stream};
use serde_json::json;
use server::jobs::JobBoard;
use server::providers::{ChatProvider, ChatRequest, EventStream, ProviderEvent, Providers};
use server::rag::Rag;
use server::realtime::Hub;
use server::storage::Store;
use server::wiki::{MemoryInputs, WikiDeps, WikiService, WikiSettings};
use tokio_util::sync::CancellationToken;

const OVERHEAD_PAGES: usize = 50;
/// Pages per throughput run: at least 16, and four waves of pages at high concurrency so
/// the job's fixed cost (structure, start, finish) does not dominate.
fn throughput_pages(concurrency: usize) -> usize {
    (concurrency * 4).max(16)
}

/// Answers the structure prompt with `pages` pages, and each page with `tokens` tokens,
/// one every `interval`; counts the nanoseconds spent inside its streams.
struct BenchProvider {
    pages: usize,
    tokens: usize,
    interval: Duration,
    busy_ns: Arc<AtomicU64>,
}

impl ChatProvider for BenchProvider {
    fn id(&self) -> &'static str {
        "bench"
    }

    fn default_model(&self) -> &str {
        "bench"
    }

    fn stream_chat(&self, request: ChatRequest) -> EventStream {
        let started = Instant::now();
        let busy = Arc::clone(&self.busy_ns);
        if request.question().starts_with("Plan the wiki") {
            let pages: Vec<_> = (0..self.pages)
                .map(|i| {
                    json!({"id": format!("p{i}"), "title": format!("Page {i}"),
                    "importance": "medium", "relevant_files": [format!("src/m{}.rs", i % 10)]})
                })
                .collect();
            let answer = json!({"title": "Bench", "sections": [{"title": "All", "pages": pages}]});
            busy.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            return stream::iter([Ok(ProviderEvent::Token(answer.to_string()))]).boxed();
        }
        let interval = self.interval;
        let tokens = self.tokens;
        stream::unfold(0usize, move |i| async move {
            if i >= tokens {
                return None;
            }
            if !interval.is_zero() {
                tokio::time::sleep(interval).await;
            }
            let token = if i == 0 {
                "# Page\n\n".to_owned()
            } else {
                format!("word{i} ")
            };
            Some((Ok(ProviderEvent::Token(token)), i + 1))
        })
        .chain(stream::once(async move {
            busy.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            Ok(ProviderEvent::Usage {
                prompt_tokens: 0,
                completion_tokens: 0,
            })
        }))
        .boxed()
    }
}

fn files() -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    files.insert(
        "README.md".into(),
        "# Bench\n\nA project for the benchmark.\n".into(),
    );
    for i in 0..10 {
        files.insert(
            format!("src/m{i}.rs"),
            (0..80)
                .map(|l| format!("pub fn f{l}() -> u32 {{ {l} }}\n"))
                .collect(),
        );
    }
    files
}

struct Run {
    seconds: f64,
    provider_seconds: f64,
    pages: u32,
}

async fn run(dir: &Path, provider: BenchProvider, concurrency: usize) -> Run {
    let busy = Arc::clone(&provider.busy_ns);
    let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    let store = Store::connect(&url).await.expect("database");
    let rag = Rag::open(&dir.join("index"), store.clone(), None).expect("index");
    let inputs = Arc::new(MemoryInputs::default());
    inputs.insert("bench", files());
    let shutdown = CancellationToken::new();
    let service = WikiService::new(
        WikiDeps {
            store,
            hub: Arc::new(Hub::new(1024)),
            board: Arc::new(JobBoard::default()),
            providers: Providers::new(Arc::new(provider)),
            rag: Arc::new(rag),
            inputs,
            shutdown: shutdown.clone(),
        },
        WikiSettings {
            page_concurrency: concurrency,
            lease: Duration::from_secs(30),
            retry_backoff: Duration::from_millis(100),
            worker_id: uuid::Uuid::new_v4().to_string(),
        },
    );
    service.start();
    let started = Instant::now();
    let job = service
        .create(NewWikiJob {
            project_id: "bench".into(),
            ..NewWikiJob::default()
        })
        .await
        .expect("job");
    let done = loop {
        let job = service.job(&job.job_id).await.expect("job");
        if job.status == app::protocol::JobStatus::Completed {
            break job;
        }
        assert!(!job.status.is_final(), "{job:?}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let seconds = started.elapsed().as_secs_f64();
    shutdown.cancel();
    service.stopped().await;
    Run {
        seconds,
        provider_seconds: busy.load(Ordering::Relaxed) as f64 / 1e9,
        pages: done.completed_pages,
    }
}

pub fn bench() {
    tokio::runtime::Runtime::new()
        .expect("tokio runtime")
        .block_on(measure());
}

async fn measure() {
    let tokens: usize = std::env::var("REPOWIKI_BENCH_WIKI_TOKENS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);

    let dir = tempfile::tempdir().expect("temp dir");
    let instant = BenchProvider {
        pages: OVERHEAD_PAGES,
        tokens: 200,
        interval: Duration::ZERO,
        busy_ns: Arc::default(),
    };
    let overhead = run(dir.path(), instant, 4).await;
    let overhead_ms = (overhead.seconds - overhead.provider_seconds).max(0.0) * 1000.0;
    println!(
        "job overhead, {} pages, instant provider: {:.1} ms total ({:.2} ms per page; provider {:.1} ms)",
        overhead.pages,
        overhead_ms,
        overhead_ms / f64::from(overhead.pages.max(1)),
        overhead.provider_seconds * 1000.0,
    );

    let page_seconds = tokens as f64 / 50.0;
    let mut throughput = Vec::new();
    for concurrency in [1usize, 4, 16] {
        let dir = tempfile::tempdir().expect("temp dir");
        let streaming = BenchProvider {
            pages: throughput_pages(concurrency),
            tokens,
            interval: Duration::from_millis(20),
            busy_ns: Arc::default(),
        };
        let result = run(dir.path(), streaming, concurrency).await;
        let per_minute = f64::from(result.pages) / result.seconds * 60.0;
        let ideal = concurrency as f64 * 60.0 / page_seconds;
        println!(
            "pages/min at concurrency {concurrency:>2}, 50 tokens/s, {tokens} tokens a page: {per_minute:.1} (ideal {ideal:.1}, {:.0} %)",
            per_minute / ideal * 100.0
        );
        throughput.push(json!({
            "concurrency": concurrency,
            "pages": result.pages,
            "seconds": result.seconds,
            "pages_per_minute": per_minute,
            "ideal_pages_per_minute": ideal,
        }));
    }

    let report = json!({
        "overhead": {
            "pages": overhead.pages,
            "total_ms": overhead.seconds * 1000.0,
            "provider_ms": overhead.provider_seconds * 1000.0,
            "overhead_ms": overhead_ms,
            "overhead_ms_per_page": overhead_ms / f64::from(overhead.pages.max(1)),
        },
        "throughput_50_tokens_per_sec": throughput,
        "tokens_per_page": tokens,
    });
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").into());
    let path = Path::new(&target).join("bench-wiki.json");
    match std::fs::write(
        &path,
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    ) {
        Ok(()) => println!("wrote {}", path.display()),
        Err(e) => eprintln!("could not write {}: {e}", path.display()),
    }
}
