//! Load on the server binary alone (SPEC §12, next targets). The server runs in its own
//! process, so its CPU time and memory are its own; the scripted providers and every
//! client run in this one, in Rust, so they are not what limits the figures.
//!
//! - Warm turns, one after another, on each path (`/ws`, seed `/ws/chat`, SSE): the
//!   server's overhead from the question to the first token, minus the provider's own
//!   first-token time (p50/p99), and the server's CPU time per turn; Socket.IO too
//!   (`socket_io_client.rs`).
//! - 1,000 concurrent turns on `/ws`, each answer streamed at 50 tokens/s: first-token
//!   latency p50/p99, tokens lost, and the server's CPU and peak RSS meanwhile.
//!
//! `cargo bench -p server -- load` prints the figures and writes `target/bench-load.json`.
//! Quick run: `REPOWIKI_BENCH_FILES=300 REPOWIKI_BENCH_TURNS=100 REPOWIKI_BENCH_STREAMS=100`.

use crate::in_process::send_message;
use crate::realtime::{Server, TOKENS_PER_SEC};
use crate::socket_io_client::SocketIo;
use crate::{scripted_provider, support};

use std::time::{Duration, Instant};

use app::protocol::{ClientMsg, ServerFrame, ServerMsg};
use futures::{SinkExt, StreamExt, stream};
use tokio_tungstenite::tungstenite::Message;

type Ws = crate::realtime::Ws;

const QUESTIONS: &[&str] = &[
    "How is the configuration parsed?",
    "Where are errors converted into responses?",
    "What does the serializer do with maps?",
    "How are connections retried?",
];
/// Tokens of a streamed answer: two seconds at 50 tokens/s.
const STREAMED_TOKENS: usize = 100;
const CONNECT_CONCURRENCY: usize = 100;

pub fn bench() {
    support::block_on(async {
        if let Err(e) = measure().await {
            eprintln!("load: {e}");
        }
    });
}

async fn next_frame(ws: &mut Ws) -> Result<ServerFrame, String> {
    loop {
        match tokio::time::timeout(Duration::from_secs(60), ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                return serde_json::from_str(&text).map_err(|e| format!("bad frame: {e}"));
            }
            Ok(Some(Ok(_))) => continue,
            other => return Err(format!("socket ended: {other:?}")),
        }
    }
}

fn question(project_id: &str, n: usize, provider: &str) -> Result<Message, String> {
    let msg = send_message(project_id, QUESTIONS[n % QUESTIONS.len()], provider);
    let text = serde_json::to_string(&msg).map_err(|e| e.to_string())?;
    Ok(Message::Text(text.into()))
}

/// Asks on an open `/ws` and reads to the answer's end: (first token, tokens, the
/// provider's token count, conversation id).
async fn ws_turn(ws: &mut Ws, msg: Message) -> Result<(Instant, Vec<Instant>, u32), String> {
    ws.send(msg).await.map_err(|e| format!("send: {e}"))?;
    let mut tokens = Vec::new();
    let mut conversation = None;
    loop {
        let frame = next_frame(ws).await?;
        match frame.msg {
            ServerMsg::MessageToken {
                conversation_id, ..
            } => {
                conversation.get_or_insert(conversation_id);
                tokens.push(Instant::now());
            }
            ServerMsg::MessageComplete {
                metadata,
                conversation_id,
                ..
            } => {
                let leave = ClientMsg::Leave {
                    room: app::protocol::rooms::conversation(conversation_id),
                };
                if let Ok(text) = serde_json::to_string(&leave) {
                    let _ = ws.send(Message::Text(text.into())).await;
                }
                let produced = metadata.completion_tokens.unwrap_or(tokens.len() as u32);
                let first = *tokens.first().ok_or("an answer had no token")?;
                return Ok((first, tokens, produced));
            }
            ServerMsg::MessageError { message, .. } | ServerMsg::Error { message, .. } => {
                return Err(format!("turn failed: {message}"));
            }
            _ => {}
        }
    }
}

