//! Realtime load benchmark (SPEC §12): spawns the real server binary on loopback and
//! measures, from outside it,
//! - fan-out: time from publishing an event to its receipt by every client of a
//!   1,000-client room (p50/p99);
//! - streaming: 1,000 concurrent answers at 50 tokens/s, the delay each token adds
//!   beyond the provider's pace (p99), and tokens lost (must be 0).
//!
//! `cargo bench -p server -- realtime` prints the figures and writes them to
//! `target/bench-realtime.json`. Sizes can be lowered for a quick run:
//! `REPOWIKI_BENCH_ROOM=200 REPOWIKI_BENCH_STREAMS=100`. Idle sockets have a benchmark of
//! their own (`idle_sockets`).

use crate::support;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use app::protocol::{ClientMsg, ServerFrame, ServerMsg};
use futures::{SinkExt, StreamExt, stream};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

pub(crate) use crate::support::Ws;

pub(crate) const TOKENS_PER_SEC: f64 = 50.0;
const CONNECT_CONCURRENCY: usize = 200;

fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub(crate) struct Server {
    child: Child,
    pub(crate) addr: String,
    _data: tempfile::TempDir,
}

/// What an instance shares: a database, and Redis when it is one of a cluster.
pub(crate) struct Shared {
    pub(crate) redis: Option<String>,
    pub(crate) database: String,
}

impl Server {
    /// One instance alone, on SQLite in a fresh folder.
    pub(crate) fn spawn(port: u16) -> Self {
        Self::start(port, None)
    }

    /// An instance on SQLite in a fresh folder, or on `shared`.
    pub(crate) fn start(port: u16, shared: Option<&Shared>) -> Self {
        Self::start_with(port, shared, &[])
    }

