//! One span per request, named by a request id: the client's `x-request-id` when it sent
//! one, else a fresh UUID, echoed back in the response so a user's report finds the log
//! lines. Only the path is recorded: a query string may hold `?api_key=`.

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, Response};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-sent request id kept; a longer one is replaced by a fresh id.
const MAX_ID_LEN: usize = 128;

pub fn add_to<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request| {
            let id = request
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            tracing::info_span!(
                "request",
                method = %request.method(),
                path = %request.uri().path(),
                request_id = %id,
                status = tracing::field::Empty,
            )
        })
        .on_request(())
        .on_response(|response: &Response<_>, latency: Duration, span: &Span| {
            span.record("status", response.status().as_u16());
            tracing::debug!(latency_ms = latency.as_secs_f64() * 1000.0, "response");
        });
    router
        .layer(trace)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(axum::middleware::from_fn(drop_unusable_ids))
}

/// A client id that is too long or not printable would make log lines anyone's to write;
/// it is dropped, and a fresh one made.
async fn drop_unusable_ids(
    mut request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let unusable = request.headers().get(&REQUEST_ID).is_some_and(|v| {
        v.len() > MAX_ID_LEN
            || !v
                .as_bytes()
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
    });
    if unusable {
        request.headers_mut().remove(&REQUEST_ID);
    }
    next.run(request).await
}
