//! Admission shared by every socket endpoint: the checks made before a socket speaks,
//! and the tracked task that serves it once admitted.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tracing::Instrument;

use crate::http::auth::{authenticate, client_id};
use crate::http::origins::origin_allowed;
use crate::realtime::{ConnectionSlot, close_code};
use crate::state::AppState;

/// Everything a socket endpoint checks before it speaks: origin (refused before the
/// upgrade, 403), API key and per-client connection count (after the upgrade, as close
/// frames a browser can read: 1008 with the seed systems' reasons, or 1013).
enum Admission {
    Admitted(ConnectionSlot),
    Refused(u16, String),
}

async fn admit(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    addr: SocketAddr,
) -> Result<Admission, (StatusCode, &'static str)> {
    if !origin_allowed(&state.config, headers) {
        return Err((StatusCode::FORBIDDEN, "origin not allowed"));
    }
    let client = match authenticate(&state.config, headers, uri.query()) {
        Ok(key) => client_id(&key, addr),
        Err(e) => return Ok(Admission::Refused(close_code::POLICY, e.to_string())),
    };
    Ok(match state.connections.acquire(client).await {
        Some(slot) => Admission::Admitted(slot),
        None => Admission::Refused(
            close_code::TRY_AGAIN_LATER,
            "too many connections".to_owned(),
        ),
    })
}

/// The transport's own ceiling is looser than ours so that an oversized frame reaches
/// our check and gets a proper 1009 close instead of a dropped connection.
fn with_frame_limit(ws: WebSocketUpgrade, state: &AppState) -> WebSocketUpgrade {
    let ceiling = state.config.max_frame_bytes.saturating_mul(4);
    ws.max_message_size(ceiling)
        .max_frame_size(ceiling)
        // The transport's default is a 128 KiB read buffer per socket, allocated and
        // zeroed up front: most of an idle connection's memory. Client frames are a few
        // hundred bytes; the buffer grows when one is larger (then stays that size).
        .read_buffer_size(1024)
        // Every frame is flushed as it is sent anyway; no write buffer to fill first.
        .write_buffer_size(0)
}

/// Sends a close frame right after the upgrade: how a browser learns why it was refused.
async fn refuse(socket: WebSocket, code: u16, reason: String) {
    close_with(
        socket,
        CloseFrame {
            code,
            reason: reason.into(),
        },
    )
    .await;
}

/// How long a closing socket keeps reading for the client's answer to its close frame.
const CLOSING_READS: Duration = Duration::from_secs(1);

/// Reads and drops what the client still sends until it answers the close frame (or
/// [`CLOSING_READS`] passes). A socket closed with the client's frames still unread is
/// reset by the kernel, and the client may then never see the close frame that says why.
pub async fn read_until_closed<S>(stream: &mut S)
where
    S: futures::Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let _ = tokio::time::timeout(CLOSING_READS, async {
        while let Some(Ok(_)) = stream.next().await {}
    })
    .await;
}

/// Sends the close frame, then reads on until the client answers it.
pub async fn close_with(mut socket: WebSocket, frame: CloseFrame) {
    let sent = tokio::time::timeout(CLOSING_READS, socket.send(Message::Close(Some(frame))));
    if matches!(sent.await, Ok(Ok(()))) {
        read_until_closed(&mut socket).await;
    }
}

/// What every socket endpoint needs from the request, extracted in one go.
pub struct Upgrade {
    ws: WebSocketUpgrade,
    /// The route pattern (`/ws/chat/{conversation_id}`), for the open-sockets gauge.
    endpoint: String,
    addr: SocketAddr,
    headers: HeaderMap,
    uri: Uri,
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ws = WebSocketUpgrade::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let ConnectInfo(addr) = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let endpoint = parts
            .extensions
            .get::<MatchedPath>()
            .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
        Ok(Self {
            ws,
            endpoint,
            addr,
            headers: parts.headers.clone(),
            uri: parts.uri.clone(),
        })
    }
}

/// Admits the request, upgrades it, and runs `serve` on the socket (tracked, so that
/// shutdown waits for it); a refused one gets its close frame instead.
pub async fn accept<F, Fut>(upgrade: Upgrade, state: AppState, serve: F) -> Response
where
    F: FnOnce(WebSocket, AppState, ConnectionSlot) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let admission = match admit(&state, &upgrade.headers, &upgrade.uri, upgrade.addr).await {
        Ok(admission) => admission,
        Err(refusal) => return refusal.into_response(),
    };
    // The request's span ends with the upgrade; the socket gets its own for its life.
    let span = tracing::info_span!(
        "socket",
        path = %upgrade.uri.path(),
        request_id = upgrade
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
    );
    let endpoint = upgrade.endpoint;
    with_frame_limit(upgrade.ws, &state).on_upgrade(move |socket| {
        let tracker = state.tasks.clone();
        tracker.track_future(
            async move {
                match admission {
                    Admission::Admitted(slot) => {
                        let _open = crate::telemetry::Held::socket(endpoint);
                        serve(socket, state, slot).await;
                    }
                    Admission::Refused(code, reason) => refuse(socket, code, reason).await,
                }
            }
            .instrument(span),
        )
    })
}

/// Whether a read failed because the frame was over the transport's size ceiling.
pub fn exceeds_transport_ceiling(error: &axum::Error) -> bool {
    std::error::Error::source(error)
        .and_then(|source| source.downcast_ref::<tungstenite::Error>())
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)))
}
