//! Socket.IO at `/socket.io/` (protocol v5, websocket and HTTP long-polling), for the
//! `socket.io-client` code of seeds 004 and 001, served by socketioxide as a layer of the
//! same axum router. Admission is the same as every other socket's (origin, key, per-client
//! connection count); each connection is then a [`session`] on the shared hub and chat
//! engine, so there is no second implementation of chat.

mod chat_ids;
mod events;
mod session;
mod translate;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::ConnectInfo;
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use self::session::{Admitted, Inbound};
use crate::http::auth::{authenticate, check_key, client_id};
use crate::http::origins::origin_allowed;
use crate::state::AppState;

/// Where Socket.IO clients connect (their default path).
pub const PATH: &str = "/socket.io";

/// Events a client may have sent and the server not handled yet; beyond, it is flooding.
const INBOUND_QUEUE: usize = 256;

/// The Socket.IO server, as a layer of the application router.
pub fn layer(state: &AppState) -> SocketIoLayer {
    let config = &state.config;
    // Like the WebSocket endpoints: the transport's ceiling is looser than the frame
    // limit, so an oversized event reaches the session and gets an `error` first.
    let ceiling = config.max_frame_bytes.saturating_mul(4);
    let (layer, io) = SocketIo::builder()
        .req_path(PATH)
        .ping_interval(config.ping_interval())
        .ping_timeout(config.ping_interval())
        .max_buffer_size(config.outgoing_queue)
        .max_payload(u64::try_from(ceiling).unwrap_or(u64::MAX))
        .ws_max_message_size(ceiling)
        .ws_max_frame_size(ceiling)
        .build_layer();
    let admit_state = state.clone();
    let run_state = state.clone();
    let connected = move |socket: SocketRef| {
        let state = run_state.clone();
        async move { serve(socket, state).await }
    };
    let admit = move |socket: SocketRef, TryData(auth): TryData<Value>| {
        let state = admit_state.clone();
        async move { admit(&socket, &state, auth.ok()).await }
    };
    io.ns("/", connected.with(admit));
    layer
}

/// Why a connection was refused: what `socket.io-client` reports in `connect_error`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refusal(String);

/// Hands the admitted connection from the connect middleware to its handler.
#[derive(Clone)]
struct Handoff(Arc<Mutex<Option<Admitted>>>);

/// Checks the connection before Socket.IO accepts it, and starts listening for its
/// events: registered here, before the client is told it is connected, so that no event
/// it sends right away can be missed.
async fn admit(socket: &SocketRef, state: &AppState, auth: Option<Value>) -> Result<(), Refusal> {
    let parts = socket.req_parts();
    if !origin_allowed(&state.config, &parts.headers) {
        return Err(Refusal("origin not allowed".into()));
    }
    // Seed 004's clients send `auth: {token}`; others may use the query or a header.
    let token = auth
        .as_ref()
        .and_then(|auth| auth.get("token"))
        .and_then(Value::as_str);
    let key = match token {
        Some(token) => check_key(&state.config, Some(token.to_owned())),
        None => authenticate(&state.config, &parts.headers, parts.uri.query()),
    }
    .map_err(|e| Refusal(e.to_string()))?;
    let addr = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)), |info| info.0);
    let slot = state
        .connections
        .acquire(client_id(&key, addr))
        .await
        .ok_or_else(|| Refusal("too many connections".into()))?;

    let (inbound, events) = mpsc::channel(INBOUND_QUEUE);
    for &event in events::NAMES {
        listen(socket, event, inbound.clone());
    }
    let gone = CancellationToken::new();
    socket.on_disconnect({
        let gone = gone.clone();
        move || {
            gone.cancel();
            std::future::ready(())
        }
    });
    socket
        .extensions
        .insert(Handoff(Arc::new(Mutex::new(Some(Admitted {
            events,
            slot,
            gone,
        })))));
    Ok(())
}

/// Queues each `event` the client sends for its session, in arrival order: the handler
/// body runs synchronously as the packet is read, and only its (empty) future is spawned.
fn listen(socket: &SocketRef, event: &'static str, inbound: mpsc::Sender<Inbound>) {
    socket.on(
        event,
        move |socket: SocketRef, TryData(payload): TryData<Value>| {
            let payload = payload.ok().filter(|payload| !payload.is_null());
            if let Err(mpsc::error::TrySendError::Full(_)) =
                inbound.try_send(Inbound { event, payload })
            {
                tracing::debug!("a Socket.IO client sent events faster than they are handled");
                let _ = socket.disconnect();
            }
            std::future::ready(())
        },
    );
}

/// Runs an admitted connection's session, tracked so that shutdown waits for it.
async fn serve(socket: SocketRef, state: AppState) {
    let admitted = socket
        .extensions
        .remove::<Handoff>()
        .and_then(|handoff| handoff.0.lock().ok()?.take());
    let Some(admitted) = admitted else {
        let _ = socket.disconnect();
        return;
    };
    let span =
        tracing::info_span!("socket", path = "/socket.io/", transport = ?socket.transport_type());
    let tasks = state.tasks.clone();
    tasks
        .track_future(
            async move {
                let _open = crate::telemetry::Held::socket(format!("{PATH}/"));
                session::run(socket, state, admitted).await;
            }
            .instrument(span),
        )
        .await;
}
