//! A scripted stand-in for a provider's HTTP API: an axum server on 127.0.0.1:0 that
//! answers each request with the next scripted reply, byte for byte, and records what it
//! was asked. A reply's body is fed through a channel, so the server sees the moment the
//! client goes away (its body receiver is dropped) and tests can await that moment.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tokio::sync::{Notify, mpsc};

/// How long a test waits for something the server should observe.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// One piece of a reply's body.
#[derive(Debug, Clone)]
pub enum Part {
    Bytes(Bytes),
    /// Sends nothing more and waits until the client has gone.
    Hold,
    /// Breaks the connection, as a crashed upstream or proxy would.
    Abort,
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub parts: Vec<Part>,
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            parts: vec![Part::Bytes(Bytes::from(body.to_owned()))],
        }
    }

    /// `text/event-stream`, each record framed as `data: {record}\n\n`.
    pub fn sse(records: &[&str]) -> Self {
        Self::sse_parts(records.iter().map(|r| sse_part(r)).collect())
    }

    pub fn sse_parts(parts: Vec<Part>) -> Self {
        Self {
            status: 200,
            headers: vec![
                ("content-type".into(), "text/event-stream".into()),
                ("cache-control".into(), "no-cache".into()),
            ],
            parts,
        }
    }

    /// `application/x-ndjson`, one record a line, as Ollama streams.
    pub fn ndjson(records: &[&str]) -> Self {
        Self::ndjson_parts(records.iter().map(|r| ndjson_part(r)).collect())
    }

    pub fn ndjson_parts(parts: Vec<Part>) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type".into(), "application/x-ndjson".into())],
            parts,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn then(mut self, part: Part) -> Self {
        self.parts.push(part);
        self
    }
}

pub fn sse_part(record: &str) -> Part {
    Part::Bytes(Bytes::from(format!("data: {record}\n\n")))
}

pub fn ndjson_part(record: &str) -> Part {
    Part::Bytes(Bytes::from(format!("{record}\n")))
}

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query.
    pub uri: String,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Clone)]
struct Script {
    replies: Arc<Mutex<VecDeque<Reply>>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    client_gone: Arc<Notify>,
}

pub struct Scripted {
    pub addr: SocketAddr,
    script: Script,
    task: tokio::task::JoinHandle<()>,
}

impl Scripted {
    pub async fn start(replies: Vec<Reply>) -> Self {
        let script = Script {
            replies: Arc::new(Mutex::new(replies.into())),
            requests: Arc::default(),
            client_gone: Arc::new(Notify::new()),
        };
        let app = Router::new().fallback(answer).with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the scripted server");
        let addr = listener.local_addr().expect("scripted server address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("scripted server");
        });
        Self { addr, script, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.script.requests.lock().expect("requests").clone()
    }

    /// Resolves once a reply's body was abandoned by the client before it was complete.
    pub async fn client_gone(&self) {
        tokio::time::timeout(PATIENCE, self.script.client_gone.notified())
            .await
            .expect("the client never dropped the response");
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(State(script): State<Script>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    script.requests.lock().expect("requests").push(Recorded {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: parts.headers,
        body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    });
    let reply = script.replies.lock().expect("replies").pop_front();
    let Some(reply) = reply else {
        return Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .body(Body::from("the script has no more replies"))
            .expect("response");
    };

    // A one-slot channel: the feeder learns at once when the client stops reading.
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    let client_gone = Arc::clone(&script.client_gone);
    tokio::spawn(async move {
        for part in reply.parts {
            let sent = match part {
                Part::Bytes(bytes) => tx.send(Ok(bytes)).await.is_ok(),
                Part::Hold => {
                    tx.closed().await;
                    false
                }
                Part::Abort => {
                    let broken = std::io::Error::other("scripted connection break");
                    let _ = tx.send(Err(broken)).await;
                    return;
                }
            };
            if !sent {
                client_gone.notify_one();
                return;
            }
        }
    });
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut response = Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        response = response.header(name, value);
    }
    response
        .body(Body::from_stream(body))
        .expect("scripted response")
}
