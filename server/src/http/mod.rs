//! The HTTP surface: server-rendered pages, the sockets, and the REST endpoints.

pub mod auth;
mod branches;
mod caching;
mod chat_message;
mod compat;
mod conversations;
mod error;
mod health;
mod metrics;
mod models;
mod openapi;
mod origins;
mod page_data;
mod projects;
pub mod rate_limits;
mod request_trace;
mod security_headers;
mod session;
mod wiki;
mod ws;

pub use error::{ApiError, ErrorBody};

use app::{App, shell};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{any, get, post};
use leptos_axum::{LeptosRoutes, generate_route_list};

use crate::state::AppState;

/// The largest request body an API route reads unless it says otherwise (413 beyond).
const MAX_JSON_BODY: usize = 1024 * 1024;

pub fn router(state: AppState) -> Router {
    let pages = generate_route_list(App);
    let options = state.leptos_options.clone();
    let api = compat::api_routes()
        .merge(api_routes())
        .merge(projects::routes(state.config.max_upload_bytes))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_api_key,
        ))
        // Signing in is what a request without a key does: outside the key check, inside
        // the limits.
        .route("/api/auth/session", post(session::sign_in))
        .route("/api/auth/signout", post(session::sign_out))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            rate_limits::limit_rest,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            origins::refuse_cross_site,
        ))
        .route("/api/{*rest}", any(error::no_such_endpoint))
        // JSON bodies are small; a route that takes more (uploads) sets its own limit.
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(middleware::from_fn(error::json_refusals));
    let api = caching::compress_api(api);
    let guarded = Router::new()
        .route("/api/openapi.json", get(openapi::document))
        .route("/ws", get(ws::ws_handler))
        .merge(compat::socket_routes())
        .merge(api)
        .leptos_routes_with_context(&state, pages, page_data::provide(&state), move || {
            shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        // Socket.IO answers its own path before routing, inside the Host and CORS checks.
        .layer(compat::socket_io_layer(&state))
        .layer(origins::cors(&state.config))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            origins::require_known_host,
        ));
    // Probes outside the Host check: load balancers call them by whatever name they use.
    let app = Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .merge(guarded);
    let app = security_headers::add_to(app)
        .layer(middleware::from_fn(caching::cache_policy))
        .layer(middleware::from_fn(metrics::record_http));
    request_trace::add_to(app).with_state(state)
}

/// The REST API proper; every route sits behind the API-key check.
fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(metrics::scrape))
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
            "/api/chat/conversations/{id}/messages/{message_id}/edit",
            post(branches::edit),
        )
        .route(
            "/api/chat/conversations/{id}/messages/{message_id}/show",
            post(branches::show),
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
