//! Soak: the real server binary holds 10,000 sockets while 200 of them stream answers
//! back to back (50 tokens/s each) for 10 minutes. Every minute it prints the server's
//! RSS and open file descriptors, and the tokens and answers delivered; at the end,
//! how both grew after the first minute's warm-up (flat means no leak) and how many
//! tokens were lost (must be 0: every answer's streamed text equals its stored text).
//!
//! `cargo bench -p server -- soak`; smaller and shorter:
//! `REPOWIKI_BENCH_SOAK_SOCKETS=2000 REPOWIKI_BENCH_SOAK_STREAMS=50 REPOWIKI_BENCH_SOAK_MINUTES=2`.
//! Writes `target/bench-soak.json`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use app::protocol::{ClientMsg, ServerMsg, rooms};
use futures::StreamExt;
use uuid::Uuid;

use crate::realtime::{Server, Ws, connect_many, question, recv, send};
use crate::support::{self, size};

#[derive(Default)]
struct Delivered {
    tokens: AtomicU64,
    answers: AtomicU64,
    /// Answers whose streamed tokens do not add up to the stored text.
    lost: AtomicU64,
}

pub fn bench() {
    tokio::runtime::Runtime::new()
        .expect("tokio runtime")
        .block_on(soak());
}

async fn soak() {
    let sockets = size("REPOWIKI_BENCH_SOAK_SOCKETS", 10_000);
    let streams = size("REPOWIKI_BENCH_SOAK_STREAMS", 200).min(sockets);
    let minutes = size("REPOWIKI_BENCH_SOAK_MINUTES", 10).max(1);
    let server = Server::spawn(3915);
    server.ready().await;
    let idle = connect_many(&server.addr, sockets - streams).await;
    let held = idle.len();
    // An idle client still answers the server's pings (reading does that), or the server
    // would rightly close it after two silent intervals.
    let idle: Vec<_> = idle
        .into_iter()
        .map(|mut ws| tokio::spawn(async move { while let Some(Ok(_)) = ws.next().await {} }))
        .collect();
    println!(
        "holding {held} idle sockets; {streams} streaming answers back to back for {minutes} min"
    );

    let delivered = Arc::new(Delivered::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut streamers = Vec::with_capacity(streams);
    for ws in connect_many(&server.addr, streams).await {
        let (delivered, stop) = (Arc::clone(&delivered), Arc::clone(&stop));
        streamers.push(tokio::spawn(stream_answers(ws, delivered, stop)));
    }

    let started = Instant::now();
    let mut samples = Vec::new();
    for minute in 1..=minutes {
        tokio::time::sleep_until((started + Duration::from_secs(60 * minute as u64)).into()).await;
        let sample = serde_json::json!({
            "minute": minute,
            "rss_kib": server.rss_kib(),
            "open_fds": server.open_fds(),
            "tokens": delivered.tokens.load(Ordering::Relaxed),
            "answers": delivered.answers.load(Ordering::Relaxed),
            "lost": delivered.lost.load(Ordering::Relaxed),
        });
        println!(
            "minute {minute:>2}: RSS {:>8} KiB, open fds {:>6}, tokens {:>8}, answers {:>6}, lost {}",
            sample["rss_kib"],
            sample["open_fds"],
            sample["tokens"],
            sample["answers"],
            sample["lost"]
        );
        samples.push(sample);
    }
    stop.store(true, Ordering::Relaxed);
    for streamer in streamers {
        let _ = streamer.await;
    }
    // Still connected at the end: the idle sockets were held throughout.
    let still_open = server.open_fds();
    let closed_early = idle.iter().filter(|task| task.is_finished()).count();
    for task in idle {
        task.abort();
    }

    let at = |i: usize, key: &str| samples.get(i).and_then(|s| s[key].as_f64()).unwrap_or(0.0);
    let last = samples.len() - 1;
    let growth = |key: &str| {
        let warm = at(0, key);
        if warm > 0.0 {
            (at(last, key) - warm) / warm * 100.0
        } else {
            0.0
        }
    };
    let lost = delivered.lost.load(Ordering::Relaxed);
    println!(
        "after warm-up (minute 1 → {minutes}): RSS {:+.1}%, open fds {:+.1}% (flat means no leak); {} answers, {} tokens, lost {lost} (target 0); {still_open} fds open at the end, {closed_early} idle sockets closed early (target 0)",
        growth("rss_kib"),
        growth("open_fds"),
        delivered.answers.load(Ordering::Relaxed),
        delivered.tokens.load(Ordering::Relaxed),
    );
    support::write_report(
        "bench-soak.json",
        &serde_json::json!({
            "sockets": sockets,
            "streams": streams,
            "minutes": minutes,
            "samples": samples,
            "rss_growth_pct": growth("rss_kib"),
            "fd_growth_pct": growth("open_fds"),
            "lost": lost,
            "idle_closed_early": closed_early,
        }),
    );
}

/// One client asking question after question in fresh conversations until told to stop;
/// each answer's streamed tokens are checked against the stored text.
async fn stream_answers(mut ws: Ws, delivered: Arc<Delivered>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let conversation = Uuid::new_v4();
        send(&mut ws, &question(conversation)).await;
        let mut text = String::new();
        loop {
            match recv(&mut ws).await.msg {
                ServerMsg::MessageToken { token, .. } => {
                    text.push_str(&token);
                    delivered.tokens.fetch_add(1, Ordering::Relaxed);
                }
                ServerMsg::MessageComplete { content, .. } => {
                    if content != text {
                        delivered.lost.fetch_add(1, Ordering::Relaxed);
                    }
                    delivered.answers.fetch_add(1, Ordering::Relaxed);
                    // Asking joined the conversation's room; a connection may be in only so
                    // many, so a client moving on leaves it as the browser does.
                    send(
                        &mut ws,
                        &ClientMsg::Leave {
                            room: rooms::conversation(conversation),
                        },
                    )
                    .await;
                    break;
                }
                ServerMsg::MessageError { message, .. } => panic!("answer failed: {message}"),
                ServerMsg::Error { code, message, .. } => panic!("refused ({code:?}): {message}"),
                _ => {}
            }
        }
    }
}
