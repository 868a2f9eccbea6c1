//! Per-client limits on the REST API, per API key (or per IP address when auth is off):
//! one budget for every request, and a much smaller one for requests that start model
//! calls or heavy work (a synchronous turn, an SSE question, a wiki job, a project or a
//! re-index), so that one client cannot spend unlimited tokens. Over budget: 429 with
//! `Retry-After`.

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::auth::RequestClient;
use super::error::ApiError;
use crate::config::Config;
use crate::state::AppState;

/// Clients remembered before idle ones are forgotten (their budget is full again anyway).
const FORGET_ABOVE: usize = 10_000;

pub struct RestLimits {
    requests: DefaultKeyedRateLimiter<String>,
    model_calls: DefaultKeyedRateLimiter<String>,
    requests_per_sec: u32,
    model_calls_per_min: u32,
}

impl RestLimits {
    pub fn new(config: &Config) -> Arc<Self> {
        let per_sec =
            NonZeroU32::new(config.rest_requests_per_sec.max(1)).unwrap_or(NonZeroU32::MIN);
        let per_min = NonZeroU32::new(config.model_calls_per_min.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = |n: NonZeroU32| n.saturating_mul(NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN));
        Arc::new(Self {
            requests: RateLimiter::keyed(Quota::per_second(per_sec).allow_burst(burst(per_sec))),
            // A minute's worth at once: a user may start several things in a row.
            model_calls: RateLimiter::keyed(Quota::per_minute(per_min).allow_burst(per_min)),
            requests_per_sec: per_sec.get(),
            model_calls_per_min: per_min.get(),
        })
    }

    fn check(&self, client: &str, starts_model_call: bool) -> Result<(), ApiError> {
        self.forget_idle();
        let key = client.to_owned();
        if let Err(not_until) = self.requests.check_key(&key) {
            return Err(too_many(
                format!(
                    "more than {} API requests a second (REPOWIKI_REST_REQUESTS_PER_SEC)",
                    self.requests_per_sec
                ),
                not_until.wait_time_from(self.requests.clock().now()),
            ));
        }
        if starts_model_call && let Err(not_until) = self.model_calls.check_key(&key) {
            return Err(too_many(
                format!(
                    "more than {} requests that start an answer, a wiki or an index a minute \
                     (REPOWIKI_MODEL_CALLS_PER_MIN)",
                    self.model_calls_per_min
                ),
                not_until.wait_time_from(self.model_calls.clock().now()),
            ));
        }
        Ok(())
    }

    fn forget_idle(&self) {
        if self.requests.len() > FORGET_ABOVE {
            self.requests.retain_recent();
        }
        if self.model_calls.len() > FORGET_ABOVE {
            self.model_calls.retain_recent();
        }
    }
}

fn too_many(message: String, wait: std::time::Duration) -> ApiError {
    ApiError::TooMany {
        message,
        retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
    }
}

/// Requests that make the server call a model or do heavy work for the client.
fn starts_model_call(method: &Method, path: &str, query: Option<&str>) -> bool {
    match *method {
        Method::POST => {
            path == "/api/chat/message"
                || path == "/api/wiki/jobs"
                || path == "/api/projects"
                || (path.starts_with("/api/projects/") && path.ends_with("/reindex"))
                || (path.starts_with("/api/wiki/jobs/") && path.ends_with("/retry"))
        }
        Method::GET => {
            path.starts_with("/api/chat/stream/")
                && query.is_some_and(|q| {
                    form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "message")
                })
        }
        _ => false,
    }
}

/// The middleware in front of `/api/*`.
pub async fn limit_rest(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    // An unauthenticated request is refused by the key check after this; it still spends
    // its address's budget, so guessing keys is throttled too.
    let RequestClient(client) = RequestClient::of(&state.config, &parts);
    let heavy = starts_model_call(&parts.method, parts.uri.path(), parts.uri.query());
    match state.rest_limits.check(&client, heavy) {
        Ok(()) => next.run(Request::from_parts(parts, body)).await,
        Err(refusal) => refusal.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_sec: u32, per_min: u32) -> Arc<RestLimits> {
        let mut config = Config::for_data_dir("/tmp/unused");
        config.rest_requests_per_sec = per_sec;
        config.model_calls_per_min = per_min;
        RestLimits::new(&config)
    }

    #[test]
    fn each_client_has_its_own_budget() {
        let l = limits(5, 100);
        for _ in 0..10 {
            assert!(l.check("ip:1", false).is_ok());
        }
        let Err(ApiError::TooMany {
            retry_after_secs, ..
        }) = l.check("ip:1", false)
        else {
            panic!("the eleventh request in a burst passed");
        };
        assert!(retry_after_secs >= 1);
        assert!(l.check("ip:2", false).is_ok());
    }

    #[test]
    fn model_calls_have_a_smaller_budget() {
        let l = limits(1000, 3);
        for _ in 0..3 {
            assert!(l.check("key:a", true).is_ok());
        }
        assert!(matches!(
            l.check("key:a", true),
            Err(ApiError::TooMany { .. })
        ));
        assert!(l.check("key:a", false).is_ok(), "plain reads still pass");
    }

    #[test]
    fn what_counts_as_a_model_call() {
        let post = Method::POST;
        assert!(starts_model_call(&post, "/api/chat/message", None));
        assert!(starts_model_call(&post, "/api/projects/p1/reindex", None));
        assert!(starts_model_call(&post, "/api/wiki/jobs", None));
        assert!(starts_model_call(
            &Method::GET,
            "/api/chat/stream/c",
            Some("message=hi")
        ));
        assert!(!starts_model_call(
            &Method::GET,
            "/api/chat/stream/c",
            Some("since_seq=1")
        ));
        assert!(!starts_model_call(&Method::GET, "/api/projects", None));
        assert!(!starts_model_call(&post, "/api/chat/conversations", None));
    }
}