    /// An instance as [`start`](Self::start) makes it, with `extra` added to its
    /// environment (providers, local roots).
    pub(crate) fn start_with(port: u16, shared: Option<&Shared>, extra: &[(&str, String)]) -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        let addr = format!("127.0.0.1:{port}");
        let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
        command.envs(extra.iter().map(|(k, v)| (*k, v.as_str())));
        match shared {
            Some(shared) => match &shared.redis {
                Some(redis) => command.env("REDIS_URL", redis),
                None => command.env_remove("REDIS_URL"),
            }
            .env("DATABASE_URL", &shared.database),
            None => command.env_remove("REDIS_URL").env_remove("DATABASE_URL"),
        };
        let child = command
            .env("LEPTOS_SITE_ADDR", &addr)
            .env("LEPTOS_OUTPUT_NAME", "repowiki")
            .env("REPOWIKI_DATA_DIR", data.path())
            .env(
                "REPOWIKI_OFFLINE_TOKENS_PER_SEC",
                TOKENS_PER_SEC.to_string(),
            )
            // Every client of a benchmark is one address: per-client limits would measure
            // the limits, not the server.
            .env("REPOWIKI_MAX_CONNECTIONS_PER_CLIENT", "100000")
            .env("REPOWIKI_MAX_ANSWERS", "100000")
            .env("REPOWIKI_MAX_ANSWERS_PER_CLIENT", "100000")
            .env("REPOWIKI_MAX_WAITING_ANSWERS", "100000")
            .env("REPOWIKI_REST_REQUESTS_PER_SEC", "100000")
            .env("REPOWIKI_MODEL_CALLS_PER_MIN", "100000")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start the server binary");
        Self {
            child,
            addr,
            _data: data,
        }
    }

    pub(crate) async fn ready(&self) {
        let url = format!("http://{}/health", self.addr);
        for _ in 0..300 {
            if reqwest::get(&url)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server did not start");
    }

    /// Open file descriptors of the server process: sockets, database, index files.
    pub(crate) fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|dir| dir.count())
            .unwrap_or(0)
    }

    /// CPU time (user + system) the server process has used so far.
    pub(crate) fn cpu_time(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // The fields after the command name, which is in parentheses and may hold spaces:
        // utime and stime are the 12th and 13th, in clock ticks.
        let ticks: u64 = stat
            .rsplit_once(')')
            .map(|(_, rest)| {
                rest.split_whitespace()
                    .skip(11)
                    .take(2)
                    .filter_map(|t| t.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0);
        // SAFETY: sysconf only reads a configuration value.
        let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Duration::from_millis(ticks * 1000 / per_sec)
    }

    /// Waits until the server is idle (at most one clock tick of CPU in half a second),
    /// so work it does in the background, such as replacing a large project's first-pass
    /// chunks with syntax chunks, is not counted as the cost of what is measured next.
    /// Returns how long that took; gives up after `limit`.
    pub(crate) async fn settle(&self, limit: Duration) -> Duration {
        let started = Instant::now();
        let mut before = self.cpu_time();
        while started.elapsed() < limit {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let now = self.cpu_time();
            if now.saturating_sub(before) <= Duration::from_millis(10) {
                break;
            }
            before = now;
        }
        started.elapsed()
    }

    pub(crate) fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) async fn connect(addr: &str) -> Ws {
    let mut ws = support::ws_connect(&format!("ws://{addr}/ws"))
        .await
        .expect("connect");
    // The welcome proves the server has set the connection up.
    recv(&mut ws).await;
    ws
}

pub(crate) async fn connect_many(addr: &str, n: usize) -> Vec<Ws> {
    stream::iter(0..n)
        .map(|_| connect(addr))
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect()
        .await
}

pub(crate) async fn recv(ws: &mut Ws) -> ServerFrame {
    loop {
        match tokio::time::timeout(Duration::from_secs(60), ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                return serde_json::from_str(&text).expect("valid frame");
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("socket ended: {other:?}"),
        }
    }
}

/// The benchmarks' question, in a conversation of its own.
pub(crate) fn question(conversation_id: Uuid) -> ClientMsg {
    ClientMsg::SendMessage {
        conversation_id,
        content: "How is the configuration loaded?".into(),
        client_msg_id: "bench".into(),
        provider: None,
        model: None,
        temperature: None,
        include_history: None,
        deep_research: None,
        project_id: None,
        file_path: None,
    }
}

pub(crate) async fn send(ws: &mut Ws, msg: &ClientMsg) {
    let text = serde_json::to_string(msg).expect("serialise");
    ws.send(Message::Text(text.into())).await.expect("send");
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn fan_out(n: usize, events: usize) -> serde_json::Value {
    let server = Server::spawn(3912);
    server.ready().await;
    fan_out_over(&[server.addr.as_str()], n, events).await
}

/// A room of `n` clients spread evenly over the instances at `addrs`; events published
/// through the first.
pub(crate) async fn fan_out_over(addrs: &[&str], n: usize, events: usize) -> serde_json::Value {
    let mut clients = Vec::with_capacity(n);
    for (i, addr) in addrs.iter().enumerate() {
        let share = n / addrs.len() + usize::from(i < n % addrs.len());
        clients.extend(connect_many(addr, share).await);
    }
    for ws in clients.iter_mut() {
        send(
            ws,
            &ClientMsg::Join {
                room: "project:bench".into(),
                since_seq: None,
            },
        )
        .await;
        while !matches!(recv(ws).await.msg, ServerMsg::Joined { .. }) {}
    }
    let receivers: Vec<_> = clients
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(events);
                while latencies.len() < events {
                    let frame = recv(&mut ws).await;
                    if let ServerMsg::ProcessingStatus {
                        message: Some(sent),
                        status,
                        ..
                    } = frame.msg
                    {
                        let sent: u64 = sent.parse().unwrap_or(0);
                        let event: usize = status.parse().unwrap_or(0);
                        latencies.push((event, now_us().saturating_sub(sent) as f64 / 1000.0));
                    }
                }
                latencies
            })
        })
        .collect();
    let http = reqwest::Client::new();
    let url = format!("http://{}/api/v1/websocket/status", addrs[0]);
    for event in 0..events {
        let body = serde_json::json!({"room": "project:bench", "status": event.to_string(), "message": now_us().to_string()});
        http.post(&url).json(&body).send().await.expect("publish");
        // Spaced out so each event's fan-out is measured on its own, not queued behind the last.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut all = Vec::with_capacity(n * events);
    let mut last_receipt = vec![0f64; events];
    for r in receivers {
        for (event, latency) in r.await.expect("receiver") {
            all.push(latency);
            if let Some(last) = last_receipt.get_mut(event) {
                *last = last.max(latency);
            }
        }
    }
    all.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&all, 50.0), percentile(&all, 99.0));
    // On 2 cores the clients share the machine with the server: the load says how much.
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into());
    let instances = addrs.len();
    println!(
        "fan-out: {n}-client room on {instances} instance(s), {events} events, publish->receipt p50 {p50:.2} ms, p99 {p99:.2} ms (target p99 < 50), load average {load}"
    );
    // Where the tail is: the time until the last member had each event.
    let slowest: Vec<String> = last_receipt.iter().map(|ms| format!("{ms:.0}")).collect();
    println!(
        "fan-out: last receipt per event (ms): {}",
        slowest.join(" ")
    );
    serde_json::json!({"room_size": n, "instances": instances, "events": events, "p50_ms": p50, "p99_ms": p99, "load_average": load, "last_receipt_ms": last_receipt})
}

