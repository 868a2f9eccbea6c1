//! The HTTP surface: server-rendered pages, the sockets, and the REST endpoints.

mod health;

use app::{App, shell};
use axum::Router;
use axum::routing::get;
use leptos_axum::{LeptosRoutes, generate_route_list};

use crate::realtime::ws_handler;
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    let pages = generate_route_list(App);
    let options = state.leptos_options.clone();
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/ws", get(ws_handler))
        .leptos_routes(&state, pages, move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .with_state(state)
}
