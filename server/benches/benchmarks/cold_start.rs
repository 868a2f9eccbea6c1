//! Cold start (SPEC §12, next targets): the first answer about a never-seen repository of
//! ~1,500 files, indexing included: from creating the project to the first token of an
//! answer grounded in it. The provider is the scripted one, answering at once, so what is
//! measured is ours: walking and reading the tree, chunking, storing the documents,
//! writing and committing the index, then one turn.
//!
//! `cargo bench -p server -- cold_start` runs it five times, each on a fresh server and a
//! fresh copy of the tree (so the index has never seen it), and prints each run's phases
//! as the indexer reports them, the process's CPU time beside the wall time (how much of
//! the machine indexing used), and the median; JSON in `target/bench-cold-start.json`.
//! A large repository is answered from a first pass by lines; `refine` is how long its
//! syntax chunks took after that, and each run waits for them before the next starts.
//! The repository is 1,500 Rust, Markdown and manifest files of the crates in the cargo
//! registry (`REPOWIKI_BENCH_FILES` changes the count), or the folder
//! `REPOWIKI_BENCH_TREE` names (a checkout of leptos is the one the target was set on);
//! `REPOWIKI_BENCH_RUNS` sets the runs.

use crate::in_process::{Instance, ask};
use crate::{scripted_provider, support};

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// The phase durations (`*_ms` fields) of the indexer's "indexed" events, and of the
/// refinement that follows a first pass by lines.
#[derive(Clone, Default)]
struct PhaseLog(Arc<Mutex<Vec<BTreeMap<String, u64>>>>);

struct PhaseFields {
    indexed: bool,
    phases: BTreeMap<String, u64>,
}

