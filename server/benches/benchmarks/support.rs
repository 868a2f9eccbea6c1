//! What the benchmarks share: a real source tree to work on, sizes from the environment,
//! percentiles, and the JSON report each one writes under `target/`.

use std::path::{Path, PathBuf};
use std::time::Duration;

const MAX_FILE_BYTES: u64 = 200 * 1024;
const SOURCE_EXTENSIONS: &[&str] = &[
    "rs", "py", "js", "ts", "tsx", "go", "java", "c", "h", "cc", "cpp", "hpp", "md", "txt",
];
/// Directory names the project filters skip by default; files under them would not count.
const SKIPPED_DIRS: &[&str] = &[
    "target",
    "build",
    "vendor",
    "dist",
    "out",
    "node_modules",
    "third_party",
    "coverage",
];

/// A benchmark's WebSocket client connection.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a benchmark client's WebSocket. The transport's default read buffer is 128 KiB,
/// zeroed before every read: with hundreds of clients in this process that `memset` was
/// about half of the benchmark's CPU, taken from the server it measures on 2 cores.
pub async fn ws_connect(url: &str) -> Result<Ws, String> {
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4 * 1024);
    tokio_tungstenite::connect_async_with_config(url, Some(config), false)
        .await
        .map(|(ws, _)| ws)
        .map_err(|e| format!("connect {url}: {e}"))
}

/// A size from the environment, so a quick run can ask for less.
pub fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Up to `limit` source files of the crates in `~/.cargo/registry/src/*/`, as (absolute
/// path, path relative to its registry folder). Depth-first and sorted, so every run
/// takes the same files.
pub fn source_files(limit: usize) -> Vec<(PathBuf, PathBuf)> {
    source_files_of(limit, SOURCE_EXTENSIONS)
}

/// [`source_files`] with these extensions only.
pub fn source_files_of(limit: usize, extensions: &[&str]) -> Vec<(PathBuf, PathBuf)> {
    let mut files = Vec::new();
    let mut roots = registry_roots();
    roots.sort();
    for root in roots {
        let mut stack = vec![root.clone()];
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
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if meta.is_dir() {
                    if !name.starts_with('.') && !SKIPPED_DIRS.contains(&name) {
                        stack.push(path);
                    }
                } else if meta.is_file()
                    && !name.starts_with('.')
                    && meta.len() <= MAX_FILE_BYTES
                    && path
                        .extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| extensions.contains(&e))
                {
                    if let Ok(rel) = path.strip_prefix(&root) {
                        files.push((path.clone(), rel.to_owned()));
                    }
                    if files.len() == limit {
                        return files;
                    }
                }
            }
        }
    }
    files
}

/// Copies up to `limit` source files into `tree`, keeping their relative paths; returns
/// those paths.
pub fn copy_source_tree(tree: &Path, limit: usize) -> Vec<PathBuf> {
    copy_files(tree, source_files(limit))
}

/// Copies every file under `from` into `tree`, keeping relative paths; returns them.
pub fn copy_folder(tree: &Path, from: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![from.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => stack.push(path),
                Ok(kind) if kind.is_file() => {
                    if let Ok(rel) = path.strip_prefix(from) {
                        files.push((path.clone(), rel.to_owned()));
                    }
                }
                _ => {}
            }
        }
    }
    copy_files(tree, files)
}

/// Copies (absolute path, relative path) pairs into `tree`; returns the relative paths.
pub fn copy_files(tree: &Path, files: Vec<(PathBuf, PathBuf)>) -> Vec<PathBuf> {
    let mut copied = Vec::with_capacity(files.len());
    for (from, rel) in files {
        let to = tree.join(&rel);
        if let Some(parent) = to.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        match std::fs::copy(&from, &to) {
            Ok(_) => copied.push(rel),
            Err(e) => eprintln!("{}: {e}", from.display()),
        }
    }
    copied
}

pub fn registry_roots() -> Vec<PathBuf> {
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(&std::env::var("HOME").unwrap_or_default()).join(".cargo"));
    std::fs::read_dir(home.join("registry/src"))
        .map(|dirs| dirs.flatten().map(|d| d.path()).collect())
        .unwrap_or_default()
}

/// The `p` quantile of sorted durations, in milliseconds.
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Where benchmarks keep their reports and caches: the cargo target folder.
pub fn target_dir() -> PathBuf {
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// Writes a benchmark's figures to `target/{name}` so runs can be compared.
pub fn write_report(name: &str, report: &serde_json::Value) {
    let path = target_dir().join(name);
    match std::fs::write(
        &path,
        serde_json::to_string_pretty(report).unwrap_or_default(),
    ) {
        Ok(()) => println!("wrote {}", path.display()),
        Err(e) => eprintln!("could not write {}: {e}", path.display()),
    }
}

/// A retrieval service with a lexical index only, in a temporary folder that lives as
/// long as the returned guard.
pub async fn lexical_rag() -> Result<(tempfile::TempDir, std::sync::Arc<server::rag::Rag>), String>
{
    rag(None).await
}

/// A retrieval service in a temporary folder that lives as long as the returned guard;
/// with an embedder, chunks are embedded too (vectors in the folder's SQLite database).
pub async fn rag(
    embedder: Option<std::sync::Arc<dyn server::providers::EmbeddingProvider>>,
) -> Result<(tempfile::TempDir, std::sync::Arc<server::rag::Rag>), String> {
    let dir = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    let store = server::storage::Store::connect(&db)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let rag = server::rag::Rag::open(&dir.path().join("index"), store, embedder)
        .map_err(|e| format!("cannot open the index: {e}"))?;
    Ok((dir, std::sync::Arc::new(rag)))
}

/// Runs a benchmark's async body on a fresh multi-threaded runtime.
pub fn block_on(body: impl std::future::Future<Output = ()>) {
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(body),
        Err(e) => eprintln!("no runtime: {e}"),
    }
}
