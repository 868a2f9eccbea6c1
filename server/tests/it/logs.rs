//! What the server writes to its logs: a real `server` process at debug level, in JSON,
//! taken through keys in every place, a provider call, a git token and a socket, whose
//! whole output is then searched for those secrets.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

const API_KEY: &str = "rw-key-5f0d1c9e-never-in-logs";
const PROVIDER_KEY: &str = "sk-provider-8a7b6c5d-never-in-logs";
const GIT_TOKEN: &str = "ghp_gittoken4e3d2c1b-never-in-logs";

/// An OpenAI-compatible endpoint that streams one short answer.
async fn upstream() -> SocketAddr {
    async fn answer() -> impl IntoResponse {
        let body = "data: {\"choices\":[{\"delta\":{\"content\":\"Hello from upstream\"}}]}\n\n\
                    data: [DONE]\n\n";
        ([(header::CONTENT_TYPE, "text/event-stream")], body)
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, Router::new().fallback(answer)).await;
    });
    addr
}

#[tokio::test]
async fn a_full_run_logs_no_key_or_token_and_echoes_request_ids() {
    let upstream = upstream().await;
    let data = tempfile::tempdir().expect("data dir");
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
        probe.local_addr().expect("addr").port()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .current_dir(data.path())
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("LEPTOS_OUTPUT_NAME", "repowiki")
        .env("REPOWIKI_DATA_DIR", data.path())
        .env("REPOWIKI_AUTH_ENABLED", "true")
        .env("REPOWIKI_API_KEYS", API_KEY)
        .env("OPENAI_API_KEY", PROVIDER_KEY)
        .env("OPENAI_BASE_URL", format!("http://{upstream}/v1"))
        .env("REPOWIKI_LOG_FORMAT", "json")
        .env("RUST_LOG", "debug")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the server binary");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + crate::common::PATIENCE;
    while http.get(format!("{base}/health")).send().await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server did not start"
        );
        // Waiting for a process to listen: there is no event to await but the port.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The key as a query parameter, a bearer token and a header; a request id echoed.
    let listed = http
        .get(format!("{base}/api/projects?api_key={API_KEY}"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .expect("list");
    assert_eq!(listed.status().as_u16(), 200);
    assert_eq!(listed.headers()["x-request-id"], "trace-me-42");
    let made = http
        .get(format!("{base}/api/models"))
        .header("x-api-key", API_KEY)
        .send()
        .await
        .expect("models");
    assert!(
        made.headers().contains_key("x-request-id"),
        "an id is made when none is sent"
    );
    let answer: serde_json::Value = http
        .post(format!("{base}/api/chat/message"))
        .bearer_auth(API_KEY)
        .json(&json!({"message": "Say hello", "provider": "openai"}))
        .send()
        .await
        .expect("turn")
        .json()
        .await
        .expect("json");
    assert!(
        answer["message"]["content"]
            .as_str()
            .unwrap_or("")
            .contains("Hello from upstream"),
        "{answer}"
    );
    // A git token with a clone that fails (nothing listens there).
    let _ = http
        .post(format!("{base}/api/projects"))
        .bearer_auth(API_KEY)
        .json(&json!({"source": "https://127.0.0.1:9/owner/repo.git", "token": GIT_TOKEN}))
        .send()
        .await
        .expect("project");
    // A socket with the key in its URL, and a refused one with a wrong key.
    let (ws, _) =
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws?api_key={API_KEY}"))
            .await
            .expect("socket");
    drop(ws);
    let _ =
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws?api_key={API_KEY}x"))
            .await;
    let _ = http
        .get(format!("{base}/api/projects"))
        .header("authorization", format!("Bearer {API_KEY}-wrong"))
        .send()
        .await;

    child.start_kill().expect("stop the server");
    let mut logs = String::new();
    for stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let mut text = String::new();
        let mut stream = stream;
        stream.read_to_string(&mut text).await.expect("read logs");
        logs.push_str(&text);
    }
    let _ = child.wait().await;

    assert!(
        logs.lines().count() > 20,
        "too few log lines to prove anything:\n{logs}"
    );
    assert!(
        logs.lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('{')),
        "REPOWIKI_LOG_FORMAT=json writes one JSON object per line"
    );
    assert!(
        logs.contains("trace-me-42"),
        "the request id is in the request's log lines"
    );
    for secret in [API_KEY, PROVIDER_KEY, GIT_TOKEN] {
        assert!(!logs.contains(secret), "{secret} was logged");
    }
}
