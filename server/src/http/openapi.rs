//! `GET /api/openapi.json`: the REST API described from the handlers' own annotations
//! and the shared types, so the document cannot drift from the code.

use app::protocol::rest::{
    ChatStats, CleanupRequest, CleanupResult, Conversation, ConversationUpdate, NewConversation,
    SyncChatRequest, SyncChatResponse,
};
use app::protocol::rest::{
    CreateProjectRequest, CreatedProject, DocumentContent, DocumentInfo, IndexReport, JobStarted,
    Project, ProjectFilters, ProjectKind, ProjectStatus, ReindexRequest, UploadedDocuments,
};
use app::protocol::rest::{
    NewWikiJob, Wiki, WikiFilters, WikiJob, WikiJobPage, WikiPage, WikiSection, WikiStructure,
};
use app::protocol::{ChatMessage, FinishReason, MessageMetadata, Role, Source};
use axum::Json;
use utoipa::OpenApi;

use super::compat::{broadcast, sse};
use super::error::{ErrorBody, ErrorDetail};
use super::{chat_message, conversations, health, models, projects, wiki};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "RepoWiki",
        description = "Chat with a repository. Sockets (`/ws`, `/ws/chat`, `/ws/chat/{id}`, \
            `/api/wiki/jobs/{id}/progress`) are described in the README."
    ),
    paths(
        health::health,
        health::ready,
        models::list,
        chat_message::send,
        conversations::list,
        conversations::create,
        conversations::get,
        conversations::update,
        conversations::delete,
        conversations::messages,
        conversations::cleanup,
        conversations::stats,
        sse::handler,
        broadcast::publish_status,
        broadcast::connections,
        wiki::create,
        wiki::list,
        wiki::get,
        wiki::cancel,
        wiki::pause,
        wiki::resume,
        wiki::retry_page,
        wiki::wiki,
        wiki::export,
        projects::create,
        projects::list,
        projects::get,
        projects::delete,
        projects::reindex,
        projects::documents,
        projects::upload,
        projects::delete_document,
        projects::file,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, Conversation, NewConversation, ConversationUpdate,
        SyncChatRequest, SyncChatResponse, ChatStats, CleanupRequest, CleanupResult,
        ChatMessage, Source, MessageMetadata, Role, FinishReason,
        NewWikiJob, WikiFilters, WikiJob, WikiJobPage, Wiki, WikiStructure, WikiSection, WikiPage,
        Project, ProjectKind, ProjectStatus, ProjectFilters, IndexReport, CreateProjectRequest,
        CreatedProject, ReindexRequest, JobStarted, DocumentInfo, DocumentContent,
        UploadedDocuments,
    )),
    tags(
        (name = "chat", description = "Conversations, messages and answers"),
        (name = "models", description = "Providers and models"),
        (name = "wiki", description = "Wiki generation jobs, wikis and their export"),
        (name = "projects", description = "Projects (git, local folder, uploads), their documents and indexing"),
        (name = "realtime", description = "Broadcast to rooms and connection counts"),
        (name = "operations", description = "Probes"),
    )
)]
struct ApiDoc;

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
