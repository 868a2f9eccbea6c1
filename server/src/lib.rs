#![recursion_limit = "256"]
//! The RepoWiki server as a library, so integration tests and benchmarks start exactly
//! what the binary starts, on a port of their choosing.

pub mod chat;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod fault;
pub mod fd_limit;
pub mod http;
pub mod jobs;
pub mod projects;
pub mod providers;
pub mod rag;
pub mod realtime;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod wiki;

use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use leptos::config::LeptosOptions;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::chat::{ChatDeps, ChatLimits, ChatService};
use crate::config::Config;
use crate::providers::Providers;
use crate::rag::{Rag, RagError};
use crate::realtime::{ConnectionLimiter, Hub};
use crate::state::AppState;
use crate::storage::{StorageError, Store};
use crate::wiki::{WikiDeps, WikiService, WikiSettings};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("opening the search index: {0}")]
    Index(#[from] RagError),
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
}

/// Connects storage and builds every service, with the providers the environment
/// configures. `shutdown` stops them all when cancelled.
pub async fn build_state(
    config: Config,
    leptos_options: LeptosOptions,
    shutdown: CancellationToken,
) -> Result<AppState, StartupError> {
    let providers = Providers::from_env(
        |name| std::env::var(name).ok(),
        config.offline_tokens_per_sec,
    );
    build_state_with_providers(config, leptos_options, shutdown, providers).await
}

/// [`build_state`] with the providers given, so tests can point them at scripted servers
/// without touching the process environment.
pub async fn build_state_with_providers(
    config: Config,
    leptos_options: LeptosOptions,
    shutdown: CancellationToken,
    providers: Providers,
) -> Result<AppState, StartupError> {
    // Installed before anything records, so no early figure is lost.
    telemetry::handle();
    tokio::spawn(telemetry::upkeep(shutdown.clone()));
    let store = Store::connect(&config.database_url()).await?;
    let rag = Arc::new(Rag::open(
        &config.data_dir.join("index"),
        store.clone(),
        providers.embedder(None),
    )?);
    let hub =
        Arc::new(Hub::new(config.replay_buffer).with_replay_bytes(config.replay_buffer_bytes));
    let cluster = match &config.redis_url {
        Some(url) => Some(join_cluster(url, &config, &hub, &shutdown).await?),
        None => None,
    };
    let jobs = Arc::new(crate::jobs::JobBoard::default());
    let projects = crate::projects::ProjectService::new(
        store.clone(),
        Arc::clone(&rag),
        Arc::clone(&hub),
        Arc::clone(&jobs),
        &config,
        shutdown.clone(),
    );
    let chat = ChatService::new(
        ChatDeps {
            store: store.clone(),
            hub: Arc::clone(&hub),
            providers: providers.clone(),
            rag: Arc::clone(&rag),
            projects: Arc::clone(&projects),
            shutdown: shutdown.clone(),
            cluster: cluster.clone(),
            instance: match &cluster {
                Some(cluster) => cluster.instance().to_string(),
                None => instance_name(&config.data_dir),
            },
        },
        ChatLimits {
            max_message_chars: config.max_message_chars,
            research_iterations: config.research_iterations,
            max_answers: config.max_answers,
            max_answers_per_client: config.max_answers_per_client,
            max_waiting_answers: config.max_waiting_answers,
        },
    );
    // Before serving: an answer cut short by this instance's last crash is in the
    // conversation, as interrupted, by the time anyone can look.
    chat.recover_and_log().await;
    let wiki = WikiService::new(
        WikiDeps {
            store: store.clone(),
            hub: Arc::clone(&hub),
            board: Arc::clone(&jobs),
            providers: providers.clone(),
            rag: Arc::clone(&rag),
            inputs: Arc::clone(&projects) as Arc<dyn crate::wiki::WikiInputs>,
            shutdown: shutdown.clone(),
        },
        WikiSettings::from_config(&config),
    );
    let connections = ConnectionLimiter::new(config.max_connections_per_client);
    if let Some(cluster) = &cluster {
        share_counts(cluster, &connections, &hub, &shutdown).await;
    }
    Ok(AppState {
        leptos_options,
        config: Arc::new(config.clone()),
        store,
        hub,
        cluster,
        connections,
        rest_limits: crate::http::rate_limits::RestLimits::new(&config),
        chat,
        providers: Arc::new(providers),
        rag,
        jobs,
        wiki,
        projects,
        shutdown,
        tasks: TaskTracker::new(),
    })
}

