//! What our provider client costs per streamed token (SSE parse + JSON decode + forward as
//! an event), measured two ways:
//!
//! 1. paced: a local OpenAI-compatible SSE server streams 1,000 tokens/s; we add up the
//!    time spent inside the client stream's `poll_next` (its busy time, not its waiting)
//!    and the delay from the server writing a token to the client yielding it;
//! 2. in memory: pre-framed SSE bytes parsed by the same code with no network, the pure
//!    per-token cost.
//!
//! Prints the figures and writes them to `target/bench-provider.json`. No assertion on
//! timings: this machine's numbers are for comparison, not a gate.

use crate::support;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::routing::post;
use futures::{Stream, StreamExt, stream};
use server::providers::{
    ChatRequest, OfflineProvider, PromptMessage, PromptRole, ProviderError, ProviderEvent,
    Providers, ProvidersConfig, parse_sse_stream,
};

const PACED_TOKENS: usize = 1_000;
const TOKENS_PER_SEC: u64 = 1_000;
const IN_MEMORY_TOKENS: usize = 200_000;

fn chunk(i: usize) -> String {
    let record = serde_json::json!({
        "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1_700_000_000,
        "model": "gpt-4o-mini", "system_fingerprint": "fp_bench",
        "choices": [{ "index": 0, "delta": { "content": format!(" tok{i}") }, "logprobs": null, "finish_reason": null }],
        "usage": null
    });
    format!("data: {record}\n\n")
}

const TAIL: &str = "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1000,\"total_tokens\":1005}}\n\ndata: [DONE]\n\n";

/// Time spent inside `poll_next`, i.e. the client's own work, not its waiting.
struct Busy<S> {
    inner: S,
    busy: Duration,
}

impl<S: Stream + Unpin> Stream for Busy<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let started = Instant::now();
        let polled = self.inner.poll_next_unpin(cx);
        self.busy += started.elapsed();
        polled
    }
}

/// A scripted OpenAI-compatible server writing one token record per tick.
async fn paced_server(sent: Arc<Mutex<Vec<Instant>>>) -> String {
    let app = Router::new().route(
        "/chat/completions",
        post(move || {
            let sent = Arc::clone(&sent);
            async move {
                let mut ticks =
                    tokio::time::interval(Duration::from_micros(1_000_000 / TOKENS_PER_SEC));
                // Burst keeps the average rate exact despite the timer's 1 ms granularity.
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                let body = stream::unfold((0usize, ticks), move |(i, mut ticks)| {
                    let sent = Arc::clone(&sent);
                    async move {
                        if i > PACED_TOKENS {
                            return None;
                        }
                        if i == PACED_TOKENS {
                            let tail = Ok::<_, std::io::Error>(Bytes::from(TAIL));
                            return Some((tail, (i + 1, ticks)));
                        }
                        ticks.tick().await;
                        if let Ok(mut sent) = sent.lock() {
                            sent.push(Instant::now());
                        }
                        Some((Ok(Bytes::from(chunk(i))), (i + 1, ticks)))
                    }
                });
                axum::response::Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(Body::from_stream(body))
                    .unwrap_or_default()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the bench server");
    let addr = listener.local_addr().expect("bench server address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_nanos() as f64
}

async fn paced() -> serde_json::Value {
    let sent = Arc::new(Mutex::new(Vec::with_capacity(PACED_TOKENS)));
    let url = paced_server(Arc::clone(&sent)).await;
    let env: HashMap<&str, String> =
        HashMap::from([("OPENAI_API_KEY", "k".into()), ("OPENAI_BASE_URL", url)]);
    let config = ProvidersConfig::from_parts(|k| env.get(k).cloned(), None).expect("config");
    let providers = Providers::from_config(&config, OfflineProvider::new(1.0)).expect("providers");
    let openai = providers.get(Some("openai")).expect("openai configured");
    let request = ChatRequest {
        messages: vec![PromptMessage {
            role: PromptRole::User,
            content: "Count.".into(),
        }],
        model: None,
        temperature: None,
    };

    let started = Instant::now();
    let mut events = Busy {
        inner: openai.stream_chat(request),
        busy: Duration::ZERO,
    };
    let mut received = Vec::with_capacity(PACED_TOKENS);
    let mut failure = None;
    while let Some(event) = events.next().await {
        match event {
            Ok(ProviderEvent::Token(_)) => received.push(Instant::now()),
            Ok(_) => {}
            Err(e) => failure = Some(e.to_string()),
        }
    }
    let wall = started.elapsed();
    let sent = sent.lock().map(|s| s.clone()).unwrap_or_default();
    let mut lags: Vec<Duration> = sent
        .iter()
        .zip(&received)
        .map(|(s, r)| r.saturating_duration_since(*s))
        .collect();
    lags.sort();
    let tokens = received.len().max(1) as f64;
    serde_json::json!({
        "tokens": received.len(),
        "target_tokens_per_sec": TOKENS_PER_SEC,
        "achieved_tokens_per_sec": received.len() as f64 / wall.as_secs_f64(),
        "client_busy_ns_per_token": events.busy.as_nanos() as f64 / tokens,
        "delivery_lag_ns_p50": percentile(&lags, 0.5),
        "delivery_lag_ns_p99": percentile(&lags, 0.99),
        "error": failure,
    })
}

async fn in_memory() -> serde_json::Value {
    // One record per chunk, as a network delivering each write separately would.
    let mut chunks: Vec<Result<Bytes, ProviderError>> = (0..IN_MEMORY_TOKENS)
        .map(|i| Ok(Bytes::from(chunk(i))))
        .collect();
    chunks.push(Ok(Bytes::from(TAIL)));
    let bytes: usize = chunks.iter().flatten().map(Bytes::len).sum();
    let started = Instant::now();
    let mut events = parse_sse_stream(stream::iter(chunks), "gpt-4o-mini".into());
    let mut tokens = 0usize;
    while let Some(event) = events.next().await {
        if let Ok(ProviderEvent::Token(_)) = event {
            tokens += 1;
        }
    }
    let elapsed = started.elapsed();
    serde_json::json!({
        "tokens": tokens,
        "bytes": bytes,
        "ns_per_token": elapsed.as_nanos() as f64 / tokens.max(1) as f64,
        "tokens_per_sec": tokens as f64 / elapsed.as_secs_f64(),
    })
}

pub fn bench() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (paced, in_memory) = runtime.block_on(async { (paced().await, in_memory().await) });
    println!(
        "paced ({} tokens at {} tokens/s over local HTTP): client busy {:.0} ns/token, \
         delivery lag p50 {:.0} ns, p99 {:.0} ns, achieved {:.0} tokens/s",
        paced["tokens"],
        TOKENS_PER_SEC,
        paced["client_busy_ns_per_token"]
            .as_f64()
            .unwrap_or_default(),
        paced["delivery_lag_ns_p50"].as_f64().unwrap_or_default(),
        paced["delivery_lag_ns_p99"].as_f64().unwrap_or_default(),
        paced["achieved_tokens_per_sec"]
            .as_f64()
            .unwrap_or_default(),
    );
    println!(
        "in memory ({} tokens): parse + forward {:.0} ns/token",
        in_memory["tokens"],
        in_memory["ns_per_token"].as_f64().unwrap_or_default(),
    );
    let report = serde_json::json!({
        "benchmark": "provider_stream",
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
        "paced": paced,
        "in_memory": in_memory,
    });
    support::write_report("bench-provider.json", &report);
}
