//! The HTTP surface: server-rendered pages, the sockets, and the REST endpoints.

pub mod auth;
mod chat_message;
mod conversations;
mod error;
mod health;
mod models;
mod openapi;

pub use error::{ApiError, ErrorBody};

use app::{App, shell};
use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use leptos_axum::{LeptosRoutes, generate_route_list};

use crate::realtime::ws_handler;
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    let pages = generate_route_list(App);
    let options = state.leptos_options.clone();
    let api = crate::compat::api_routes().merge(api_routes()).route_layer(
        middleware::from_fn_with_state(state.clone(), auth::require_api_key),
    );
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/api/openapi.json", get(openapi::document))
        .route("/ws", get(ws_handler))
        .merge(crate::compat::socket_routes())
        .merge(api)
        .leptos_routes(&state, pages, move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(auth::cors(&state.config))
        .with_state(state)
}

/// The REST API proper; every route sits behind the API-key check.
fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/models", get(models::list))
        .route("/api/chat/message", post(chat_message::send))
        .route(
            "/api/chat/conversations",
            get(conversations::list).post(conversations::create),
        )
        .route(
            "/api/chat/conversations/{id}",
            get(conversations::get)
                .put(conversations::update)
                .delete(conversations::delete),
        )
        .route(
            "/api/chat/conversations/{id}/messages",
            get(conversations::messages),
        )
        .route(
            "/api/chat/conversations/{id}/cleanup",
            post(conversations::cleanup),
        )
        .route("/api/chat/stats", get(conversations::stats))
}