/// Connects to the other instances through Redis; rooms are shared from then on.
async fn join_cluster(
    url: &str,
    config: &Config,
    hub: &Arc<Hub>,
    shutdown: &CancellationToken,
) -> Result<Arc<crate::cluster::Cluster>, StartupError> {
    let hub_for_events: std::sync::Weak<Hub> = Arc::downgrade(hub);
    let sink: std::sync::Weak<dyn crate::cluster::RoomSink> = hub_for_events;
    let settings = crate::cluster::ClusterSettings {
        room_log_len: config.replay_buffer,
        lease: Duration::from_millis(config.lease_ms.max(300)),
    };
    let cluster = crate::cluster::Cluster::connect(url, settings, sink, shutdown.clone()).await?;
    hub.attach(Arc::clone(&cluster));
    Ok(cluster)
}

/// Counts sockets across instances, and reports this instance's sockets and room
/// members to the others, from before its first socket on.
async fn share_counts(
    cluster: &Arc<crate::cluster::Cluster>,
    connections: &Arc<ConnectionLimiter>,
    hub: &Arc<Hub>,
    shutdown: &CancellationToken,
) {
    connections.attach(Arc::clone(cluster));
    let (limiter, hub) = (Arc::clone(connections), Arc::clone(hub));
    let counts = move || crate::cluster::Counts {
        sockets: limiter.total(),
        rooms: hub
            .room_sizes()
            .into_iter()
            .filter(|(_, members)| *members > 0)
            .collect(),
    };
    cluster.report_counts(counts, shutdown.clone()).await;
}

/// Re-runs indexing left unfinished, and with several instances (`every`: the lease)
/// keeps taking over indexing whose instance died.
async fn resume_projects(
    projects: Arc<crate::projects::ProjectService>,
    every: Option<Duration>,
    shutdown: CancellationToken,
) {
    if let Err(e) = projects.resume().await {
        tracing::error!(error = %e, "could not resume project indexing");
    }
    let Some(every) = every else { return };
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        if let Err(e) = projects.take_over_orphans().await {
            tracing::warn!(error = %e, "could not look for indexing left by another instance");
        }
    }
}

/// The name of a lone instance, the same across its restarts: kept in its data folder.
fn instance_name(data_dir: &std::path::Path) -> String {
    let path = data_dir.join("instance");
    if let Ok(name) = std::fs::read_to_string(&path)
        && !name.trim().is_empty()
    {
        return name.trim().to_owned();
    }
    let name = uuid::Uuid::new_v4().to_string();
    if let Err(e) = std::fs::create_dir_all(data_dir).and_then(|()| std::fs::write(&path, &name)) {
        tracing::warn!(error = %e, path = %path.display(), "could not keep this instance's name; answers interrupted by a crash will not be recovered after a restart");
    }
    name
}

/// Serves until `state.shutdown` is cancelled, then shuts down gracefully: sockets get a
/// 1001 close frame, running answers are stored as stopped, the database is closed.
pub async fn serve(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    let shutdown = state.shutdown.clone();
    let tasks = state.tasks.clone();
    let store = state.store.clone();
    let chat = Arc::clone(&state.chat);
    let wiki = Arc::clone(&state.wiki);
    // Resumes every wiki job that was running when the server last stopped.
    wiki.start();
    // Re-runs indexing left unfinished, and rebuilds projects the index lost.
    let projects = Arc::clone(&state.projects);
    let lease = state.cluster.as_ref().map(|cluster| cluster.lease());
    tokio::spawn(resume_projects(projects, lease, shutdown.clone()));
    let app = http::router(state);
    // Streamed tokens are small frames: without TCP_NODELAY, Nagle's algorithm holds
    // them back waiting for ACKs and adds tens of milliseconds to the tail latency.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await?;
    tasks.close();
    if tokio::time::timeout(Duration::from_secs(5), tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("some sockets did not close within 5 s");
    }
    // Stopped answers store their partial text; give them a moment to do so.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while chat.running_turns() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Wiki jobs stop where they are and stay resumable; their claims are released so
    // the next start (or another server) takes them up at once.
    if tokio::time::timeout(Duration::from_secs(5), wiki.stopped())
        .await
        .is_err()
    {
        tracing::warn!("some wiki jobs did not stop within 5 s");
    }
    store.close().await;
    Ok(())
}
