//! The data behind each page, read where the page is being rendered: on the server from
//! its own services ([`crate::PageStore`]), so the first HTML carries it; in the browser
//! over REST, when a page's inputs change after hydration. Pages wrap these in a
//! `Resource`, which hands the server's result to the browser with the HTML and drops
//! answers that arrive after newer inputs.

use leptos::prelude::Resource;
use uuid::Uuid;

use crate::JobsFilter;
#[cfg(not(feature = "ssr"))]
use crate::client::api;
use crate::protocol::ChatMessage;
use crate::protocol::rest::{
    Conversation, DocumentContent, DocumentInfo, Page, Project, Wiki, WikiJob,
};

/// Waits for `resource`'s current read without following later ones. Awaited in a
/// `Suspend` inside a `Transition`, it makes the server render the page with the data;
/// the views inside read the resource themselves, so a later read updates them in place
/// instead of rebuilding them.
pub async fn loaded<T: Send + Sync + 'static>(resource: Resource<T>) {
    use leptos::reactive::computed::ScopedFuture;
    ScopedFuture::new_untracked(resource.by_ref()).await;
}

/// The most projects and jobs a page lists (the server renders as many).
#[cfg(not(feature = "ssr"))]
const LISTED: usize = 200;

/// Runs `read` against the page store of the page being rendered.
#[cfg(feature = "ssr")]
async fn on_server<T>(
    read: impl FnOnce(std::sync::Arc<dyn crate::PageStore>) -> crate::Loading<Result<T, String>>,
) -> Result<T, String> {
    match crate::page_store() {
        Some(store) => read(store).await,
        None => Err("This page's data is not available here.".to_owned()),
    }
}

/// A browser read; the browser has one thread, so the wrapper only satisfies a
/// resource's `Send` bound.
#[cfg(not(feature = "ssr"))]
async fn in_browser<T: serde::de::DeserializeOwned>(path: String) -> Result<T, String> {
    send_wrapper::SendWrapper::new(async move { api::get(&path).await }).await
}

pub async fn projects() -> Result<Vec<Project>, String> {
    #[cfg(feature = "ssr")]
    {
        on_server(|store| store.projects()).await
    }
    #[cfg(not(feature = "ssr"))]
    {
        in_browser::<Page<Project>>(format!("/api/projects?limit={LISTED}"))
            .await
            .map(|page| page.items)
    }
}

pub async fn project(project_id: String) -> Result<Project, String> {
    #[cfg(feature = "ssr")]
    {
        on_server(|store| store.project(project_id)).await
    }
    #[cfg(not(feature = "ssr"))]
    {
        in_browser(format!("/api/projects/{}", api::encode(&project_id))).await
    }
}

/// A project's documents, by path.
pub async fn documents(project_id: String) -> Result<Vec<DocumentInfo>, String> {
    #[cfg(feature = "ssr")]
    {
        on_server(|store| store.documents(project_id)).await
    }
    #[cfg(not(feature = "ssr"))]
    {
        in_browser(format!(
            "/api/projects/{}/documents",
            api::encode(&project_id)
        ))
        .await
    }
}

pub async fn jobs(filter: JobsFilter) -> Result<Page<WikiJob>, String> {
    #[cfg(feature = "ssr")]
    {
        on_server(|store| store.jobs(filter)).await
    }
    #[cfg(not(feature = "ssr"))]
    {
        let mut path = format!("/api/wiki/jobs?limit={LISTED}");
        if let Some(project) = &filter.project_id {
            path.push_str(&format!("&project_id={}", api::encode(project)));
        }
        if let Some(status) = &filter.status {
            path.push_str(&format!("&status={}", api::encode(status)));
        }
        in_browser(path).await
    }
}

/// The ids of the wiki jobs under way (not paused).
pub async fn running_jobs() -> Result<Vec<String>, String> {
    #[cfg(feature = "ssr")]
    {
        on_server(|store| store.running_jobs()).await
    }
    #[cfg(not(feature = "ssr"))]
    {
        use crate::protocol::JobStatus;
        in_browser::<Page<WikiJob>>(format!("/api/wiki/jobs?limit={LISTED}"))
            .await
            .map(|page| {
                page.items
                    .into_iter()
                    .filter(|job| JobStatus::WIKI_RUNNING.contains(&job.status))
                    .map(|job| job.job_id)
                    .collect()
            })
    }
}

pub async fn job(job_id: String) -> Result<WikiJob, String> {
    #[cfg(feature = "ssr")]
    {
        on_server(|store| store.job(job_id)).await
    }
    #[cfg(not(feature = "ssr"))]
    {
        in_browser(format!("/api/wiki/jobs/{}", api::encode(&job_id))).await
    }
}

pub async fn wiki(project_id: String, language: String) -> Result<Wiki, String> {
    #[cfg(feature = "ssr")]
    {
        on_server(|store| store.wiki(project_id, language)).await
    }
    #[cfg(not(feature = "ssr"))]
    {
        in_browser(format!(
            "/api/projects/{}/wiki?language={}",
            api::encode(&project_id),
            api::encode(&language)
        ))
        .await
    }
}

pub async fn conversations(search: String, limit: usize) -> Result<Page<Conversation>, String> {
    #[cfg(feature = "ssr")]
    {
        on_server(|store| store.conversations(search, limit)).await
    }
    #[cfg(not(feature = "ssr"))]
    {
        let mut path = format!("/api/chat/conversations?limit={limit}&offset=0");
        if !search.trim().is_empty() {
            path.push_str(&format!("&q={}", api::encode(search.trim())));
        }
        in_browser(path).await
    }
}

/// One stored document of a project, for the source view.
pub async fn file(project_id: String, path: String) -> Result<DocumentContent, String> {
    #[cfg(feature = "ssr")]
    {
        on_server(|store| store.file(project_id, path)).await
    }
    #[cfg(not(feature = "ssr"))]
    {
        in_browser(format!(
            "/api/projects/{}/file?path={}",
            api::encode(&project_id),
            api::encode(&path)
        ))
        .await
    }
}

/// A conversation's stored messages as shown; `None` when there is none to show. Only
/// the server reads them this way: in the browser the socket's snapshot brings them.
pub async fn messages(id: Uuid) -> Option<Vec<ChatMessage>> {
    #[cfg(feature = "ssr")]
    {
        crate::page_store()?.messages(id).await
    }
    #[cfg(not(feature = "ssr"))]
    {
        let _ = id;
        None
    }
}
