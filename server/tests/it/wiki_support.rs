//! Shared by the wiki tests: a provider that answers wiki prompts by what they ask (a
//! structure, or one page by its title), counts pages, fails or holds chosen pages; an
//! in-process server whose projects are given in memory; and a seed-002 progress socket.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{StreamExt, stream};
use serde_json::Value;
use server::config::Config;
use server::providers::{
    ChatProvider, ChatRequest, EventStream, ProviderError, ProviderEvent, Providers,
};
use server::wiki::{MemoryInputs, WikiDeps, WikiService, WikiSettings};
use tempfile::TempDir;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

pub const PATIENCE: Duration = Duration::from_secs(20);

/// The page title a page prompt asks for.
pub fn page_title(prompt: &str) -> Option<String> {
    let rest = prompt.split_once("Write the wiki page \"")?.1;
    Some(rest.split_once('"')?.0.to_owned())
}

pub fn is_structure_prompt(prompt: &str) -> bool {
    prompt.starts_with("Plan the wiki")
}

pub const STRUCTURE: &str = r#"Here is the structure:
```json
{"title": "Demo wiki", "description": "A demo.", "sections": [
  {"id": "intro", "title": "Introduction", "pages": [
    {"id": "overview", "title": "Overview", "importance": "high", "relevant_files": ["README.md"], "related_pages": ["server"]}]},
  {"id": "core", "title": "Core", "pages": [
    {"id": "server", "title": "Server", "importance": "high", "relevant_files": ["src/main.rs"], "related_pages": ["overview"]},
    {"id": "storage", "title": "Storage", "importance": "medium", "relevant_files": ["src/db.rs"]}]}
]}
```"#;

#[derive(Default)]
pub struct FakeProvider {
    pub structure: Mutex<String>,
    /// Page titles that fail; `*` fails every page.
    pub failing: Mutex<HashSet<String>>,
    /// Page titles whose answer waits until `release`.
    pub held: Mutex<HashSet<String>>,
    released: Mutex<Option<watch::Sender<bool>>>,
    pub calls: Mutex<HashMap<String, usize>>,
    /// The last prompt of each page, by title.
    pub prompts: Mutex<HashMap<String, String>>,
    /// Bumped after every page prompt is counted, for `asked`.
    asked: watch::Sender<u64>,
    pub structure_calls: Mutex<usize>,
}

impl FakeProvider {
    pub fn new(structure: &str) -> Arc<Self> {
        let provider = Self::default();
        *provider.structure.lock().unwrap() = structure.to_owned();
        *provider.released.lock().unwrap() = Some(watch::Sender::new(false));
        Arc::new(provider)
    }

    pub fn fail(&self, title: &str) {
        self.failing.lock().unwrap().insert(title.to_owned());
    }

    pub fn heal(&self) {
        self.failing.lock().unwrap().clear();
    }

    pub fn hold(&self, title: &str) {
        self.held.lock().unwrap().insert(title.to_owned());
    }

    pub fn release(&self) {
        self.held.lock().unwrap().clear();
        if let Some(tx) = &*self.released.lock().unwrap() {
            tx.send_replace(true);
        }
    }

    pub fn calls(&self, title: &str) -> usize {
        self.calls.lock().unwrap().get(title).copied().unwrap_or(0)
    }

    /// Resolves once the page `title` has been asked for (so it is in progress, waiting
    /// there if held). Unlike a progress event, this cannot be missed by subscribing late.
    pub async fn asked(&self, title: &str) {
        let mut asked = self.asked.subscribe();
        tokio::time::timeout(PATIENCE, asked.wait_for(|_| self.calls(title) > 0))
            .await
            .expect("timed out waiting for the page to be asked for")
            .expect("the provider is alive");
    }
}

impl ChatProvider for FakeProvider {
    fn id(&self) -> &'static str {
        "fake"
    }

    fn default_model(&self) -> &str {
        "fake-1"
    }

    fn stream_chat(&self, request: ChatRequest) -> EventStream {
        let prompt = request.question().to_owned();
        if is_structure_prompt(&prompt) {
            *self.structure_calls.lock().unwrap() += 1;
            let answer = self.structure.lock().unwrap().clone();
            let tokens: Vec<_> = answer
                .as_bytes()
                .chunks(40)
                .map(|c| {
                    Ok(ProviderEvent::Token(
                        String::from_utf8_lossy(c).into_owned(),
                    ))
                })
                .collect();
            return stream::iter(tokens).boxed();
        }
        let title = page_title(&prompt).unwrap_or_default();
        *self.calls.lock().unwrap().entry(title.clone()).or_default() += 1;
        self.prompts
            .lock()
            .unwrap()
            .insert(title.clone(), prompt.clone());
        self.asked.send_modify(|n| *n += 1);
        let failing = self.failing.lock().unwrap();
        let fail = failing.contains(&title) || failing.contains("*");
        let held = self.held.lock().unwrap().contains(&title);
        let mut released = self
            .released
            .lock()
            .unwrap()
            .as_ref()
            .map(|tx| tx.subscribe());
        stream::once(async move {
            if held && let Some(rx) = released.as_mut() {
                let _ = rx.wait_for(|open| *open).await;
            }
            if fail {
                Err(ProviderError::Unavailable("scripted failure".into()))
            } else {
                Ok(ProviderEvent::Token(format!(
                    "# {title}\n\nWhat {title} does.\n\n```mermaid\ngraph TD\n  a --> b\n```\n\nSources: src/main.rs:1-3\n"
                )))
            }
        })
        .boxed()
    }
}

