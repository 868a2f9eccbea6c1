//! Server configuration: command-line flags with environment-variable fallbacks, so the
//! same binary runs with no configuration at all on a laptop and from env in a container.
//! A `.env` file in the working directory is read first when present (see `main`).
//!
//! Leptos' own settings (`LEPTOS_SITE_ADDR`, `LEPTOS_SITE_ROOT`, …) are read by
//! `leptos::config::get_configuration`, as cargo-leptos expects.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "repowiki",
    about = "Chat with a repository and watch its wiki being written."
)]
pub struct Config {
    /// Folder for the SQLite database and indexes; created on first start.
    #[arg(long, env = "REPOWIKI_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Database URL (`sqlite://…` or `postgres://…`); default: SQLite in the data folder.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// Redis for running several instances as one (`redis://…`): rooms, the one-answer
    /// lock and stop requests are shared through it. Unset: one process, nothing shared.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// How long a running answer's cluster-wide lock outlives its instance, in
    /// milliseconds: an instance that dies frees its conversations after this.
    #[arg(long, env = "REPOWIKI_LEASE_MS", default_value_t = 5_000)]
    pub lease_ms: u64,

    /// Pace of the built-in offline provider, so a streamed answer looks and tests like one.
    #[arg(long, env = "REPOWIKI_OFFLINE_TOKENS_PER_SEC", default_value_t = 30.0)]
    pub offline_tokens_per_sec: f64,

    /// Iterations of a Deep Research answer (the offline provider does fewer).
    #[arg(long, env = "REPOWIKI_RESEARCH_ITERATIONS", default_value_t = 5)]
    pub research_iterations: u32,

    /// Largest WebSocket frame accepted from a client; larger ones close the socket (1009).
    #[arg(long, env = "REPOWIKI_MAX_FRAME_BYTES", default_value_t = 64 * 1024)]
    pub max_frame_bytes: usize,

    /// Longest question accepted, in characters.
    #[arg(long, env = "REPOWIKI_MAX_MESSAGE_CHARS", default_value_t = 32 * 1024)]
    pub max_message_chars: usize,

    /// Frames queued for one connection before it counts as a slow consumer and is closed.
    #[arg(long, env = "REPOWIKI_OUTGOING_QUEUE", default_value_t = 1024)]
    pub outgoing_queue: usize,

    /// Events each room keeps for clients that resume with `since_seq`.
    #[arg(long, env = "REPOWIKI_REPLAY_BUFFER", default_value_t = 2048)]
    pub replay_buffer: usize,

    /// Bytes of events each room keeps for resuming clients, whatever their count.
    #[arg(long, env = "REPOWIKI_REPLAY_BUFFER_BYTES", default_value_t = crate::realtime::DEFAULT_REPLAY_BYTES)]
    pub replay_buffer_bytes: usize,

    /// Seconds between server pings; a socket silent for two intervals is closed.
    #[arg(long, env = "REPOWIKI_PING_INTERVAL_SECS", default_value_t = 30)]
    pub ping_interval_secs: u64,

    /// Require an API key on sockets and the REST API. Off by default for local use.
    #[arg(long, env = "REPOWIKI_AUTH_ENABLED", default_value_t = false, action = clap::ArgAction::Set)]
    pub auth_enabled: bool,

    /// Accepted API keys, comma-separated.
    #[arg(
        long,
        env = "REPOWIKI_API_KEYS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub api_keys: Vec<String>,

    /// Origins allowed to open sockets and make CORS requests, comma-separated
    /// (`*` for any). Empty: only the server's own origin.
    #[arg(
        long,
        env = "REPOWIKI_ALLOWED_ORIGINS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub allowed_origins: Vec<String>,

    /// Host names this server answers to besides IP addresses, `localhost` and the hosts
    /// of allowed origins, comma-separated (`*` for any). Other `Host` headers get 403,
    /// which stops DNS-rebinding pages.
    #[arg(
        long,
        env = "REPOWIKI_ALLOWED_HOSTS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub allowed_hosts: Vec<String>,

    /// Start with auth off on an address other than loopback. Without it such a start
    /// is refused: anyone on the network could read every conversation.
    #[arg(long, env = "REPOWIKI_ALLOW_OPEN", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_open: bool,

    /// Frames a connection may send per second (with bursts of twice that); beyond it
    /// the client gets `rate_limited` errors, and a connection that keeps going is closed.
    #[arg(long, env = "REPOWIKI_MESSAGES_PER_SEC", default_value_t = 20)]
    pub messages_per_sec: u32,

    /// REST requests a client (API key, or IP address when auth is off) may make per
    /// second, with bursts of twice that; beyond it 429 with `Retry-After`.
    #[arg(long, env = "REPOWIKI_REST_REQUESTS_PER_SEC", default_value_t = 100)]
    pub rest_requests_per_sec: u32,

