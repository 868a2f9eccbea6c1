//! What every handler can reach: configuration and the long-lived services.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::chat::ChatService;
use crate::config::Config;
use crate::jobs::JobBoard;
use crate::projects::ProjectService;
use crate::providers::Providers;
use crate::rag::Rag;
use crate::realtime::{ConnectionLimiter, Hub};
use crate::storage::Store;
use crate::wiki::WikiService;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub store: Store,
    pub hub: Arc<Hub>,
    /// The other instances, when `REDIS_URL` is set.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
    /// Open sockets per client (API key or IP), across every socket endpoint.
    pub connections: Arc<ConnectionLimiter>,
    /// REST request budgets per client.
    pub rest_limits: Arc<crate::http::rate_limits::RestLimits>,
    pub chat: Arc<ChatService>,
    /// Every provider, for the model picker (`GET /api/models`). Shared, not copied:
    /// every socket holds a clone of the state, and a copy of the catalog (each model's
    /// name) was a fifth of an idle socket's memory.
    pub providers: Arc<Providers>,
    /// Retrieval: the chunk index every project writes to and every answer reads from.
    pub rag: Arc<Rag>,
    /// The latest progress of each job.
    pub jobs: Arc<JobBoard>,
    /// Wiki generation: persisted jobs and the worker pool that runs them.
    pub wiki: Arc<WikiService>,
    /// Projects: sources, documents and their indexing jobs.
    pub projects: Arc<ProjectService>,
    /// Cancelled when the server begins to shut down.
    pub shutdown: CancellationToken,
    /// Socket tasks, so shutdown can wait for their close frames to go out.
    pub tasks: TaskTracker,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
