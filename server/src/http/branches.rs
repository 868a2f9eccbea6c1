//! Editing a question and choosing a version over REST; the same as `edit_message` and
//! `show_version` on `/ws`, and seen live by the conversation's room alike.

use app::protocol::ChatMessage;
use app::protocol::rest::EditRequest;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use uuid::Uuid;

use super::ApiError;
use super::auth::RequestClient;
use crate::chat::Edit;
use crate::state::AppState;

fn parse_ids(conversation_id: &str, message_id: &str) -> Result<(Uuid, Uuid), ApiError> {
    let parse = |id: &str, what: &str| {
        Uuid::parse_str(id).map_err(|_| ApiError::BadRequest(format!("{what} id must be a UUID")))
    };
    Ok((
        parse(conversation_id, "conversation")?,
        parse(message_id, "message")?,
    ))
}

#[utoipa::path(post, path = "/api/chat/conversations/{id}/messages/{message_id}/edit", tag = "chat",
    request_body = EditRequest,
    responses((status = 202, description = "The edited question, stored; its answer streams to the conversation's room", body = ChatMessage),
        (status = 400, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)))]
/// Asks `content` in place of the shown question `message_id`: a new branch starts there
/// and is answered; the old branch stays as a version.
pub async fn edit(
    State(state): State<AppState>,
    RequestClient(client): RequestClient,
    Path((id, message_id)): Path<(String, String)>,
    Json(request): Json<EditRequest>,
) -> Result<(StatusCode, Json<ChatMessage>), ApiError> {
    let (conversation_id, message_id) = parse_ids(&id, &message_id)?;
    let question = state
        .chat
        .edit(Edit {
            conversation_id,
            message_id,
            content: request.content,
            client_msg_id: None,
            provider: request.provider,
            model: request.model,
            client,
        })
        .await?;
    Ok((StatusCode::ACCEPTED, Json(question)))
}

#[utoipa::path(post, path = "/api/chat/conversations/{id}/messages/{message_id}/show", tag = "chat",
    responses((status = 200, description = "The conversation as now shown", body = Vec<ChatMessage>),
        (status = 400, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)))]
/// Shows the branch through `message_id`, one of the versions a message lists.
pub async fn show(
    State(state): State<AppState>,
    Path((id, message_id)): Path<(String, String)>,
) -> Result<Json<Vec<ChatMessage>>, ApiError> {
    let (conversation_id, message_id) = parse_ids(&id, &message_id)?;
    Ok(Json(
        state.chat.show_version(conversation_id, message_id).await?,
    ))
}
