//! RepoWiki's shared crate: the wire protocol ([`protocol`]) and the Leptos UI. The server
//! renders the UI (feature `ssr`), the browser hydrates it (feature `hydrate`).

// Leptos views are deeply nested types; release builds exceed rustc's default depth.
#![recursion_limit = "256"]

// The server's HTML and the browser's hydration walk must agree on Leptos's component
// erasure, or every page panics while hydrating in the browser. `.cargo/config.toml` sets
// the cfg for both sides; a build that lost it (a RUSTFLAGS variable replaces that list)
// must stop here rather than ship a page that is dead in the browser.
#[cfg(not(erase_components))]
compile_error!(
    "RepoWiki is built with `--cfg erase_components` on both the server and the browser side \
     (see .cargo/config.toml); a RUSTFLAGS variable replaces that list, so add the cfg to it"
);

pub mod client;
pub mod components;
pub mod protocol;
mod shell;

pub use shell::{App, shell};

/// Whether the server asks browsers to sign in, and whether this one has: read on the
/// server while it renders a page and handed to the browser with it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuthState {
    pub required: bool,
    pub signed_in: bool,
}

/// What the server hands the UI while rendering a page, through Leptos context
/// (`leptos_routes_with_context`): stored data to render before any socket exists, so
/// that pages read without JavaScript.
#[cfg(feature = "ssr")]
#[derive(Clone)]
pub struct ServerData {
    pub auth: AuthState,
    /// Wiki jobs, newest first, filtered by project and status.
    pub jobs: std::sync::Arc<dyn Fn(JobsFilter) -> StoredJobs + Send + Sync>,
    /// The stored messages of a conversation, `None` if there is no such conversation.
    pub messages: std::sync::Arc<dyn Fn(uuid::Uuid) -> StoredMessages + Send + Sync>,
}

/// Which wiki jobs the jobs page lists (`/wiki/jobs?project=…&status=…`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JobsFilter {
    pub project_id: Option<String>,
    pub status: Option<String>,
}

/// Wiki jobs as [`ServerData::jobs`] loads them: `Err` with a readable reason.
#[cfg(feature = "ssr")]
pub type StoredJobs = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Result<protocol::rest::Page<protocol::rest::WikiJob>, String>,
            > + Send,
    >,
>;

/// A conversation's stored messages, as [`ServerData::messages`] loads them.
#[cfg(feature = "ssr")]
pub type StoredMessages =
    std::pin::Pin<Box<dyn std::future::Future<Output = Option<Vec<protocol::ChatMessage>>> + Send>>;
