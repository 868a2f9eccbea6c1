//! `POST /api/chat/message` (seed 003): one chat turn answered synchronously — the same
//! turn the sockets run, awaited to its end.

use app::protocol::ServerMsg;
use app::protocol::rest::{SyncChatRequest, SyncChatResponse};
use axum::Json;
use axum::extract::State;
use uuid::Uuid;

use super::ApiError;
use super::auth::RequestClient;
use crate::chat::{AnswerAssembler, Question};
use crate::state::AppState;

#[utoipa::path(post, path = "/api/chat/message", tag = "chat", request_body = SyncChatRequest,
    responses((status = 200, body = SyncChatResponse), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody),
        (status = 502, description = "The provider failed", body = super::error::ErrorBody)))]
pub async fn send(
    State(state): State<AppState>,
    RequestClient(client): RequestClient,
    Json(request): Json<SyncChatRequest>,
) -> Result<Json<SyncChatResponse>, ApiError> {
    let conversation_id = match request.conversation_id {
        Some(id) => {
            state
                .store
                .conversation(id)
                .await?
                .ok_or_else(|| ApiError::NotFound("no such conversation".into()))?;
            id
        }
        None => Uuid::new_v4(),
    };
    let mut follower = state
        .chat
        .follow(conversation_id, None, state.config.outgoing_queue)
        .await?;
    let asked = state
        .chat
        .ask(Question {
            conversation_id,
            project_id: request.project_id,
            file_path: None,
            content: request.message,
            client_msg_id: None,
            provider: request.provider,
            model: request.model,
            temperature: request.temperature,
            include_history: request.include_history.unwrap_or(true),
            deep_research: false,
            prior: Vec::new(),
            client,
        })
        .await?;
    // Events of this conversation's room; only this turn's answer ends the wait.
    let mut answers = AnswerAssembler::default();
    while let Some(frame) = follower.next().await {
        if let ServerMsg::MessageError { code, message, .. } = frame.msg {
            return Err(ApiError::Upstream { code, message });
        }
        if let Some(message) = answers.observe(frame.msg) {
            return Ok(Json(SyncChatResponse {
                conversation_id,
                message,
            }));
        }
    }
    tracing::warn!(question = %asked.id, "lost the room while waiting for an answer");
    Err(ApiError::Upstream {
        code: "interrupted".into(),
        message: "the answer was interrupted; it is stored with the conversation".into(),
    })
}
