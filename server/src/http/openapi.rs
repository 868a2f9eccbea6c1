//! `GET /api/openapi.json`: the REST API described from the handlers' own annotations
//! and the shared types, so the document cannot drift from the code.

use app::protocol::rest::{
    ChatStats, CleanupRequest, CleanupResult, Conversation, ConversationUpdate, EditRequest,
    NewConversation, SyncChatRequest, SyncChatResponse,
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
use utoipa::{Modify, OpenApi};

use super::compat::{broadcast, sse};
use super::error::{ErrorBody, ErrorDetail};
use super::{branches, chat_message, conversations, health, models, projects, wiki};

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
        branches::edit,
        branches::show,
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
        projects::cancel,
        projects::documents,
        projects::upload,
        projects::delete_document,
        projects::file,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, Conversation, NewConversation, ConversationUpdate,
        SyncChatRequest, SyncChatResponse, ChatStats, CleanupRequest, CleanupResult, EditRequest,
        ChatMessage, Source, MessageMetadata, Role, FinishReason,
        NewWikiJob, WikiFilters, WikiJob, WikiJobPage, Wiki, WikiStructure, WikiSection, WikiPage,
        Project, ProjectKind, ProjectStatus, ProjectFilters, IndexReport, CreateProjectRequest,
        CreatedProject, ReindexRequest, JobStarted, DocumentInfo, DocumentContent,
        UploadedDocuments,
    )),
    modifiers(&EveryOperation),
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

/// What holds for every operation, said once instead of in each handler's annotation:
/// its `{name}` path segments are required parameters (conversation ids are UUIDs), and
/// any of them may answer with the API's error shape for a malformed request (400), a
/// missing key (401), a foreign page or host (403), a path that became another route
/// (405), a body over its limit (413) or of
/// the wrong type (415), a body that does not parse as the schema (422), and a client
/// over its limits (429, with `Retry-After`).
struct EveryOperation;

const COMMON_REFUSALS: [(&str, &str); 8] = [
    ("400", "The request is malformed"),
    ("401", "Auth is on and the API key is missing or wrong"),
    (
        "403",
        "The request came from another site's page or for an unknown host",
    ),
    // An empty path parameter turns `/api/projects/{id}/reindex` into another route.
    ("405", "The method does not apply to the path as sent"),
    ("413", "The body is over its limit"),
    ("415", "The body is not of the expected media type"),
    ("422", "The body does not match its schema"),
    (
        "429",
        "The client is over a rate or concurrency limit; see `Retry-After`",
    ),
];

impl Modify for EveryOperation {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required, ResponseBuilder};

        let refusal = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build(),
            )
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let names: Vec<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .collect();
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let parameters = operation.parameters.get_or_insert_with(Vec::new);
                for name in &names {
                    let declared = parameters
                        .iter()
                        .any(|p| p.name == *name && p.parameter_in == ParameterIn::Path);
                    if declared {
                        continue;
                    }
                    let is_uuid = *name == "conversation_id"
                        || *name == "message_id"
                        || (*name == "id" && path.starts_with("/api/chat/conversations/"));
                    let mut schema = ObjectBuilder::new()
                        .schema_type(Type::String)
                        .min_length(Some(1));
                    if is_uuid {
                        schema = schema.format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)));
                    }
                    parameters.push(
                        ParameterBuilder::new()
                            .name(*name)
                            .parameter_in(ParameterIn::Path)
                            .required(Required::True)
                            .schema(Some(schema))
                            .build(),
                    );
                }
                if path.starts_with("/api/") {
                    for (status, description) in COMMON_REFUSALS {
                        operation
                            .responses
                            .responses
                            .entry(status.to_owned())
                            .or_insert_with(|| refusal(description));
                    }
                }
            }
        }
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
