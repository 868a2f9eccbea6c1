//! Chat turn overhead (SPEC §12): the server's own time from a `send_message` to the first
//! token leaving it, with a 10,000-file project indexed, minus the provider's own
//! first-token time. The provider is a local OpenAI-compatible server that streams its
//! answer as soon as the request arrives and notes both moments, so what remains is
//! ours: storing the question, retrieval, prompt building, the HTTP call, SSE parsing
//! and the publish to the room.
//!
//! `cargo bench -p server -- chat_overhead` prints p50/p99 over 1,000 turns and
//! writes `target/bench-chat-overhead.json`. Targets: p50 < 5 ms, p99 < 20 ms. Quick
//! run: `REPOWIKI_BENCH_FILES=500 REPOWIKI_BENCH_TURNS=100`.

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::protocol::{ClientMsg, ServerFrame, ServerMsg};
use axum::body::Body;
use axum::response::Response;
use axum::routing::post;
use futures::{SinkExt, StreamExt};
use server::config::Config;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

/// When the provider received a request, and when it wrote its first token.
type ProviderTimes = Arc<Mutex<Vec<(Instant, Instant)>>>;

const TOKENS: &[&str] = &["The", " answer", " is", " in", " [1]."];

async fn provider(times: ProviderTimes) -> String {
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |_body: String| {
            let times = Arc::clone(&times);
            async move {
                let arrived = Instant::now();
                let records: Vec<Result<String, std::io::Error>> = TOKENS
                    .iter()
                    .map(|t| {
                        let chunk = serde_json::json!({
                            "choices": [{"index": 0, "delta": {"content": t}}]
                        });
                        Ok(format!("data: {chunk}\n\n"))
                    })
                    .chain(std::iter::once(Ok("data: [DONE]\n\n".to_owned())))
                    .collect();
                if let Ok(mut t) = times.lock() {
                    t.push((arrived, Instant::now()));
                }
                Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(Body::from_stream(futures::stream::iter(records)))
                    .unwrap_or_default()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the provider");
    let url = format!("http://{}/v1", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn recv(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Option<ServerFrame> {
    loop {
        match ws.next().await? {
            Ok(Message::Text(text)) => return serde_json::from_str(&text).ok(),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

pub fn bench() {
    support::block_on(measure());
}

async fn measure() {
    let files = support::size("REPOWIKI_BENCH_FILES", 10_000);
    let turns = support::size("REPOWIKI_BENCH_TURNS", 1_000);
    let work = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => return eprintln!("no temporary directory: {e}"),
    };
    let tree = work.path().join("tree");
    let copied = support::copy_source_tree(&tree, files);

    let times: ProviderTimes = Arc::default();
    let url = provider(Arc::clone(&times)).await;
    // OpenRouter speaks OpenAI's wire but offers no embeddings, so retrieval is the default
    // one (lexical). With an embedding provider a question also waits for its embedding,
    // which is the provider's round trip rather than ours, like its first token.
    let env = [
        ("OPENROUTER_API_KEY", "bench".to_owned()),
        ("OPENROUTER_BASE_URL", url),
    ];
    let providers = server::providers::Providers::from_env(
        |name| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()),
        1000.0,
    );
    let mut config = Config::for_data_dir(work.path().join("data"));
    config.local_roots = vec![work.path().display().to_string()];
    // Every turn here comes from one connection, as fast as it can.
    config.messages_per_sec = 1_000_000;
    let options = match leptos::config::get_configuration(None) {
        Ok(c) => c.leptos_options,
        Err(e) => return eprintln!("leptos configuration: {e}"),
    };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let state = match server::build_state_with_providers(
        config,
        options,
        shutdown.clone(),
        providers,
    )
    .await
    {
        Ok(state) => state,
        Err(e) => return eprintln!("server state: {e}"),
    };
    let request = app::protocol::rest::CreateProjectRequest {
        source: Some(tree.display().to_string()),
        ..Default::default()
    };
    let indexing = Instant::now();
    let project = match state.projects.create(request).await {
        Ok((project, _)) => project,
        Err(e) => return eprintln!("create the project: {e}"),
    };
    let project = match state.projects.wait_ready(&project.id).await {
        Ok(p) => p,
        Err(e) => return eprintln!("indexing: {e}"),
    };
    let indexing = indexing.elapsed();
    println!(
        "project:         {} files copied, {} documents, {} chunks, indexed in {:.1} s",
        copied.len(),
        project.documents,
        project.chunks,
        indexing.as_secs_f64()
    );

    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => return eprintln!("bind: {e}"),
    };
    let addr = listener.local_addr().ok();
    let serving = tokio::spawn(server::serve(listener, state));
    let Some(addr) = addr else {
        return eprintln!("no address");
    };
    let (mut ws, _) = match tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await {
        Ok(ws) => ws,
        Err(e) => return eprintln!("connect: {e}"),
    };
    let questions = [
        "How is the configuration parsed?",
        "Where are errors converted into responses?",
        "What does the serializer do with maps?",
        "How are connections retried?",
    ];

    let mut overheads = Vec::with_capacity(turns);
    let mut sources_seen = 0usize;
    for turn in 0..turns {
        let conversation_id = Uuid::new_v4();
        let msg = ClientMsg::SendMessage {
            conversation_id,
            content: questions[turn % questions.len()].into(),
            client_msg_id: format!("bench-{turn}"),
            provider: Some("openrouter".into()),
            model: None,
            temperature: None,
            include_history: None,
            deep_research: None,
            project_id: Some(project.id.clone()),
            file_path: None,
        };
        let Ok(text) = serde_json::to_string(&msg) else {
            return eprintln!("encode");
        };
        let sent = Instant::now();
        if ws.send(Message::Text(text.into())).await.is_err() {
            return eprintln!("the socket closed");
        }
        let mut first_token = None;
        loop {
            let Some(frame) = recv(&mut ws).await else {
                return eprintln!("the socket closed mid-turn");
            };
            match frame.msg {
                ServerMsg::MessageSources { sources, .. } => sources_seen += sources.len(),
                ServerMsg::MessageToken { .. } => {
                    first_token.get_or_insert_with(Instant::now);
                }
                ServerMsg::MessageComplete { .. } => break,
                ServerMsg::MessageError { message, .. } | ServerMsg::Error { message, .. } => {
                    return eprintln!("turn failed: {message}");
                }
                _ => {}
            }
        }
        // A connection may only be in so many rooms at once.
        let leave = ClientMsg::Leave {
            room: app::protocol::rooms::conversation(conversation_id),
        };
        if let Ok(text) = serde_json::to_string(&leave) {
            let _ = ws.send(Message::Text(text.into())).await;
        }
        let Some(first_token) = first_token else {
            return eprintln!("a turn had no token");
        };
        let provider_own = times
            .lock()
            .ok()
            .and_then(|t| t.last().map(|(arrived, wrote)| *wrote - *arrived))
            .unwrap_or_default();
        overheads.push((first_token - sent).saturating_sub(provider_own));
    }
    overheads.sort_unstable();
    let (p50, p99) = (
        support::percentile_ms(&overheads, 0.50),
        support::percentile_ms(&overheads, 0.99),
    );
    let mean_sources = sources_seen as f64 / turns.max(1) as f64;
    println!("turns:           {turns}, {mean_sources:.1} sources each on average");
    println!("server overhead: p50 {p50:.2} ms, p99 {p99:.2} ms (targets 5 / 20)");
    support::write_report(
        "bench-chat-overhead.json",
        &serde_json::json!({
            "files": copied.len(),
            "documents": project.documents,
            "chunks": project.chunks,
            "indexing_seconds": indexing.as_secs_f64(),
            "turns": turns,
            "mean_sources": mean_sources,
            "overhead_p50_ms": p50,
            "overhead_p99_ms": p99,
        }),
    );
    let _ = ws.close(None).await;
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), serving).await;
}
