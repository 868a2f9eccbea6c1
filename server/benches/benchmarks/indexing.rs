//! Project indexing benchmark (SPEC §12): a local-folder project of a real ~10,000-file
//! source tree (the crate sources in `~/.cargo/registry/src/*/`, copied to a temporary
//! folder) indexed through the project service as the server does it, then re-indexed
//! after one file changes.
//!
//! `cargo bench -p server -- indexing` prints files, chunks, the first indexing and
//! the re-index times, and writes them to `target/bench-indexing.json`. Targets: 10,000
//! files < 30 s, one changed file < 1 s. `REPOWIKI_BENCH_FILES=500` for a quick run.

use crate::support;

use std::time::Instant;

use server::config::Config;

pub fn bench() {
    support::block_on(measure());
}

async fn measure() {
    let max_files = support::size("REPOWIKI_BENCH_FILES", 10_000);
    // The indexer logs how long each phase took.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            std::env::var("RUST_LOG").unwrap_or_else(|_| "server::projects=info".into()),
        )
        .try_init();
    let work = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => return eprintln!("no temporary directory: {e}"),
    };
    let tree = work.path().join("tree");
    let files = support::copy_source_tree(&tree, max_files);
    let mut config = Config::for_data_dir(work.path().join("data"));
    config.local_roots = vec![work.path().display().to_string()];
    let options = match leptos::config::get_configuration(None) {
        Ok(c) => c.leptos_options,
        Err(e) => return eprintln!("leptos configuration: {e}"),
    };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let state = match server::build_state(config, options, shutdown.clone()).await {
        Ok(state) => state,
        Err(e) => return eprintln!("server state: {e}"),
    };
    let projects = &state.projects;

    let started = Instant::now();
    let request = app::protocol::rest::CreateProjectRequest {
        source: Some(tree.display().to_string()),
        ..Default::default()
    };
    let project = match projects.create(request).await {
        Ok((project, _)) => project,
        Err(e) => return eprintln!("create: {e}"),
    };
    let indexed = match projects.wait_ready(&project.id).await {
        Ok(p) => p,
        Err(e) => return eprintln!("indexing: {e}"),
    };
    let first = started.elapsed().as_secs_f64();
    if let Some(error) = &indexed.error {
        return eprintln!("indexing failed: {error}");
    }

    // One file changes; only it should be re-chunked.
    let Some(changed) = files.first() else {
        return eprintln!("no source files found under ~/.cargo/registry/src");
    };
    let changed_path = tree.join(changed);
    let mut text = std::fs::read_to_string(&changed_path).unwrap_or_default();
    text.push_str("\n// changed by the indexing benchmark: fn bench_marker() {}\n");
    if let Err(e) = std::fs::write(&changed_path, text) {
        return eprintln!("could not change a file: {e}");
    }
    let started = Instant::now();
    if let Err(e) = projects.reindex(&project.id, None).await {
        return eprintln!("reindex: {e}");
    }
    let reindexed = match projects.wait_ready(&project.id).await {
        Ok(p) => p,
        Err(e) => return eprintln!("re-indexing: {e}"),
    };
    let second = started.elapsed().as_secs_f64();
    shutdown.cancel();

    let first_report = indexed.last_index.clone().unwrap_or_default();
    let second_report = reindexed.last_index.clone().unwrap_or_default();
    println!("files copied          {}", files.len());
    println!("documents indexed     {}", indexed.documents);
    println!("files skipped         {}", first_report.skipped);
    println!("chunks                {}", indexed.chunks);
    println!("first index           {first:.2} s (target < 30 s)");
    println!(
        "re-index, 1 changed   {second:.3} s (target < 1 s): {} changed, {} unchanged, {} chunks written",
        second_report.changed, second_report.unchanged, second_report.chunks_indexed
    );
    let report = serde_json::json!({
        "files": files.len(),
        "documents": indexed.documents,
        "skipped": first_report.skipped,
        "chunks": indexed.chunks,
        "index_seconds": first,
        "reindex_one_changed_seconds": second,
        "reindex_changed": second_report.changed,
        "reindex_unchanged": second_report.unchanged,
        "reindex_chunks_written": second_report.chunks_indexed,
    });
    support::write_report("bench-indexing.json", &report);
}
