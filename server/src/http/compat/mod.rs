//! The endpoints of the systems RepoWiki replaces, wire-compatible with their clients
//! (shared/seeds/). Each translates between its seed's format and the same engine,
//! rooms and events the application socket uses; none has logic of its own.

pub(crate) mod broadcast;
mod conversation_socket;
mod job_progress;
mod socket_io;
pub(crate) mod sse;
mod ws_chat;

pub use socket_io::layer as socket_io_layer;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

/// Socket routes: each authenticates itself, since a browser cannot send headers.
pub fn socket_routes() -> Router<AppState> {
    Router::new()
        .route("/ws/chat", get(ws_chat::handler))
        .route(
            "/ws/chat/{conversation_id}",
            get(conversation_socket::handler),
        )
        .route(
            "/api/wiki/jobs/{job_id}/progress",
            get(job_progress::handler),
        )
}

/// REST routes, behind the API-key middleware.
pub fn api_routes() -> Router<AppState> {
    use axum::extract::DefaultBodyLimit;
    Router::new()
        .route("/api/chat/stream/{conversation_id}", get(sse::handler))
        .route(
            "/api/v1/websocket/status",
            post(broadcast::publish_status)
                .layer(DefaultBodyLimit::max(broadcast::MAX_STATUS_BODY)),
        )
        .route("/api/v1/websocket/connections", get(broadcast::connections))
}