async fn streams(n: usize) -> serde_json::Value {
    let server = Server::spawn(3913);
    server.ready().await;
    streams_over(&[server.addr.as_str()], n).await
}

/// `n` answers at once, their askers spread evenly over the instances at `addrs`.
pub(crate) async fn streams_over(addrs: &[&str], n: usize) -> serde_json::Value {
    let mut clients = Vec::with_capacity(n);
    for (i, addr) in addrs.iter().enumerate() {
        let share = n / addrs.len() + usize::from(i < n % addrs.len());
        clients.extend(connect_many(addr, share).await);
    }
    let pace_ms = 1000.0 / TOKENS_PER_SEC;
    let started = Instant::now();
    let runs: Vec<_> = clients
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                send(&mut ws, &question(Uuid::new_v4())).await;
                let mut text = String::new();
                let mut received = 0u32;
                let mut added = Vec::new();
                let mut last: Option<Instant> = None;
                loop {
                    match recv(&mut ws).await.msg {
                        ServerMsg::MessageToken { token, .. } => {
                            let now = Instant::now();
                            if let Some(prev) = last {
                                let gap = now.duration_since(prev).as_secs_f64() * 1000.0;
                                let at = now.duration_since(started).as_secs_f64() * 1000.0;
                                added.push(((gap - pace_ms).max(0.0), at));
                            }
                            last = Some(now);
                            received += 1;
                            text.push_str(&token);
                        }
                        ServerMsg::MessageComplete {
                            content, metadata, ..
                        } => {
                            // Every token the provider produced must have arrived, in order.
                            let produced = metadata.completion_tokens.unwrap_or(received);
                            let mut lost = produced.saturating_sub(received) as usize;
                            if lost == 0 && content != text {
                                lost = 1;
                            }
                            return (added, lost);
                        }
                        ServerMsg::MessageError { message, .. } => panic!("turn failed: {message}"),
                        _ => {}
                    }
                }
            })
        })
        .collect();
    let mut timed = Vec::new();
    let mut lost = 0;
    for run in runs {
        let (a, l) = run.await.expect("stream");
        timed.extend(a);
        lost += l;
    }
    // Where the tail is: how many tokens came over 2 ms late in each 100 ms of the run.
    let mut late_per_100ms = Vec::new();
    for (extra, at) in &timed {
        if *extra > 2.0 {
            let bucket = (*at / 100.0) as usize;
            if late_per_100ms.len() <= bucket {
                late_per_100ms.resize(bucket + 1, 0u32);
            }
            late_per_100ms[bucket] += 1;
        }
    }
    let mut added: Vec<f64> = timed.into_iter().map(|(extra, _)| extra).collect();
    added.sort_by(f64::total_cmp);
    let p99 = percentile(&added, 99.0);
    let p50 = percentile(&added, 50.0);
    let instances = addrs.len();
    println!(
        "streams: {n} concurrent on {instances} instance(s) at {TOKENS_PER_SEC} tokens/s, {} tokens, added latency per token p50 {p50:.2} ms, p99 {p99:.2} ms (target p99 < 10), lost {lost} (target 0), wall {:.1} s",
        added.len() + n,
        started.elapsed().as_secs_f64()
    );
    let late: Vec<String> = late_per_100ms.iter().map(u32::to_string).collect();
    println!(
        "streams: tokens over 2 ms late per 100 ms of the run: {}",
        late.join(" ")
    );
    serde_json::json!({"streams": n, "instances": instances, "tokens_per_sec": TOKENS_PER_SEC, "tokens": added.len() + n, "added_p50_ms": p50, "added_p99_ms": p99, "lost": lost, "late_per_100ms": late_per_100ms})
}

pub fn bench() {
    support::block_on(measure());
}

async fn measure() {
    let fan = fan_out(size("REPOWIKI_BENCH_ROOM", 1_000), 50).await;
    let streaming = streams(size("REPOWIKI_BENCH_STREAMS", 1_000)).await;
    let report = serde_json::json!({"fan_out": fan, "streaming": streaming});
    support::write_report("bench-realtime.json", &report);
}