impl Visit for PhaseFields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if let Some(phase) = field.name().strip_suffix("_ms") {
            self.phases.insert(phase.to_owned(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let message = format!("{value:?}");
        if field.name() == "message"
            && (message == "indexed" || message == "syntax chunks replaced the first pass")
        {
            self.indexed = true;
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for PhaseLog {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = PhaseFields {
            indexed: false,
            phases: BTreeMap::new(),
        };
        event.record(&mut fields);
        if fields.indexed
            && let Ok(mut log) = self.0.lock()
        {
            log.push(fields.phases);
        }
    }
}

/// CPU time (user + system) of this process so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

struct Run {
    bytes: u64,
    files: u64,
    chunks: u64,
    indexed: Duration,
    answered: Duration,
    cpu: Duration,
    phases: BTreeMap<String, u64>,
}

/// What a Rust repository such as leptos holds (1,531 files, 8.1 MB): Rust, Markdown,
/// manifests, a little web code.
const REPOSITORY_EXTENSIONS: &[&str] = &["rs", "md", "toml", "js", "ts", "json", "html", "css"];

/// Copies the repository to index into `tree`: `REPOWIKI_BENCH_TREE` when set (a checkout
/// of leptos, say), else `files` files of the cargo registry's crates; returns its bytes.
fn copy_repository(tree: &std::path::Path, files: usize) -> u64 {
    let copied = match std::env::var_os("REPOWIKI_BENCH_TREE") {
        Some(from) => support::copy_folder(tree, std::path::Path::new(&from)),
        None => support::copy_files(tree, support::source_files_of(files, REPOSITORY_EXTENSIONS)),
    };
    copied
        .iter()
        .filter_map(|rel| std::fs::metadata(tree.join(rel)).ok())
        .map(|m| m.len())
        .sum()
}

async fn one_run(files: usize, log: &PhaseLog) -> Result<Run, String> {
    let work = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
    let tree = work.path().join("tree");
    let bytes = copy_repository(&tree, files);
    let tokens = ["The", " answer", " is", " in", " [1]."]
        .map(str::to_owned)
        .to_vec();
    let provider = scripted_provider::start(tokens, None).await?;
    let instance = Instance::start(work.path(), &provider.env()).await?;
    let mut ws = instance.connect().await?;
    if let Ok(mut log) = log.0.lock() {
        log.clear();
    }

    let cpu_before = cpu_time();
    let started = Instant::now();
    let project = instance.index(&tree).await?;
    let indexed = started.elapsed();
    let turn = ask(&mut ws, &project.id, "How is the configuration parsed?").await?;
    let answered = turn.first_token - started;
    let cpu = cpu_time().saturating_sub(cpu_before);
    if turn.sources == 0 {
        return Err("the answer had no sources: the index was not ready".into());
    }
    // Syntax chunks replace a first pass by lines in the background; the next run must
    // not start while this one's refinement still holds the cores.
    let refined = refined(&instance, &project.id).await?;
    instance.stop().await;
    let phases = log
        .0
        .lock()
        .ok()
        .map(|l| l.iter().flat_map(|p| p.clone()).collect())
        .unwrap_or_default();
    Ok(Run {
        bytes,
        files: project.documents,
        chunks: refined.chunks,
        indexed,
        answered,
        cpu,
        phases,
    })
}

/// The project once every document counts its final chunks (a first pass stores code
/// as not yet chunked), which is when its refinement is done.
async fn refined(
    instance: &Instance,
    project_id: &str,
) -> Result<app::protocol::rest::Project, String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let project = instance
            .state
            .projects
            .get(project_id)
            .await
            .map_err(|e| format!("project: {e}"))?;
        let indexed = project.last_index.as_ref().map(|r| r.chunks_indexed);
        if indexed == Some(project.chunks) {
            return Ok(project);
        }
        if Instant::now() > deadline {
            return Err("the first pass was not refined within two minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn bench() {
    let log = PhaseLog::default();
    let _ = tracing_subscriber::registry().with(log.clone()).try_init();
    support::block_on(measure(log));
}

async fn measure(log: PhaseLog) {
    let files = support::size("REPOWIKI_BENCH_FILES", 1_500);
    let runs = support::size("REPOWIKI_BENCH_RUNS", 5).max(1);
    let mut done = Vec::with_capacity(runs);
    for i in 1..=runs {
        let run = match one_run(files, &log).await {
            Ok(run) => run,
            Err(e) => return eprintln!("cold start: {e}"),
        };
        let phases: Vec<String> = run
            .phases
            .iter()
            .map(|(phase, ms)| format!("{phase} {ms}"))
            .collect();
        println!(
            "run {i}: {} files ({:.1} MB), {} chunks; indexed in {:.0} ms, first token at {:.0} ms; CPU {:.0} ms ({:.2} cores); phases (ms): {}",
            run.files,
            run.bytes as f64 / 1e6,
            run.chunks,
            run.indexed.as_secs_f64() * 1000.0,
            run.answered.as_secs_f64() * 1000.0,
            run.cpu.as_secs_f64() * 1000.0,
            run.cpu.as_secs_f64() / run.answered.as_secs_f64().max(f64::EPSILON),
            phases.join(", ")
        );
        done.push(run);
    }
    done.sort_by_key(|r| r.answered);
    let median = &done[done.len() / 2];
    let answered_ms = median.answered.as_secs_f64() * 1000.0;
    println!(
        "cold start: first answer on a never-seen {}-file repository in {answered_ms:.0} ms (median of {runs}; target < 400)",
        median.files
    );
    support::write_report(
        "bench-cold-start.json",
        &serde_json::json!({
            "files": median.files,
            "bytes": median.bytes,
            "chunks": median.chunks,
            "runs": runs,
            "first_answer_ms_median": answered_ms,
            "runs_ms": done.iter().map(|r| serde_json::json!({
                "indexed_ms": r.indexed.as_secs_f64() * 1000.0,
                "first_token_ms": r.answered.as_secs_f64() * 1000.0,
                "cpu_ms": r.cpu.as_secs_f64() * 1000.0,
                "phases_ms": r.phases,
            })).collect::<Vec<_>>(),
        }),
    );
}
