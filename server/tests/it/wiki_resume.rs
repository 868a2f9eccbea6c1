//! Wiki jobs survive the server being killed: real `server` processes, SIGKILLed mid-job,
//! restarted on the same data, against a local OpenAI-compatible provider that counts
//! how often each page is asked for. Also two processes on one database (SQLite file, or
//! the PostgreSQL at `DATABASE_URL` when set): one dies, the other takes its job over.

use crate::wiki_support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use wiki_support::{PATIENCE, ProgressSocket, is_structure_prompt, page_title};

/// Every server on a database is a worker for every job on it: on a shared PostgreSQL,
/// the servers of one test would take over the other's jobs. One test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const TITLES: [&str; 6] = [
    "Overview", "Server", "Storage", "Jobs", "Protocol", "Testing",
];

fn structure() -> String {
    let pages: Vec<Value> = TITLES
        .iter()
        .map(|t| json!({"id": t.to_lowercase(), "title": t, "importance": "high", "relevant_files": ["src/main.rs"]}))
        .collect();
    json!({"title": "Resumable", "sections": [{"id": "all", "title": "All", "pages": pages}]})
        .to_string()
}

/// An OpenAI-compatible `chat/completions` that answers by what is asked: the structure
/// at once, a page in a few paced chunks (so a kill lands mid-job).
#[derive(Clone, Default)]
struct Upstream {
    calls: Arc<Mutex<HashMap<String, usize>>>,
    /// Written into the test's project; only pages whose prompt quotes it are counted,
    /// so a job left on a shared database by an earlier run cannot skew the counts.
    marker: String,
}

impl Upstream {
    async fn start() -> (SocketAddr, Self) {
        let upstream = Self {
            marker: uuid::Uuid::new_v4().to_string(),
            ..Self::default()
        };
        let app = Router::new().fallback(answer).with_state(upstream.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("upstream") });
        (addr, upstream)
    }

    fn calls(&self, title: &str) -> usize {
        self.calls.lock().unwrap().get(title).copied().unwrap_or(0)
    }
}

fn chunk(content: &str) -> String {
    let record = json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]});
    format!("data: {record}\n\n")
}

async fn answer(State(upstream): State<Upstream>, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let prompt = request["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_owned();
    let parts: Vec<(Duration, String)> = if is_structure_prompt(&prompt) {
        vec![(Duration::ZERO, chunk(&structure()))]
    } else {
        let title = page_title(&prompt).unwrap_or_default();
        if prompt.contains(&upstream.marker) {
            *upstream
                .calls
                .lock()
                .unwrap()
                .entry(title.clone())
                .or_default() += 1;
        }
        let mut parts = vec![(Duration::ZERO, chunk(&format!("# {title}\n\n")))];
        for i in 0..4 {
            parts.push((
                Duration::from_millis(120),
                chunk(&format!("Part {i} of {title}. ")),
            ));
        }
        parts
    };
    let body = futures::stream::unfold(parts.into_iter(), |mut rest| async move {
        let (wait, part) = match rest.next() {
            Some(next) => next,
            None => return None,
        };
        tokio::time::sleep(wait).await;
        Some((Ok::<_, std::io::Error>(Bytes::from(part)), rest))
    });
    let done =
        futures::stream::once(async { Ok::<_, std::io::Error>(Bytes::from("data: [DONE]\n\n")) });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(axum::body::Body::from_stream(futures::StreamExt::chain(
            body, done,
        )))
        .expect("response")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Process {
    child: Child,
    addr: SocketAddr,
}

async fn spawn(
    data: &Path,
    database_url: Option<&str>,
    upstream: SocketAddr,
    roots: &Path,
) -> Process {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
    command
        .current_dir(data)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("REPOWIKI_DATA_DIR", data)
        .env("REPOWIKI_LOCAL_ROOTS", roots)
        .env("OPENAI_API_KEY", "sk-test")
        .env("OPENAI_BASE_URL", format!("http://{upstream}/v1"))
        .env("REPOWIKI_WIKI_PAGE_CONCURRENCY", "1")
        .env("REPOWIKI_WIKI_LEASE_SECS", "2")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    match database_url {
        Some(url) => command.env("DATABASE_URL", url),
        None => command.env_remove("DATABASE_URL"),
    };
    let child = command.spawn().expect("start the server binary");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Ok(r) = reqwest::get(format!("http://{addr}/health")).await
            && r.status().is_success()
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server did not start"
        );
        // Waiting for a process to listen: there is no event to await but the port.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Process { child, addr }
}

async fn post(addr: SocketAddr, path: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("http://{addr}{path}"))
        .json(&body)
        .send()
        .await
        .expect("POST");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.expect("JSON")
}

fn project_folder(marker: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("project dir");
    std::fs::create_dir_all(dir.path().join("src")).expect("src");
    std::fs::write(dir.path().join("README.md"), "# Resumable\n\nA project.\n").expect("readme");
    std::fs::write(
        dir.path().join("src/main.rs"),
        format!("// {marker}\nfn main() {{\n    println!(\"hi\");\n}}\n"),
    )
    .expect("main");
    dir
}

