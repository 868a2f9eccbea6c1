//! A local OpenAI-compatible provider for the benchmarks, in this process: it streams a
//! fixed answer over SSE the moment a request arrives (the first token at once, the rest
//! at a set pace or all together) and notes when each request arrived and when its first
//! token was written, so a benchmark can subtract the provider's own time and keep ours.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use axum::routing::post;
use futures::StreamExt;

/// When the provider received a request, and when it wrote its first token.
pub type ProviderTimes = Arc<Mutex<Vec<(Instant, Instant)>>>;

pub struct ScriptedProvider {
    /// The base URL to give as `OPENROUTER_BASE_URL` (it ends in `/v1`).
    pub url: String,
    pub times: ProviderTimes,
}

impl ScriptedProvider {
    /// The provider's own first-token time of the latest request.
    pub fn last_own_time(&self) -> Duration {
        self.times
            .lock()
            .ok()
            .and_then(|t| t.last().map(|(arrived, wrote)| *wrote - *arrived))
            .unwrap_or_default()
    }

    /// The environment that makes a server's `openrouter` provider this one.
    pub fn env(&self) -> [(&'static str, String); 2] {
        [
            ("OPENROUTER_API_KEY", "bench".to_owned()),
            ("OPENROUTER_BASE_URL", self.url.clone()),
        ]
    }
}

fn record(token: &str) -> Result<String, std::io::Error> {
    let chunk = serde_json::json!({"choices": [{"index": 0, "delta": {"content": token}}]});
    Ok(format!("data: {chunk}\n\n"))
}

/// Starts the provider on an ephemeral loopback port. With `pace`, tokens after the
/// first are written one per `pace`; without, all at once.
pub async fn start(
    tokens: Vec<String>,
    pace: Option<Duration>,
) -> Result<ScriptedProvider, String> {
    let times: ProviderTimes = Arc::default();
    let tokens: Arc<[String]> = tokens.into();
    let noted = Arc::clone(&times);
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |_body: String| {
            let times = Arc::clone(&noted);
            let tokens = Arc::clone(&tokens);
            async move {
                let arrived = Instant::now();
                let done = futures::stream::once(async { Ok("data: [DONE]\n\n".to_owned()) });
                let body = match pace {
                    None => {
                        let all: Vec<_> = tokens.iter().map(|t| record(t)).collect();
                        Body::from_stream(futures::stream::iter(all).chain(done))
                    }
                    Some(pace) => {
                        let paced = futures::stream::iter(0..tokens.len()).then(move |i| {
                            let token = tokens[i].clone();
                            async move {
                                if i > 0 {
                                    tokio::time::sleep(pace).await;
                                }
                                record(&token)
                            }
                        });
                        Body::from_stream(paced.chain(done))
                    }
                };
                if let Ok(mut t) = times.lock() {
                    t.push((arrived, Instant::now()));
                }
                Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(body)
                    .unwrap_or_default()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind the provider: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("provider address: {e}"))?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(ScriptedProvider {
        url: format!("http://{addr}/v1"),
        times,
    })
}
