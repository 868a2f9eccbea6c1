//! Conversation REST (seed 003): list with filter and pagination, create, get, rename,
//! soft delete, messages, statistics and cleanup.

use app::protocol::rest::{
    ChatStats, CleanupRequest, CleanupResult, Conversation, ConversationUpdate, NewConversation,
    Page,
};
use app::protocol::{ChatMessage, ServerMsg, rooms};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

use super::ApiError;
use crate::clock::now_ms;
use crate::state::AppState;

const DEFAULT_LIMIT: u64 = 20;
const MAX_LIMIT: u64 = 200;
const MAX_TITLE_CHARS: usize = 200;
const DEFAULT_KEEP: u64 = 100;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Items per page (1 to 200, default 20).
    limit: Option<u64>,
    /// Items to skip.
    offset: Option<u64>,
    /// Case-insensitive text the title contains.
    q: Option<String>,
    project_id: Option<String>,
}

impl ListQuery {
    fn limit(&self) -> u64 {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }
}

fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::BadRequest("conversation id must be a UUID".into()))
}

fn not_found() -> ApiError {
    ApiError::NotFound("no such conversation".into())
}

fn valid_title(title: &str) -> Result<String, ApiError> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
        return Err(ApiError::BadRequest(format!(
            "title must have 1 to {MAX_TITLE_CHARS} characters"
        )));
    }
    Ok(title.to_owned())
}

#[utoipa::path(get, path = "/api/chat/conversations", tag = "chat", params(ListQuery),
    responses((status = 200, body = Page<Conversation>)))]
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page<Conversation>>, ApiError> {
    let search = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let page = state
        .store
        .conversations(
            query.project_id.as_deref(),
            search,
            query.limit(),
            query.offset.unwrap_or(0),
        )
        .await?;
    Ok(Json(page))
}

#[utoipa::path(post, path = "/api/chat/conversations", tag = "chat", request_body = NewConversation,
    responses((status = 201, body = Conversation), (status = 400, body = super::error::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Json(new): Json<NewConversation>,
) -> Result<(StatusCode, Json<Conversation>), ApiError> {
    let title = match new.title.as_deref() {
        Some(title) => valid_title(title)?,
        None => "New conversation".to_owned(),
    };
    let id = Uuid::new_v4();
    state
        .store
        .ensure_conversation(id, new.project_id.as_deref(), &title, now_ms())
        .await?;
    let created = state.store.conversation(id).await?.ok_or_else(not_found)?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/api/chat/conversations/{id}", tag = "chat",
    responses((status = 200, body = Conversation), (status = 404, body = super::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Conversation>, ApiError> {
    let id = parse_id(&id)?;
    Ok(Json(
        state.store.conversation(id).await?.ok_or_else(not_found)?,
    ))
}

#[utoipa::path(put, path = "/api/chat/conversations/{id}", tag = "chat", request_body = ConversationUpdate,
    responses((status = 200, body = Conversation), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(update): Json<ConversationUpdate>,
) -> Result<Json<Conversation>, ApiError> {
    let id = parse_id(&id)?;
    let title = valid_title(&update.title)?;
    if !state
        .store
        .rename_conversation(id, &title, now_ms())
        .await?
    {
        return Err(not_found());
    }
    Ok(Json(
        state.store.conversation(id).await?.ok_or_else(not_found)?,
    ))
}

#[utoipa::path(delete, path = "/api/chat/conversations/{id}", tag = "chat",
    responses((status = 204, description = "Deleted (soft)"), (status = 404, body = super::error::ErrorBody)))]
/// Soft delete: the conversation vanishes from lists, a running answer stops, and every
/// client in its room is told.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    if !state.store.delete_conversation(id, now_ms()).await? {
        return Err(not_found());
    }
    state.chat.stop(id).await;
    state.hub.publish(
        &rooms::conversation(id),
        ServerMsg::ConversationDeleted {
            conversation_id: id,
        },
    );
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/chat/conversations/{id}/messages", tag = "chat", params(ListQuery),
    responses((status = 200, body = Page<ChatMessage>), (status = 404, body = super::error::ErrorBody)))]
pub async fn messages(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page<ChatMessage>>, ApiError> {
    let id = parse_id(&id)?;
    state.store.conversation(id).await?.ok_or_else(not_found)?;
    let mut page = state
        .store
        .messages_page(id, query.limit(), query.offset.unwrap_or(0))
        .await?;
    state.store.with_versions(id, &mut page.items).await?;
    Ok(Json(page))
}

#[utoipa::path(get, path = "/api/chat/stats", tag = "chat", responses((status = 200, body = ChatStats)))]
pub async fn stats(State(state): State<AppState>) -> Result<Json<ChatStats>, ApiError> {
    Ok(Json(state.store.chat_stats().await?))
}

#[utoipa::path(post, path = "/api/chat/conversations/{id}/cleanup", tag = "chat", request_body = Option<CleanupRequest>,
    responses((status = 200, body = CleanupResult), (status = 404, body = super::error::ErrorBody)))]
/// Keeps the newest `keep_last` messages (default 100) and deletes the older ones for
/// good; the conversation itself stays.
pub async fn cleanup(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Option<Json<CleanupRequest>>,
) -> Result<Json<CleanupResult>, ApiError> {
    let id = parse_id(&id)?;
    state.store.conversation(id).await?.ok_or_else(not_found)?;
    let keep = body.and_then(|Json(b)| b.keep_last).unwrap_or(DEFAULT_KEEP);
    let (removed, kept) = state.store.trim_messages(id, keep).await?;
    Ok(Json(CleanupResult { removed, kept }))
}
