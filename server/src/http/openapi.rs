//! `GET /api/openapi.json`: the REST API described from the handlers' own annotations
//! and the shared types, so the document cannot drift from the code.

use app::protocol::rest::{
    ChatStats, CleanupRequest, CleanupResult, Conversation, ConversationUpdate, NewConversation,
    SyncChatRequest, SyncChatResponse,
};
use app::protocol::{ChatMessage, FinishReason, MessageMetadata, Role, Source};
use axum::Json;
use utoipa::OpenApi;

use super::error::{ErrorBody, ErrorDetail};
use super::{chat_message, conversations, health, models};
use crate::compat::{broadcast, sse};

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
    ),
    components(schemas(
        ErrorBody, ErrorDetail, Conversation, NewConversation, ConversationUpdate,
        SyncChatRequest, SyncChatResponse, ChatStats, CleanupRequest, CleanupResult,
        ChatMessage, Source, MessageMetadata, Role, FinishReason,
    )),
    tags(
        (name = "chat", description = "Conversations, messages and answers"),
        (name = "models", description = "Providers and models"),
        (name = "realtime", description = "Broadcast to rooms and connection counts"),
        (name = "operations", description = "Probes"),
    )
)]
struct ApiDoc;

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