    /// REST requests that start a model call or heavy work (a synchronous turn, an SSE
    /// question, a wiki job, a project, a re-index) a client may make per minute.
    #[arg(long, env = "REPOWIKI_MODEL_CALLS_PER_MIN", default_value_t = 60)]
    pub model_calls_per_min: u32,

    /// Answers generated at once on this server; more wait their turn (`message_waiting`
    /// with reason `queued`).
    #[arg(long, env = "REPOWIKI_MAX_ANSWERS", default_value_t = 64)]
    pub max_answers: usize,

    /// Answers generated at once for one client (API key, or IP when auth is off).
    #[arg(long, env = "REPOWIKI_MAX_ANSWERS_PER_CLIENT", default_value_t = 8)]
    pub max_answers_per_client: usize,

    /// Questions that may wait for a place; beyond it a question is refused (429, or an
    /// `error` event `rate_limited`).
    #[arg(long, env = "REPOWIKI_MAX_WAITING_ANSWERS", default_value_t = 256)]
    pub max_waiting_answers: usize,

    /// Open sockets allowed per API key (or per IP address when auth is off).
    #[arg(
        long,
        env = "REPOWIKI_MAX_CONNECTIONS_PER_CLIENT",
        default_value_t = 64
    )]
    pub max_connections_per_client: usize,

    /// Rooms one connection may be in at once.
    #[arg(long, env = "REPOWIKI_MAX_ROOMS_PER_CONNECTION", default_value_t = 32)]
    pub max_rooms_per_connection: usize,

    /// Stop generating an answer when the last client leaves its conversation, instead
    /// of finishing and storing it.
    #[arg(long, env = "REPOWIKI_STOP_WHEN_ABANDONED", default_value_t = false, action = clap::ArgAction::Set)]
    pub stop_when_abandoned: bool,

    /// Wiki pages this server generates at once, over all wiki jobs.
    #[arg(long, env = "REPOWIKI_WIKI_PAGE_CONCURRENCY", default_value_t = 4)]
    pub wiki_page_concurrency: usize,

    /// Seconds a wiki job or page stays claimed by a server that stopped renewing its
    /// claim (it died) before another server takes it over.
    #[arg(long, env = "REPOWIKI_WIKI_LEASE_SECS", default_value_t = 30)]
    pub wiki_lease_secs: u64,

    /// Folders under which local projects may be read, comma-separated. Empty: the
    /// user's home folder.
    #[arg(
        long,
        env = "REPOWIKI_LOCAL_ROOTS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub local_roots: Vec<String>,

    /// Git hosts allowed although they resolve to loopback, private or link-local
    /// addresses, or served over plain `http://`; comma-separated host names or IPs.
    #[arg(
        long,
        env = "REPOWIKI_ALLOWED_GIT_HOSTS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub allowed_git_hosts: Vec<String>,

    /// Accept `ssh://` and `git@host:path` repository URLs.
    #[arg(long, env = "REPOWIKI_ALLOW_SSH_GIT", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_ssh_git: bool,

    /// Seconds a clone may take before it is killed.
    #[arg(long, env = "REPOWIKI_CLONE_TIMEOUT_SECS", default_value_t = 300)]
    pub clone_timeout_secs: u64,

    /// Largest repository checkout accepted, in bytes; a larger clone fails and is removed.
    #[arg(long, env = "REPOWIKI_MAX_REPO_BYTES", default_value_t = 1024 * 1024 * 1024)]
    pub max_repo_bytes: u64,

    /// Files larger than this are not indexed, in bytes.
    #[arg(long, env = "REPOWIKI_MAX_FILE_BYTES", default_value_t = 1024 * 1024)]
    pub max_file_bytes: u64,

    /// Largest upload (`POST /api/projects/{id}/documents`), in bytes.
    #[arg(long, env = "REPOWIKI_MAX_UPLOAD_BYTES", default_value_t = 20 * 1024 * 1024)]
    pub max_upload_bytes: usize,

    /// Address space a PDF's text extraction may use, in MiB; a PDF that needs more
    /// (a decompression bomb) is refused.
    #[arg(long, env = "REPOWIKI_PDF_MEMORY_MIB", default_value_t = 512)]
    pub pdf_memory_mib: u64,

    /// Seconds a PDF's text extraction may take.
    #[arg(long, env = "REPOWIKI_PDF_TIMEOUT_SECS", default_value_t = 30)]
    pub pdf_timeout_secs: u64,

    /// The executable that extracts PDF text (run as `EXE --extract-pdf`); default: this
    /// server's own executable.
    #[arg(long, env = "REPOWIKI_PDF_EXTRACTOR")]
    pub pdf_extractor: Option<PathBuf>,
}

impl Config {
    /// The configuration a test or benchmark starts from: every default, data in `data_dir`.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let mut config = Self::parse_from(["repowiki"]);
        config.data_dir = data_dir.into();
        config.database_url = None;
        config.redis_url = None;
        config
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("repowiki.db").display()
            )
        })
    }

    pub fn ping_interval(&self) -> Duration {
        Duration::from_secs(self.ping_interval_secs.max(1))
    }
}