async fn ws_chat_turn(addr: &str, tree: &str, n: usize) -> Result<Instant, String> {
    let mut ws = support::ws_connect(&format!("ws://{addr}/ws/chat")).await?;
    let request = serde_json::json!({
        "repo_url": tree,
        "provider": "openrouter",
        "messages": [{"role": "user", "content": QUESTIONS[n % QUESTIONS.len()]}],
    });
    ws.send(Message::Text(request.to_string().into()))
        .await
        .map_err(|e| format!("send: {e}"))?;
    let mut first = None;
    while let Some(message) = ws.next().await {
        match message {
            Ok(Message::Text(_)) => {
                first.get_or_insert_with(Instant::now);
            }
            Ok(Message::Close(frame)) => {
                if let Some(frame) = frame.filter(|f| u16::from(f.code) != 1000) {
                    return Err(format!("/ws/chat closed: {}", frame.reason));
                }
                break;
            }
            Ok(_) => {}
            Err(e) => return Err(format!("/ws/chat: {e}")),
        }
    }
    first.ok_or_else(|| "/ws/chat sent no token".to_owned())
}

async fn sse_turn(
    http: &reqwest::Client,
    addr: &str,
    project_id: &str,
    n: usize,
) -> Result<(Instant, Instant), String> {
    let conversation = post_json(
        http,
        &format!("http://{addr}/api/chat/conversations"),
        &serde_json::json!({"project_id": project_id}),
    )
    .await?;
    let id = conversation["id"].as_str().ok_or("no conversation id")?;
    let sent = Instant::now();
    let mut response = http
        .get(format!("http://{addr}/api/chat/stream/{id}"))
        .query(&[
            ("message", QUESTIONS[n % QUESTIONS.len()]),
            ("provider", "openrouter"),
        ])
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| format!("SSE: {e}"))?;
    let mut first = None;
    // Only the newest bytes are searched (with room for a name split across chunks).
    let mut seen: Vec<u8> = Vec::new();
    while let Some(bytes) = response.chunk().await.map_err(|e| format!("SSE: {e}"))? {
        let from = seen.len().saturating_sub(COMPLETE.len());
        seen.extend_from_slice(&bytes);
        let fresh = &seen[from..];
        if first.is_none() && contains(fresh, TOKEN) {
            first = Some(Instant::now());
        }
        if contains(fresh, COMPLETE) {
            break;
        }
    }
    Ok((sent, first.ok_or("SSE sent no token")?))
}

