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
    pub store: std::sync::Arc<dyn PageStore>,
}

/// Which wiki jobs the jobs page lists (`/wiki/jobs?project=…&status=…`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JobsFilter {
    pub project_id: Option<String>,
    pub status: Option<String>,
}

/// A page's data on its way from the server's own services: `Err` holds a reason fit to
/// show the reader.
#[cfg(feature = "ssr")]
pub type Loading<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// The stored data pages render on the server: the same reads the REST API makes, so a
/// page rendered by the server and the one the browser later reads agree. A browser that
/// has not signed in (when auth is on) gets nothing from any of them.
#[cfg(feature = "ssr")]
pub trait PageStore: Send + Sync {
    /// Wiki jobs, newest first, filtered by project and status.
    fn jobs(
        &self,
        filter: JobsFilter,
    ) -> Loading<Result<protocol::rest::Page<protocol::rest::WikiJob>, String>>;
    /// The ids of the wiki jobs under way.
    fn running_jobs(&self) -> Loading<Result<Vec<String>, String>>;
    /// One wiki job with its pages.
    fn job(&self, job_id: String) -> Loading<Result<protocol::rest::WikiJob, String>>;
    /// The stored messages of a conversation as shown, `None` if there is no such
    /// conversation.
    fn messages(&self, id: uuid::Uuid) -> Loading<Option<Vec<protocol::ChatMessage>>>;
    /// Every project, newest first.
    fn projects(&self) -> Loading<Result<Vec<protocol::rest::Project>, String>>;
    /// One project.
    fn project(&self, project_id: String) -> Loading<Result<protocol::rest::Project, String>>;
    /// A project's documents, by path.
    fn documents(
        &self,
        project_id: String,
    ) -> Loading<Result<Vec<protocol::rest::DocumentInfo>, String>>;
    /// A project's current wiki in `language`.
    fn wiki(
        &self,
        project_id: String,
        language: String,
    ) -> Loading<Result<protocol::rest::Wiki, String>>;
    /// One stored document of a project, for the source view.
    fn file(
        &self,
        project_id: String,
        path: String,
    ) -> Loading<Result<protocol::rest::DocumentContent, String>>;
    /// The newest conversations, those matching `search` when it is not empty.
    fn conversations(
        &self,
        search: String,
        limit: usize,
    ) -> Loading<Result<protocol::rest::Page<protocol::rest::Conversation>, String>>;
}

/// The page store of the page being rendered; on the server only.
#[cfg(feature = "ssr")]
pub fn page_store() -> Option<std::sync::Arc<dyn PageStore>> {
    leptos::prelude::use_context::<ServerData>().map(|data| data.store)
}
