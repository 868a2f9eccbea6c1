//! The browser end of `/ws`: connects, reconnects with exponential backoff and jitter,
//! resumes every room from its last sequence number, and measures latency by ping.

use futures::channel::mpsc::{UnboundedReceiver, unbounded};
use futures::{FutureExt, SinkExt, StreamExt, select_biased};
use gloo_net::websocket::{Message, futures::WebSocket};
use gloo_timers::future::{IntervalStream, TimeoutFuture};
use leptos::prelude::*;

use super::{ChatClient, ConnectionStatus, now_ms};
use crate::protocol::{ClientMsg, ServerFrame, ServerMsg};

const PING_EVERY_MS: u32 = 10_000;
/// Two missed pongs mean the link is dead even if the browser has not noticed yet.
const SILENCE_LIMIT_MS: u64 = 2 * PING_EVERY_MS as u64 + 5_000;
const BACKOFF_BASE_MS: f64 = 500.0;
const BACKOFF_MAX_MS: f64 = 10_000.0;

pub(super) fn spawn(client: ChatClient) {
    let (tx, rx) = unbounded();
    client.outbox.set_value(Some(tx));
    leptos::task::spawn_local(run(client, rx));
}

/// How a connection ended.
enum Ended {
    /// It never got as far as the server's welcome.
    Early,
    Welcomed,
    /// The server refused the key or session (1008): retrying cannot help.
    Refused,
}

/// The close code servers use for a missing, invalid or revoked key.
const POLICY_VIOLATION: u16 = 1008;

async fn run(client: ChatClient, mut outbox: UnboundedReceiver<ClientMsg>) {
    let mut attempt = 0u32;
    loop {
        if !browser_online() {
            client.status.set(ConnectionStatus::Offline);
            TimeoutFuture::new(1_000).await;
            continue;
        }
        attempt += 1;
        client
            .status
            .set(ConnectionStatus::Reconnecting { attempt });
        if let Ok(ws) = WebSocket::open(&socket_url()) {
            match session(client, ws, &mut outbox).await {
                Ended::Refused => {
                    client.status.set(ConnectionStatus::SignInNeeded);
                    return;
                }
                Ended::Welcomed => {
                    attempt = 1;
                    client
                        .status
                        .set(ConnectionStatus::Reconnecting { attempt });
                }
                Ended::Early => {}
            }
        }
        TimeoutFuture::new(backoff_ms(attempt)).await;
    }
}

/// Runs one connection until it ends.
async fn session(
    client: ChatClient,
    ws: WebSocket,
    outbox: &mut UnboundedReceiver<ClientMsg>,
) -> Ended {
    let (mut write, mut read) = ws.split();
    let mut welcomed = false;
    let mut last_heard = now_ms();
    let mut pings = IntervalStream::new(PING_EVERY_MS).fuse();
    loop {
        // Until the welcome arrives, outgoing frames wait in the queue, in order.
        let next_out = async {
            if welcomed {
                outbox.next().await
            } else {
                futures::future::pending().await
            }
        };
        select_biased! {
            incoming = read.next().fuse() => {
                let message = match incoming {
                    Some(Ok(message)) => message,
                    Some(Err(gloo_net::websocket::WebSocketError::ConnectionClose(close)))
                        if close.code == POLICY_VIOLATION =>
                    {
                        return Ended::Refused;
                    }
                    _ => break,
                };
                last_heard = now_ms();
                let text = match message {
                    Message::Text(text) => text,
                    Message::Bytes(_) => continue,
                };
                let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) else { continue };
                if matches!(frame.msg, ServerMsg::Welcome { .. }) {
                    welcomed = true;
                    client.status.set(ConnectionStatus::Connected);
                    let mut resume = client.resume_frames();
                    resume.push(ClientMsg::Ping { t: now_ms() });
                    for msg in resume {
                        if send(&mut write, &msg).await.is_err() {
                            return Ended::Welcomed;
                        }
                    }
                }
                client.apply(frame);
            }
            out = next_out.fuse() => {
                let Some(msg) = out else { break };
                if send(&mut write, &msg).await.is_err() {
                    break;
                }
            }
            _ = pings.next() => {
                if now_ms().saturating_sub(last_heard) > SILENCE_LIMIT_MS {
                    break;
                }
                if welcomed && send(&mut write, &ClientMsg::Ping { t: now_ms() }).await.is_err() {
                    break;
                }
            }
        }
    }
    if welcomed {
        Ended::Welcomed
    } else {
        Ended::Early
    }
}

async fn send<S>(write: &mut S, msg: &ClientMsg) -> Result<(), ()>
where
    S: futures::Sink<Message> + Unpin,
{
    let text = serde_json::to_string(msg).map_err(|_| ())?;
    write.send(Message::Text(text)).await.map_err(|_| ())
}

/// Exponential backoff with jitter, so that a restarted server is not hit by every tab at once.
fn backoff_ms(attempt: u32) -> u32 {
    let ceiling =
        (BACKOFF_BASE_MS * 2f64.powi(attempt.saturating_sub(1).min(16) as i32)).min(BACKOFF_MAX_MS);
    (ceiling * (0.5 + js_sys::Math::random() * 0.5)) as u32
}

fn socket_url() -> String {
    let location = window().location();
    let scheme = match location.protocol().as_deref() {
        Ok("https:") => "wss",
        _ => "ws",
    };
    let host = location.host().unwrap_or_else(|_| "127.0.0.1:3000".into());
    // The session cookie (after signing in) travels with the upgrade request.
    format!("{scheme}://{host}/ws")
}

fn browser_online() -> bool {
    window().navigator().on_line()
}
