//! The retrieval service on its own: lexical search with merging and a token budget, and
//! hybrid search whose dense half comes from a local server speaking OpenAI's embeddings
//! wire format, with vectors that depend on the text so fusion has something to find.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::routing::post;
use serde_json::{Value, json};
use server::providers::Providers;
use server::rag::{Chunker, Rag, RetrievalRequest};
use server::storage::Store;

const PROJECT: &str = "p1";

const CONFIG_RS: &str = "\
/// Reads the configuration file.
pub fn parse_config(text: &str) -> Config {
    Config::from_str(text)
}

pub struct Config {
    pub port: u16,
}
";

const NET_RS: &str = "\
/// Opens a TCP connection to the peer and retries with backoff.
pub fn dial(addr: &str) -> Stream {
    connect_with_backoff(addr)
}
";

const README_MD: &str = "\
# Demo

This project reads a config file and dials peers.
";

async fn store(dir: &std::path::Path) -> Store {
    Store::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.join("db.sqlite").display()
    ))
    .await
    .expect("database")
}

fn index_files(rag: &Rag, files: &[(&str, &str)]) {
    let chunker = Chunker::default();
    for (path, text) in files {
        let chunks = chunker.chunk(path, text).expect("chunks");
        rag.index_document(PROJECT, path, &chunks).expect("index");
    }
    rag.commit().expect("commit");
}

#[tokio::test]
async fn lexical_retrieval_cites_lines_and_finds_identifiers_in_any_case() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rag =
        Arc::new(Rag::open(&dir.path().join("index"), store(dir.path()).await, None).expect("rag"));
    index_files(
        &rag,
        &[
            ("src/config.rs", CONFIG_RS),
            ("src/net.rs", NET_RS),
            ("README.md", README_MD),
        ],
    );

    for query in ["parse_config", "parseConfig", "how is the config parsed"] {
        let passages = rag
            .retrieve(RetrievalRequest::for_answer(PROJECT, query))
            .await
            .expect("retrieve");
        let first = &passages.first().expect("a passage").source;
        assert_eq!(first.path, "src/config.rs", "query {query:?}");
        assert_eq!(first.start_line, 1);
        assert!(first.end_line >= 4, "{first:?}");
        assert!(first.snippet.contains("parse_config"));
    }

    // Another project sees nothing of this one.
    let other = rag
        .retrieve(RetrievalRequest::for_answer("p2", "parse_config"))
        .await
        .expect("retrieve");
    assert!(other.is_empty());
}

#[tokio::test]
async fn neighbouring_chunks_merge_and_the_budget_holds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rag =
        Arc::new(Rag::open(&dir.path().join("index"), store(dir.path()).await, None).expect("rag"));
    // Small chunks, so one file yields several touching chunks that all match.
    let text: String = (1..=40)
        .map(|i| format!("fn handler_{i}() {{ route_request(); }}\n"))
        .collect();
    let chunks = Chunker::new(120)
        .chunk("src/routes.rs", &text)
        .expect("chunks");
    assert!(chunks.len() > 4);
    rag.index_document(PROJECT, "src/routes.rs", &chunks)
        .expect("index");
    rag.commit().expect("commit");

    let mut request = RetrievalRequest::for_answer(PROJECT, "route_request");
    request.token_budget = 100_000;
    let passages = rag.retrieve(request.clone()).await.expect("retrieve");
    // Every matching chunk touches the next, so they come back as fewer, longer passages.
    assert!(passages.len() < chunks.len().min(request.k));
    for p in &passages {
        assert!(p.source.end_line > p.source.start_line);
        assert_eq!(
            p.source.id,
            format!(
                "src/routes.rs#L{}-L{}",
                p.source.start_line, p.source.end_line
            )
        );
    }

    request.token_budget = 20;
    let passages = rag.retrieve(request).await.expect("retrieve");
    assert_eq!(passages.len(), 1);
    assert!(passages[0].text.chars().count() <= 80);
}

/// A stand-in embedding model: one dimension per concept, so texts about the same
/// thing are close whatever words they use.
fn concept_vector(text: &str) -> Vec<f32> {
    let text = text.to_lowercase();
    let concepts: [&[&str]; 3] = [
        &["network", "tcp", "connection", "dial", "peer"],
        &["config", "configuration", "settings"],
        &["readme", "demo", "project"],
    ];
    concepts
        .iter()
        .map(|words| words.iter().filter(|w| text.contains(*w)).count() as f32 + 0.01)
        .collect()
}

async fn embeddings(Json(body): Json<Value>) -> Json<Value> {
    let inputs: Vec<String> = serde_json::from_value(body["input"].clone()).unwrap_or_default();
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| json!({"object": "embedding", "index": i, "embedding": concept_vector(text)}))
        .collect();
    Json(json!({"object": "list", "data": data, "model": "text-embedding-3-small"}))
}

#[tokio::test]
async fn dense_vectors_find_what_words_miss_and_are_fused_with_lexical_hits() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/v1", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let app = axum::Router::new().route("/v1/embeddings", post(embeddings));
        axum::serve(listener, app).await.expect("embedding server");
    });
    let env: HashMap<&str, String> =
        HashMap::from([("OPENAI_API_KEY", "k".to_owned()), ("OPENAI_BASE_URL", url)]);
    let providers = Providers::from_env(|name| env.get(name).cloned(), 1000.0);
    let embedder = providers.embedder(None).expect("an embedder is configured");

    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(dir.path()).await;
    let rag =
        Arc::new(Rag::open(&dir.path().join("index"), store.clone(), Some(embedder)).expect("rag"));
    index_files(
        &rag,
        &[
            ("src/config.rs", CONFIG_RS),
            ("src/net.rs", NET_RS),
            ("README.md", README_MD),
        ],
    );
    rag.vectors_settled().await;
    assert_eq!(
        store
            .vectors(PROJECT, "text-embedding-3-small")
            .await
            .expect("vectors")
            .len(),
        3
    );

    // The word is nowhere in the project, but net.rs is about networking.
    let passages = rag
        .retrieve(RetrievalRequest::for_answer(PROJECT, "network"))
        .await
        .expect("retrieve");
    assert_eq!(
        passages.first().map(|p| p.source.path.as_str()),
        Some("src/net.rs")
    );

    // A lexical match keeps its place next to the dense ones.
    let passages = rag
        .retrieve(RetrievalRequest::for_answer(PROJECT, "parse_config"))
        .await
        .expect("retrieve");
    assert_eq!(
        passages.first().map(|p| p.source.path.as_str()),
        Some("src/config.rs")
    );

    // Re-indexing a file replaces its vectors; removing it drops them.
    index_files(&rag, &[("src/net.rs", "// nothing here any more\n")]);
    rag.remove_document(PROJECT, "README.md").expect("remove");
    rag.commit().expect("commit");
    rag.vectors_settled().await;
    let stored = store
        .vectors(PROJECT, "text-embedding-3-small")
        .await
        .expect("vectors");
    let mut paths: Vec<&str> = stored.iter().map(|v| v.path.as_str()).collect();
    paths.sort();
    assert_eq!(paths, ["src/config.rs", "src/net.rs"]);
    let passages = rag
        .retrieve(RetrievalRequest::for_answer(PROJECT, "network"))
        .await
        .expect("retrieve");
    assert!(passages.iter().all(|p| p.source.path != "README.md"));
}