/// Starts a project and its wiki job on `process`; returns the job id.
async fn start_wiki(process: &Process, folder: &Path) -> String {
    let project = post(process.addr, "/api/projects", json!({"source": folder})).await;
    let project_id = project["id"].as_str().expect("project id");
    let job = post(
        process.addr,
        "/api/wiki/jobs",
        json!({"project_id": project_id, "provider": "openai"}),
    )
    .await;
    job["job_id"].as_str().expect("job id").to_owned()
}

/// The titles of the pages stored as completed, read straight from the database.
async fn completed_titles(database_url: &str, job_id: &str) -> Vec<String> {
    let store = server::storage::Store::connect(database_url)
        .await
        .expect("database");
    let titles = store
        .wiki_pages(job_id)
        .await
        .expect("pages")
        .into_iter()
        .filter(|p| p.status == app::protocol::PageStatus::Completed)
        .map(|p| p.title)
        .collect();
    store.close().await;
    titles
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("repowiki.db").display())
}

#[tokio::test]
async fn a_killed_server_resumes_its_job_without_regenerating_finished_pages() {
    let _serial = SERIAL.lock().await;
    let (upstream_addr, upstream) = Upstream::start().await;
    let folder = project_folder(&upstream.marker);
    let data = tempfile::tempdir().expect("data dir");
    let roots = folder.path().canonicalize().expect("canonical");
    let external = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"));
    let database_url = external.clone().unwrap_or_else(|| sqlite_url(data.path()));

    let mut first = spawn(data.path(), external.as_deref(), upstream_addr, &roots).await;
    let job_id = start_wiki(&first, &roots).await;
    let mut socket = ProgressSocket::connect(first.addr, &job_id).await;
    socket
        .until(|f| f["completed_pages"].as_u64() >= Some(1))
        .await;
    first.child.kill().await.expect("SIGKILL");

    let finished_before = completed_titles(&database_url, &job_id).await;
    assert!(!finished_before.is_empty());
    assert!(finished_before.len() < TITLES.len(), "killed mid-job");

    let second = spawn(data.path(), external.as_deref(), upstream_addr, &roots).await;
    let mut socket = ProgressSocket::connect(second.addr, &job_id).await;
    let last = socket.finish().await;
    assert_eq!(last["status"], "completed", "{last}");
    assert_eq!(last["completed_pages"], TITLES.len());
    for title in &finished_before {
        assert_eq!(
            upstream.calls(title),
            1,
            "{title} was finished before the kill"
        );
    }
    for title in TITLES {
        // At most the page the kill interrupted is asked for twice.
        assert!(
            upstream.calls(title) <= 2,
            "{title}: {}",
            upstream.calls(title)
        );
    }
    let wiki: Value = reqwest::get(format!(
        "http://{}/api/projects/{}/wiki",
        second.addr,
        last_project(&second, &job_id).await
    ))
    .await
    .expect("wiki")
    .json()
    .await
    .expect("JSON");
    assert_eq!(wiki["pages"].as_array().map(Vec::len), Some(TITLES.len()));
}

async fn last_project(process: &Process, job_id: &str) -> String {
    let job: Value = reqwest::get(format!("http://{}/api/wiki/jobs/{job_id}", process.addr))
        .await
        .expect("job")
        .json()
        .await
        .expect("JSON");
    job["project_id"].as_str().expect("project id").to_owned()
}

#[tokio::test]
async fn two_servers_on_one_database_share_work_and_take_over_a_dead_ones_job() {
    let _serial = SERIAL.lock().await;
    let (upstream_addr, upstream) = Upstream::start().await;
    let folder = project_folder(&upstream.marker);
    let roots = folder.path().canonicalize().expect("canonical");
    let shared = tempfile::tempdir().expect("shared dir");
    let database_url = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
        .unwrap_or_else(|| sqlite_url(shared.path()));
    let (data_a, data_b) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );

    let mut a = spawn(data_a.path(), Some(&database_url), upstream_addr, &roots).await;
    let b = spawn(data_b.path(), Some(&database_url), upstream_addr, &roots).await;
    let job_id = start_wiki(&a, &roots).await;
    // Whichever server took the job, B reports it (from the database if A runs it).
    let mut socket = ProgressSocket::connect(b.addr, &job_id).await;
    socket
        .until(|f| f["completed_pages"].as_u64() >= Some(1))
        .await;
    a.child.kill().await.expect("SIGKILL");
    let finished_before = completed_titles(&database_url, &job_id).await;

    let last = socket.finish().await;
    assert_eq!(last["status"], "completed", "{last}");
    assert_eq!(last["completed_pages"], TITLES.len());
    for title in &finished_before {
        assert_eq!(
            upstream.calls(title),
            1,
            "{title} was finished before the kill"
        );
    }
    for title in TITLES {
        assert!(
            upstream.calls(title) <= 2,
            "{title}: {}",
            upstream.calls(title)
        );
    }
}
