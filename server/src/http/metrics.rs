//! `GET /metrics` (Prometheus text format) and the per-route HTTP figures behind it.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;
use crate::telemetry;

/// The scrape: gauges are read from the live state first, so they are exact.
pub async fn scrape(State(state): State<AppState>) -> impl IntoResponse {
    metrics::gauge!(telemetry::ROOMS).set(state.hub.room_sizes().len() as f64);
    metrics::gauge!(telemetry::CONNECTIONS).set(state.connections.total() as f64);
    let (size, idle) = state.store.pool_use();
    metrics::gauge!(telemetry::DB_POOL, "state" => "idle").set(idle as f64);
    metrics::gauge!(telemetry::DB_POOL, "state" => "used")
        .set(f64::from(size).max(idle as f64) - idle as f64);
    let handle = telemetry::handle();
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
}

/// Counts and times every request by its route pattern (`/api/projects/{id}`, never the
/// id itself, so the label set stays small); static files and unknown paths are `other`.
pub async fn record_http(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "other".to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(telemetry::HTTP_REQUESTS, "route" => route.clone(), "method" => method.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(telemetry::HTTP_DURATION, "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    response
}
