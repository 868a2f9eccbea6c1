//! What server-rendered pages read from the server itself, so every page is readable with
//! JavaScript off. When auth is on, a page request without a valid key or session is sent
//! to sign in, and gets no stored data whatever it renders.

use std::sync::Arc;

use app::protocol::ChatMessage;
use app::protocol::rest::{
    Conversation, DocumentContent, DocumentInfo, Page, Project, Wiki, WikiJob,
};
use app::{JobsFilter, Loading, PageStore};
use uuid::Uuid;

use super::{auth, security_headers};
use crate::projects::ProjectError;
use crate::state::AppState;

/// The one page open to a browser that has not signed in.
pub const SIGN_IN_PAGE: &str = "/signin";

/// The most projects and jobs a page lists, as the browser reads them after hydration.
const LISTED: u64 = 200;

/// Runs for every page request before its render: answers "sign in first" when needed
/// and hands the page its data.
pub fn provide(state: &AppState) -> impl Fn() + Clone + Send + Sync + 'static {
    let state = state.clone();
    move || {
        security_headers::set_page_policy();
        let parts = leptos::prelude::use_context::<axum::http::request::Parts>();
        let authorized = parts.as_ref().is_some_and(|parts| {
            auth::authenticate(&state.config, &parts.headers, parts.uri.query()).is_ok()
        });
        if let Some(parts) = parts.as_ref().filter(|_| !authorized)
            && parts.uri.path() != SIGN_IN_PAGE
        {
            redirect_to_sign_in(parts);
        }
        leptos::prelude::provide_context(app::ServerData {
            auth: app::AuthState {
                required: state.config.auth_enabled,
                signed_in: state.config.auth_enabled && authorized,
            },
            store: Arc::new(PageReader {
                state: state.clone(),
                authorized,
            }),
        });
    }
}

/// Set on the response directly rather than by `leptos_axum::redirect`, which redirects
/// only requests that accept HTML: no client may read a page's data without a session.
fn redirect_to_sign_in(parts: &axum::http::request::Parts) {
    let next = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
        && let Ok(location) =
            axum::http::HeaderValue::from_str(&format!("{SIGN_IN_PAGE}?next={next}"))
    {
        response.set_status(axum::http::StatusCode::FOUND);
        response.insert_header(axum::http::header::LOCATION, location);
    }
}

/// The page store of one request: the services the REST API uses, behind that request's
/// authorization.
struct PageReader {
    state: AppState,
    authorized: bool,
}

const SIGN_IN_FIRST: &str = "Sign in to see this.";

impl PageReader {
    /// Runs `read` only for an authorized request; its error becomes readable text.
    fn read<T, E, F>(&self, read: impl FnOnce(AppState) -> F) -> Loading<Result<T, String>>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        T: 'static,
        E: std::fmt::Display + 'static,
    {
        if !self.authorized {
            return Box::pin(async { Err(SIGN_IN_FIRST.to_owned()) });
        }
        let reading = read(self.state.clone());
        Box::pin(async move { reading.await.map_err(|e| e.to_string()) })
    }
}

impl PageStore for PageReader {
    fn jobs(&self, filter: JobsFilter) -> Loading<Result<Page<WikiJob>, String>> {
        self.read(|state| async move {
            state
                .wiki
                .jobs(
                    filter.project_id.as_deref(),
                    filter.status.as_deref(),
                    Some(LISTED),
                    None,
                )
                .await
        })
    }

    fn running_jobs(&self) -> Loading<Result<Vec<String>, String>> {
        self.read(|state| async move { state.store.running_wiki_jobs().await })
    }

    fn job(&self, job_id: String) -> Loading<Result<WikiJob, String>> {
        self.read(|state| async move { state.wiki.job(&job_id).await })
    }

    fn messages(&self, id: Uuid) -> Loading<Option<Vec<ChatMessage>>> {
        let reading = self.read(|state| async move {
            // A deleted conversation is gone for pages as it is for REST.
            match state.store.conversation(id).await? {
                Some(_) => state.store.shown_messages(id).await,
                None => Ok(Vec::new()),
            }
        });
        Box::pin(async move { reading.await.ok().filter(|m| !m.is_empty()) })
    }

    fn projects(&self) -> Loading<Result<Vec<Project>, String>> {
        self.read(
            |state| async move { state.projects.list(LISTED, 0).await.map(|page| page.items) },
        )
    }

    fn project(&self, project_id: String) -> Loading<Result<Project, String>> {
        self.read(|state| async move { state.projects.get(&project_id).await })
    }

    fn documents(&self, project_id: String) -> Loading<Result<Vec<DocumentInfo>, String>> {
        self.read(|state| async move { state.projects.documents(&project_id).await })
    }

    fn wiki(&self, project_id: String, language: String) -> Loading<Result<Wiki, String>> {
        self.read(|state| async move { state.wiki.wiki(&project_id, &language).await })
    }

    fn file(&self, project_id: String, path: String) -> Loading<Result<DocumentContent, String>> {
        self.read(|state| async move {
            match state.projects.document_content(&project_id, &path).await {
                Ok(Some(document)) => Ok(document),
                Ok(None) => Err(ProjectError::DocumentNotFound),
                Err(e) => Err(e),
            }
        })
    }

    fn conversations(
        &self,
        search: String,
        limit: usize,
    ) -> Loading<Result<Page<Conversation>, String>> {
        self.read(move |state| async move {
            let search = Some(search.trim()).filter(|s| !s.is_empty());
            state
                .store
                .conversations(None, search, limit as u64, 0)
                .await
        })
    }
}
