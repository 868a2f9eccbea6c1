//! Prometheus metrics: the names every part of the server records under, and the
//! recorder that renders them for `GET /metrics`. docs/grafana-dashboard.json is built
//! from these names; change both together.
//!
//! Counters and histograms are recorded where things happen (the `metrics` macros cost
//! an atomic add); gauges that describe state (rooms, connections, pool use, jobs) are
//! read from that state when scraped, so they cannot drift.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

// HTTP (labels: route, method, status).
pub const HTTP_REQUESTS: &str = "repowiki_http_requests_total";
pub const HTTP_DURATION: &str = "repowiki_http_request_duration_seconds";
// Real time (labels: endpoint).
pub const OPEN_SOCKETS: &str = "repowiki_open_sockets";
pub const ROOMS: &str = "repowiki_rooms";
pub const CONNECTIONS: &str = "repowiki_connections";
pub const EVENTS_PUBLISHED: &str = "repowiki_events_published_total";
/// Members closed because their queue was full (slow consumers).
pub const SLOW_CLOSED: &str = "repowiki_slow_consumers_closed_total";
/// Room events Redis did not take (several instances only).
pub const BUS_ERRORS: &str = "repowiki_bus_errors_total";
// Chat turns (labels: provider; failures also code).
pub const TURNS_STARTED: &str = "repowiki_turns_started_total";
pub const TURNS_COMPLETED: &str = "repowiki_turns_completed_total";
pub const TURNS_FAILED: &str = "repowiki_turns_failed_total";
pub const FIRST_TOKEN: &str = "repowiki_time_to_first_token_seconds";
pub const TOKENS_PER_SEC: &str = "repowiki_tokens_per_second";
// Providers (labels: provider; errors also code).
pub const PROVIDER_DURATION: &str = "repowiki_provider_request_duration_seconds";
pub const PROVIDER_ERRORS: &str = "repowiki_provider_errors_total";
// Retrieval.
pub const RETRIEVAL_DURATION: &str = "repowiki_retrieval_duration_seconds";
// Jobs (labels: kind = indexing | wiki, status).
pub const JOBS_FINISHED: &str = "repowiki_jobs_finished_total";
pub const JOB_DURATION: &str = "repowiki_job_duration_seconds";
pub const JOBS_RUNNING: &str = "repowiki_jobs_running";
// Database (labels: state = idle | used).
pub const DB_POOL: &str = "repowiki_db_pool_connections";

/// Seconds: from a fast request to a long answer or job.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];
const RATE_BUCKETS: &[f64] = &[1.0, 5.0, 10.0, 20.0, 30.0, 50.0, 75.0, 100.0, 200.0, 500.0];

/// The process-wide recorder, installed on first use. Several servers in one process
/// (tests) share it, as they share the process.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets(LATENCY_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(TOKENS_PER_SEC.into()), RATE_BUCKETS)
            });
        let recorder = match builder {
            Ok(builder) => builder.build_recorder(),
            Err(e) => {
                tracing::warn!(error = %e, "metrics buckets refused; using summaries");
                PrometheusBuilder::new().build_recorder()
            }
        };
        let handle = recorder.handle();
        if let Err(e) = metrics::set_global_recorder(recorder) {
            tracing::warn!(error = %e, "another metrics recorder is installed");
        }
        handle
    })
}

/// Keeps histogram memory bounded between scrapes.
pub async fn upkeep(shutdown: tokio_util::sync::CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        tokio::select! {
            _ = tick.tick() => handle().run_upkeep(),
            _ = shutdown.cancelled() => return,
        }
    }
}

/// A gauge counted up while this is alive, and down when it drops, however the work ends
/// (an error, a closed socket, shutdown).
pub struct Held(metrics::Gauge);

impl Held {
    fn new(gauge: metrics::Gauge) -> Self {
        gauge.increment(1);
        Self(gauge)
    }

    /// A running job of `kind` (`indexing`, `wiki`).
    pub fn job(kind: &'static str) -> Self {
        Self::new(metrics::gauge!(JOBS_RUNNING, "kind" => kind))
    }

    /// An open socket on `endpoint` (its route pattern).
    pub fn socket(endpoint: String) -> Self {
        Self::new(metrics::gauge!(OPEN_SOCKETS, "endpoint" => endpoint))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.decrement(1);
    }
}