const TOKEN: &[u8] = b"event: message_token";
const COMPLETE: &[u8] = b"event: message_complete";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// POSTs `body` as JSON and reads a JSON answer; a non-2xx status is an error.
async fn post_json(
    http: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    http.post(url)
        .json(body)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| format!("POST {url}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("POST {url}: {e}"))
}

async fn create_project(addr: &str, tree: &str) -> Result<String, String> {
    let http = reqwest::Client::new();
    let created = post_json(
        &http,
        &format!("http://{addr}/api/projects"),
        &serde_json::json!({"source": tree}),
    )
    .await?;
    let id = created["project"]["id"]
        .as_str()
        .or_else(|| created["id"].as_str())
        .ok_or_else(|| format!("no project id in {created}"))?
        .to_owned();
    // The project room would say when it is ready; a bench can afford to ask.
    for _ in 0..1200 {
        let project: serde_json::Value = http
            .get(format!("http://{addr}/api/projects/{id}"))
            .send()
            .await
            .map_err(|e| format!("project: {e}"))?
            .json()
            .await
            .map_err(|e| format!("project: {e}"))?;
        match project["status"].as_str() {
            Some("indexing") => tokio::time::sleep(Duration::from_millis(100)).await,
            Some("ready") => return Ok(id),
            _ => return Err(format!("indexing failed: {project}")),
        }
    }
    Err("indexing took over two minutes".into())
}

struct PathFigures {
    p50_ms: f64,
    p99_ms: f64,
    cpu_per_turn_ms: f64,
}

/// Warm turns over Socket.IO, one after another on one session, as the seed client asks
/// them: joined to the project, each question a new chat id.
async fn socket_io_turns(
    server: &Server,
    addr: &str,
    project_id: &str,
    turns: usize,
    provider_own_time: impl Fn() -> Duration,
) -> Result<PathFigures, String> {
    let mut client = SocketIo::connect(addr).await?;
    wait_for_event(&mut client, "connection_status").await?;
    client
        .emit(
            "join_project",
            serde_json::json!({"project_id": project_id}),
        )
        .await?;
    wait_for_event(&mut client, "project_joined").await?;
    for n in 0..20 {
        socket_io_turn(&mut client, n).await?;
    }
    let mut overheads = Vec::with_capacity(turns);
    let cpu = server.cpu_time();
    for n in 0..turns {
        let (sent, first) = socket_io_turn(&mut client, 20 + n).await?;
        overheads.push((first - sent).saturating_sub(provider_own_time()));
    }
    Ok(figures(overheads, server.cpu_time() - cpu, turns))
}

/// Asks question `n` and reads to its answer's end: (sent, first token).
async fn socket_io_turn(client: &mut SocketIo, n: usize) -> Result<(Instant, Instant), String> {
    let sent = Instant::now();
    client
        .emit(
            "send_message",
            serde_json::json!({
                "chat_id": 500_000 + n,
                "message": QUESTIONS[n % QUESTIONS.len()],
                "provider": "openrouter",
            }),
        )
        .await?;
    let mut first = None;
    loop {
        let (name, data) = client.next_event().await?;
        match name.as_str() {
            "message_token" => {
                first.get_or_insert_with(Instant::now);
            }
            "message_complete" => return Ok((sent, first.ok_or("Socket.IO sent no token")?)),
            "error" => return Err(format!("Socket.IO turn failed: {data}")),
            _ => {}
        }
    }
}

async fn wait_for_event(client: &mut SocketIo, wanted: &str) -> Result<(), String> {
    loop {
        let (name, data) = client.next_event().await?;
        if name == wanted {
            return Ok(());
        }
        if name == "error" {
            return Err(format!("Socket.IO: {data}"));
        }
    }
}

fn figures(mut overheads: Vec<Duration>, cpu: Duration, turns: usize) -> PathFigures {
    overheads.sort_unstable();
    PathFigures {
        p50_ms: support::percentile_ms(&overheads, 0.50),
        p99_ms: support::percentile_ms(&overheads, 0.99),
        cpu_per_turn_ms: cpu.as_secs_f64() * 1000.0 / turns.max(1) as f64,
    }
}

fn report_path(name: &str, f: &PathFigures) -> serde_json::Value {
    println!(
        "{name:<9} overhead p50 {:.2} ms, p99 {:.2} ms (targets 2 / 5); server CPU per turn {:.2} ms (target 3)",
        f.p50_ms, f.p99_ms, f.cpu_per_turn_ms
    );
    serde_json::json!({"overhead_p50_ms": f.p50_ms, "overhead_p99_ms": f.p99_ms, "cpu_per_turn_ms": f.cpu_per_turn_ms})
}

async fn measure() -> Result<(), String> {
    let files = support::size("REPOWIKI_BENCH_FILES", 1_500);
    let turns = support::size("REPOWIKI_BENCH_TURNS", 500);
    let streams = support::size("REPOWIKI_BENCH_STREAMS", 1_000);
    let work = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
    let tree = work.path().join("tree");
    support::copy_source_tree(&tree, files);
    let tree = tree.display().to_string();

    let short: Vec<String> = ["The", " answer", " is", " in", " [1]."]
        .map(str::to_owned)
        .to_vec();
    let long: Vec<String> = (0..STREAMED_TOKENS).map(|i| format!(" word{i}")).collect();
    let immediate = scripted_provider::start(short, None).await?;
    let paced =
        scripted_provider::start(long, Some(Duration::from_secs_f64(1.0 / TOKENS_PER_SEC))).await?;
    // Two OpenAI-wire providers without embeddings: `openrouter` answers at once (the
    // overhead turns), `deepseek` streams at the set pace (the concurrent turns).
    let mut env = immediate.env().to_vec();
    env.push(("DEEPSEEK_API_KEY", "bench".into()));
    env.push(("DEEPSEEK_BASE_URL", paced.url.clone()));
    env.push(("REPOWIKI_LOCAL_ROOTS", work.path().display().to_string()));
    env.push(("REPOWIKI_MESSAGES_PER_SEC", "1000000".into()));
    let server = Server::start_with(3921, None, &env);
    server.ready().await;
    let addr = server.addr.clone();
    let project_id = create_project(&addr, &tree).await?;
    let settled = server.settle(Duration::from_secs(60)).await;
    println!(
        "project: {files} files indexed; server idle {:.1} s later",
        settled.as_secs_f64()
    );

    // Warm-up, so caches and pools are not measured as per-turn cost.
    let mut ws = support::ws_connect(&format!("ws://{addr}/ws")).await?;
    for n in 0..20 {
        ws_turn(&mut ws, question(&project_id, n, "openrouter")?).await?;
    }

    let mut report = serde_json::Map::new();
    let mut overheads = Vec::with_capacity(turns);
    let cpu = server.cpu_time();
    for n in 0..turns {
        let sent = Instant::now();
        let (first, ..) = ws_turn(&mut ws, question(&project_id, n, "openrouter")?).await?;
        overheads.push((first - sent).saturating_sub(immediate.last_own_time()));
    }
    let ws_figures = figures(overheads, server.cpu_time() - cpu, turns);
    report.insert("ws".into(), report_path("/ws", &ws_figures));

    let mut overheads = Vec::with_capacity(turns);
    let cpu = server.cpu_time();
    for n in 0..turns {
        let sent = Instant::now();
        let first = ws_chat_turn(&addr, &tree, n).await?;
        overheads.push((first - sent).saturating_sub(immediate.last_own_time()));
    }
    report.insert(
        "ws_chat".into(),
        report_path(
            "/ws/chat",
            &figures(overheads, server.cpu_time() - cpu, turns),
        ),
    );

    let http = reqwest::Client::new();
    let mut overheads = Vec::with_capacity(turns);
    let cpu = server.cpu_time();
    for n in 0..turns {
        let (sent, first) = sse_turn(&http, &addr, &project_id, n).await?;
        overheads.push((first - sent).saturating_sub(immediate.last_own_time()));
    }
    report.insert(
        "sse".into(),
        report_path("SSE", &figures(overheads, server.cpu_time() - cpu, turns)),
    );

    let figures = socket_io_turns(&server, &addr, &project_id, turns, || {
        immediate.last_own_time()
    })
    .await?;
    report.insert("socket_io".into(), report_path("Socket.IO", &figures));

    report.insert(
        "concurrent".into(),
        concurrent(&server, &project_id, streams).await?,
    );
    support::write_report("bench-load.json", &serde_json::Value::Object(report));
    Ok(())
}

/// `n` turns at once, one per connection, each answer streamed at the provider's pace.
async fn concurrent(
    server: &Server,
    project_id: &str,
    n: usize,
) -> Result<serde_json::Value, String> {
    let addr = server.addr.clone();
    let sockets: Vec<Result<Ws, String>> = stream::iter(0..n)
        .map(|_| {
            let addr = addr.clone();
            async move { support::ws_connect(&format!("ws://{addr}/ws")).await }
        })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect()
        .await;
    let sockets: Vec<Ws> = sockets.into_iter().collect::<Result<_, _>>()?;
    let rss_before = server.rss_kib();
    let cpu = server.cpu_time();
    let started = Instant::now();
    // The questions arrive spread over one answer's length, so that all n answers stream
    // at once in steady state, as n users would keep them: a burst of n at the same
    // instant measures the queue, not the latency (printed too, below).
    let answer_secs = STREAMED_TOKENS as f64 / TOKENS_PER_SEC;
    let turns: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(i, mut ws)| {
            let msg = question(project_id, i, "deepseek");
            let delay = Duration::from_secs_f64(answer_secs * i as f64 / n.max(1) as f64);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let sent = Instant::now();
                let (first, tokens, produced) = ws_turn(&mut ws, msg?).await?;
                let missing = produced.saturating_sub(tokens.len() as u32);
                Ok::<_, String>((sent, first - sent, missing))
            })
        })
        .collect();
    // Peak memory while the answers stream.
    let mut rss_peak = rss_before;
    let mut firsts = Vec::with_capacity(n);
    // Where the slow ones are: the slowest first token among questions sent in each
    // 100 ms of the run.
    let mut slowest_per_100ms: Vec<f64> = Vec::new();
    let mut lost = 0u64;
    let mut failed = 0usize;
    let mut pending = futures::stream::iter(turns).buffer_unordered(usize::MAX);
    let mut sample = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            turn = pending.next() => match turn {
                Some(Ok(Ok((sent, first, missing)))) => {
                    let bucket = (sent.duration_since(started).as_millis() / 100) as usize;
                    if slowest_per_100ms.len() <= bucket {
                        slowest_per_100ms.resize(bucket + 1, 0.0);
                    }
                    let ms = first.as_secs_f64() * 1000.0;
                    slowest_per_100ms[bucket] = slowest_per_100ms[bucket].max(ms);
                    firsts.push(first);
                    lost += u64::from(missing);
                }
                Some(_) => failed += 1,
                None => break,
            },
            _ = sample.tick() => rss_peak = rss_peak.max(server.rss_kib()),
        }
    }
    let wall = started.elapsed();
    let cpu = server.cpu_time() - cpu;
    firsts.sort_unstable();
    let (p50, p99) = (
        support::percentile_ms(&firsts, 0.50),
        support::percentile_ms(&firsts, 0.99),
    );
    println!(
        "concurrent: {n} turns at {TOKENS_PER_SEC} tokens/s ({STREAMED_TOKENS} tokens each), asked over {answer_secs} s: first token p50 {p50:.1} ms, p99 {p99:.1} ms (target p99 < 300); lost {lost} tokens, {failed} turns failed; server CPU {:.2} s over {:.1} s ({:.0} % of one core), RSS {rss_before} -> peak {rss_peak} KiB",
        cpu.as_secs_f64(),
        wall.as_secs_f64(),
        cpu.as_secs_f64() / wall.as_secs_f64() * 100.0,
    );
    let slowest: Vec<String> = slowest_per_100ms
        .iter()
        .map(|ms| format!("{ms:.0}"))
        .collect();
    println!(
        "concurrent: slowest first token (ms) of the questions sent in each 100 ms: {}",
        slowest.join(" ")
    );
    Ok(serde_json::json!({
        "slowest_first_token_per_100ms": slowest_per_100ms,
        "turns": n, "tokens_per_sec": TOKENS_PER_SEC, "tokens_each": STREAMED_TOKENS,
        "asked_over_seconds": answer_secs,
        "first_token_p50_ms": p50, "first_token_p99_ms": p99,
        "lost_tokens": lost, "failed_turns": failed,
        "server_cpu_seconds": cpu.as_secs_f64(), "wall_seconds": wall.as_secs_f64(),
        "rss_before_kib": rss_before, "rss_peak_kib": rss_peak,
    }))
}
