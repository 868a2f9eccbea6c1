//! Idle sockets on one instance (SPEC §12: 10,000 in < 20 KiB each; next target 100,000
//! in < 1 GiB). The server binary runs alone in its process; this one opens `/ws`
//! connections in steps (1,000, 10,000, 100,000 by default) and prints the server's RSS
//! and its growth per socket at each step.
//!
//! 100,000 connections need more file descriptors than most systems give a process (and
//! the server needs as many again): the benchmark raises its own limit, which the server
//! inherits, and says so; where it may not, it measures as far as the limit allows. One
//! loopback address only has ~28,000 ephemeral ports toward one server port, so the
//! clients connect from 127.0.0.2, 127.0.0.3, … in turn.
//!
//! `cargo bench -p server -- idle_sockets`; `REPOWIKI_BENCH_IDLE_STEPS=1000,10000` for a
//! smaller run. Figures in `target/bench-idle-sockets.json`.

use crate::realtime::Server;
use crate::support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

type ClientWs = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

const CONNECT_CONCURRENCY: usize = 256;
/// Ephemeral ports used per source address, below the usual ~28,000 of the range.
const PER_SOURCE_ADDRESS: usize = 20_000;
/// File descriptors this process and the server need beyond one per socket.
const SPARE_FDS: u64 = 1_024;

/// Raises this process's open-file limit to `wanted` (the server, started after, inherits
/// it); returns the limit in force.
fn raise_fd_limit(wanted: u64) -> u64 {
    // SAFETY: getrlimit/setrlimit only read and write the struct they are given.
    let mut limit: libc::rlimit = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 0;
    }
    if limit.rlim_cur >= wanted {
        return limit.rlim_cur;
    }
    let before = limit.rlim_cur;
    // Raising the hard limit takes privilege (root or CAP_SYS_RESOURCE); the soft one may
    // always go up to the hard one.
    let raised = libc::rlimit {
        rlim_cur: wanted,
        rlim_max: wanted.max(limit.rlim_max),
    };
    let now = if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        wanted
    } else {
        let soft = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &soft) } == 0 {
            limit.rlim_max
        } else {
            before
        }
    };
    println!("open-file limit raised from {before} to {now} (wanted {wanted})");
    now
}

async fn connect(server: SocketAddr, n: usize) -> Result<ClientWs, String> {
    // 127.0.0.2 onwards: every 127/8 address is loopback on Linux.
    let source = Ipv4Addr::new(127, 0, 0, 2 + (n / PER_SOURCE_ADDRESS) as u8);
    let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    socket
        .bind(SocketAddr::from((source, 0)))
        .map_err(|e| format!("bind {source}: {e}"))?;
    let stream = socket
        .connect(server)
        .await
        .map_err(|e| format!("connect from {source}: {e}"))?;
    // Small buffers: 100,000 clients live in this process too.
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(
        format!("ws://{server}/ws"),
        stream,
        Some(config),
    )
    .await
    .map_err(|e| format!("handshake: {e}"))?;
    // The welcome proves the server has set the connection up.
    match tokio::time::timeout(Duration::from_secs(60), ws.next()).await {
        Ok(Some(Ok(_))) => Ok(ws),
        other => Err(format!("no welcome: {other:?}")),
    }
}

pub fn bench() {
    support::block_on(async {
        if let Err(e) = measure().await {
            eprintln!("idle sockets: {e}");
        }
    });
}

async fn measure() -> Result<(), String> {
    let steps: Vec<usize> = std::env::var("REPOWIKI_BENCH_IDLE_STEPS")
        .unwrap_or_else(|_| "1000,10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let most = steps.iter().copied().max().unwrap_or(0);
    let limit = raise_fd_limit(most as u64 + SPARE_FDS);
    let reachable = (limit.saturating_sub(SPARE_FDS)) as usize;
    if reachable < most {
        println!(
            "only {reachable} sockets fit the open-file limit; steps above it are not measured (run as root, or raise `ulimit -Hn`)"
        );
    }
    let server = Server::start_with(
        3931,
        None,
        // Pings are what an idle socket costs besides memory; measured elsewhere, and
        // unanswered here (nobody reads the clients), so spaced beyond the run.
        &[("REPOWIKI_PING_INTERVAL_SECS", "3600".into())],
    );
    server.ready().await;
    let addr: SocketAddr = server
        .addr
        .parse()
        .map_err(|e| format!("server address: {e}"))?;
    // Warm up allocator pools so the baseline is not flattered by first-use growth.
    let warm: Vec<_> = stream::iter(0..100)
        .map(|n| connect(addr, n))
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect()
        .await;
    drop(warm);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let baseline = server.rss_kib();
    println!("server RSS with no sockets: {baseline} KiB");

    let mut held: Vec<ClientWs> = Vec::new();
    let mut figures = Vec::new();
    for step in steps.into_iter().filter(|&s| s <= reachable) {
        let started = Instant::now();
        let from = held.len();
        let opened: Vec<Result<ClientWs, String>> = stream::iter(from..step)
            .map(|n| connect(addr, n))
            .buffer_unordered(CONNECT_CONCURRENCY)
            .collect()
            .await;
        for ws in opened {
            held.push(ws?);
        }
        let opening = started.elapsed();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let rss = server.rss_kib();
        let per_socket = rss.saturating_sub(baseline) as f64 / step as f64;
        println!(
            "{step:>7} idle sockets: server RSS {rss} KiB ({:.0} MiB), {per_socket:.2} KiB per socket over the baseline; {} fds open; opened at {:.0}/s",
            rss as f64 / 1024.0,
            server.open_fds(),
            (step - from) as f64 / opening.as_secs_f64().max(f64::EPSILON)
        );
        figures.push(serde_json::json!({
            "sockets": step, "rss_kib": rss, "kib_per_socket": per_socket,
        }));
    }
    if let Some(last) = figures.last() {
        println!(
            "target: 100,000 idle sockets in < 1 GiB (1,048,576 KiB); largest step held {} in {} KiB",
            last["sockets"], last["rss_kib"]
        );
    }
    support::write_report(
        "bench-idle-sockets.json",
        &serde_json::json!({"baseline_rss_kib": baseline, "fd_limit": limit, "steps": figures}),
    );
    Ok(())
}
