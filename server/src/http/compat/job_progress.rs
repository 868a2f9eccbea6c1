//! Seed 002's job-progress socket `GET /api/wiki/jobs/{job_id}/progress`: the job's
//! current status first, then every update, `{"heartbeat": true}` every ping interval
//! (30 s by default), the final status, and a normal close.

use app::protocol::seed::Heartbeat;
use app::protocol::{JobProgress, ServerMsg, rooms};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Serialize;

use crate::http::ws::{Upgrade, accept, close_with};
use crate::realtime::{ConnectionSlot, Follower, close_code};
use crate::state::AppState;

pub async fn handler(
    State(state): State<AppState>,
    Path(job_id): Path<String>,
    upgrade: Upgrade,
) -> Response {
    accept(upgrade, state, move |socket, state, slot| {
        serve(socket, state, job_id, slot)
    })
    .await
}

async fn serve(mut socket: WebSocket, state: AppState, job_id: String, _slot: ConnectionSlot) {
    // Subscribe before reading the current state, so no update falls in between.
    let mut follower = Follower::room(
        &state.hub,
        state.config.outgoing_queue,
        &rooms::job(&job_id),
    )
    .await;
    // Wiki jobs are read from the database: it is current whichever server runs the job,
    // and it outlives restarts. Indexing jobs are on this server's board when it runs
    // them, else their project in the database says how far they are.
    let stored = match state.wiki.progress(&job_id).await {
        Ok(stored) => stored,
        Err(e) => {
            tracing::warn!(error = %e, job = %job_id, "could not read a job's progress");
            None
        }
    };
    let current = match stored.or_else(|| state.jobs.latest(&job_id)) {
        Some(current) => Some(current),
        None => state
            .projects
            .stored_job_progress(&job_id)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, job = %job_id, "could not read an indexing job's project");
                None
            }),
    };
    let Some(current) = current else {
        return close(socket, close_code::POLICY, "Job not found").await;
    };
    if send(&mut socket, &current).await.is_err() {
        return;
    }
    if current.is_final() {
        return close(socket, 1000, "").await;
    }
    let mut last = current;
    let interval = state.config.ping_interval();
    let mut heartbeats = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    // A job run by another server (or not yet taken up after a restart) publishes no
    // events here: its stored progress is polled instead.
    let mut polls = tokio::time::interval(STORED_POLL);
    polls.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let progress = tokio::select! {
            frame = follower.next() => {
                let Some(frame) = frame else {
                    return close(socket, close_code::TRY_AGAIN_LATER, "too slow").await;
                };
                match frame.msg {
                    ServerMsg::JobProgress(progress) => progress,
                    _ => continue,
                }
            }
            _ = polls.tick() => {
                if state.wiki.runs_here(&job_id) {
                    continue;
                }
                match state.wiki.progress(&job_id).await {
                    Ok(Some(progress)) if progress != last => progress,
                    _ => continue,
                }
            }
            _ = heartbeats.tick() => {
                if send(&mut socket, &Heartbeat { heartbeat: true }).await.is_err() {
                    return;
                }
                continue;
            }
            incoming = socket.recv() => {
                if matches!(incoming, None | Some(Err(_)) | Some(Ok(Message::Close(_)))) {
                    return;
                }
                continue;
            }
            _ = state.shutdown.cancelled() => {
                return close(socket, close_code::GOING_AWAY, "server shutting down").await;
            }
        };
        // Polled and published progress interleave; never show the job going backwards.
        if rank(&progress) < rank(&last) {
            continue;
        }
        if send(&mut socket, &progress).await.is_err() {
            return;
        }
        if progress.is_final() {
            return close(socket, 1000, "").await;
        }
        last = progress;
    }
}

/// How often the stored progress of a job running elsewhere is read.
const STORED_POLL: std::time::Duration = std::time::Duration::from_secs(1);

fn rank(progress: &JobProgress) -> (bool, u8, u32) {
    (
        progress.is_final(),
        progress.current_phase,
        progress.completed_pages + progress.failed_pages,
    )
}

async fn send(socket: &mut WebSocket, value: &impl Serialize) -> Result<(), ()> {
    let text = serde_json::to_string(value).map_err(|_| ())?;
    socket
        .send(Message::Text(text.into()))
        .await
        .map_err(|_| ())
}

async fn close(socket: WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    close_with(socket, frame).await;
}
