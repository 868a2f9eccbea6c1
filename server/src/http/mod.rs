//! The HTTP surface: server-rendered pages, the sockets, and the REST endpoints.

pub mod auth;
mod chat_message;
mod compat;
mod conversations;
mod error;
mod health;
mod models;
mod openapi;
mod projects;
mod wiki;
mod ws;

pub use error::{ApiError, ErrorBody};

use app::{App, shell};
use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use leptos_axum::{LeptosRoutes, generate_route_list};

use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    let pages = generate_route_list(App);
    let options = state.leptos_options.clone();
    let api = compat::api_routes()
        .merge(api_routes())
        .merge(projects::routes(state.config.max_upload_bytes))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_api_key,
        ));
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/api/openapi.json", get(openapi::document))
        .route("/ws", get(ws::ws_handler))
        .merge(compat::socket_routes())
        .merge(api)
        .leptos_routes_with_context(&state, pages, page_data(&state), move || {
            shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(auth::cors(&state.config))
        .with_state(state)
}

/// What server-rendered pages read from the server itself, so a conversation is readable
/// with JavaScript off.
fn page_data(state: &AppState) -> impl Fn() + Clone + Send + Sync + 'static {
    let store = state.store.clone();
    move || {
        let store = store.clone();
        leptos::prelude::provide_context(app::ServerData {
            messages: std::sync::Arc::new(move |id| {
                let store = store.clone();
                Box::pin(async move { store.messages(id).await.ok().filter(|m| !m.is_empty()) })
            }),
        });
    }
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
        .route("/api/wiki/jobs", get(wiki::list).post(wiki::create))
        .route("/api/wiki/jobs/{job_id}", get(wiki::get))
        .route("/api/wiki/jobs/{job_id}/cancel", post(wiki::cancel))
        .route("/api/wiki/jobs/{job_id}/pause", post(wiki::pause))
        .route("/api/wiki/jobs/{job_id}/resume", post(wiki::resume))
        .route(
            "/api/wiki/jobs/{job_id}/pages/{page_id}/retry",
            post(wiki::retry_page),
        )
        .route("/api/projects/{id}/wiki", get(wiki::wiki))
        .route("/api/projects/{id}/wiki/export", get(wiki::export))
}