pub fn demo_files() -> BTreeMap<String, String> {
    [
        (
            "README.md",
            "# Demo\n\nA demo project with a server and storage.\n",
        ),
        (
            "src/main.rs",
            // Longer than a search snippet, so a page prompt that quotes the end of it
            // was given the whole passage.
            concat!(
                "fn main() {\n    serve();\n}\n\n",
                "/// Serves requests until the process is asked to stop: binds the listener,\n",
                "/// accepts connections, hands each to a worker and waits for them on exit.\n",
                "fn serve() {\n    let listener = bind_listener(\"127.0.0.1:8080\");\n",
                "    for connection in listener.incoming() {\n        spawn_worker(connection);\n    }\n",
                "    drain_workers_before_exit();\n}\n",
            ),
        ),
        ("src/db.rs", "pub fn connect() {}\n"),
        ("docs/guide.md", "# Guide\n\nHow to run it.\n"),
    ]
    .iter()
    .map(|(p, c)| (p.to_string(), c.to_string()))
    .collect()
}

pub fn settings(concurrency: usize) -> WikiSettings {
    WikiSettings {
        page_concurrency: concurrency,
        lease: Duration::from_secs(30),
        retry_backoff: Duration::from_millis(10),
        worker_id: uuid::Uuid::new_v4().to_string(),
    }
}

/// The real router and engine, with projects from memory and one provider.
pub struct Harness {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    /// The server's data folder, deleted when the harness is dropped.
    _data: TempDir,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Harness {
    pub async fn start(provider: Arc<dyn ChatProvider>, concurrency: usize) -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        let mut config = Config::for_data_dir(data.path());
        config.database_url = None;
        let options = leptos::config::get_configuration(None)
            .expect("leptos defaults")
            .leptos_options;
        let shutdown = CancellationToken::new();
        let providers = Providers::new(provider);
        let mut state = server::build_state_with_providers(
            config,
            options,
            shutdown.clone(),
            providers.clone(),
        )
        .await
        .expect("server state");
        let inputs = Arc::new(MemoryInputs::default());
        inputs.insert("demo", demo_files());
        state.wiki = WikiService::new(
            WikiDeps {
                store: state.store.clone(),
                hub: Arc::clone(&state.hub),
                board: Arc::clone(&state.jobs),
                providers,
                rag: Arc::clone(&state.rag),
                inputs,
                shutdown: shutdown.clone(),
            },
            settings(concurrency),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(server::serve(listener, state));
        Self {
            addr,
            shutdown,
            _data: data,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("POST");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = reqwest::get(self.url(path)).await.expect("GET");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Starts a job for the `demo` project and returns its id.
    pub async fn start_job(&self, extra: Value) -> String {
        let mut body = serde_json::json!({"project_id": "demo"});
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
            body.extend(extra);
        }
        let (status, job) = self.post("/api/wiki/jobs", body).await;
        assert_eq!(status, 201, "{job}");
        job["job_id"].as_str().expect("job_id").to_owned()
    }

    pub async fn progress(&self, job_id: &str) -> ProgressSocket {
        ProgressSocket::connect(self.addr, job_id).await
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(PATIENCE, self.task).await;
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Seed 002's `/api/wiki/jobs/{job_id}/progress`.
pub struct ProgressSocket {
    ws: Ws,
    pub seen: Vec<Value>,
    pub closed: bool,
}

impl ProgressSocket {
    pub async fn connect(addr: SocketAddr, job_id: &str) -> Self {
        let url = format!("ws://{addr}/api/wiki/jobs/{job_id}/progress");
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connect");
        Self {
            ws,
            seen: Vec::new(),
            closed: false,
        }
    }

    /// The next progress frame (heartbeats are kept in `seen` too); None once closed.
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("timed out waiting for progress");
            match message {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).expect("JSON frame");
                    self.seen.push(value.clone());
                    return Some(value);
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    self.closed = true;
                    return None;
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Frames until one satisfies `done`; panics if the socket closes first.
    pub async fn until(&mut self, done: impl Fn(&Value) -> bool) -> Value {
        loop {
            match self.next().await {
                Some(frame) if done(&frame) => return frame,
                Some(_) => continue,
                None => panic!("the progress socket closed first; seen {:#?}", self.seen),
            }
        }
    }

    /// Frames until the final status and the close.
    pub async fn finish(&mut self) -> Value {
        let last = self
            .until(|f| {
                matches!(
                    f["status"].as_str(),
                    Some("completed" | "partially_completed" | "failed" | "cancelled")
                )
            })
            .await;
        assert!(
            self.next().await.is_none(),
            "the socket closes after the final status"
        );
        last
    }
}
