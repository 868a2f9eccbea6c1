//! Request and response bodies of the REST API, shared with the browser.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ChatMessage, Millis};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Conversation {
    pub id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    pub title: String,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub message_count: u64,
}

/// One page of a list: `?limit=&offset=` in, `{items, total}` out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewConversation {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub project_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConversationUpdate {
    pub title: String,
}

/// `POST /api/chat/message`: one synchronous turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SyncChatRequest {
    pub message: String,
    #[serde(default)]
    pub conversation_id: Option<Uuid>,
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub temperature: Option<f32>,
    #[serde(default)]
    pub include_history: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SyncChatResponse {
    pub conversation_id: Uuid,
    pub message: ChatMessage,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChatStats {
    pub conversations: u64,
    pub messages: u64,
    pub user_messages: u64,
    pub assistant_messages: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub avg_time_to_first_token_ms: Option<f64>,
    pub avg_duration_ms: Option<f64>,
    /// Answers that ended stopped or failed.
    pub incomplete_answers: u64,
}

/// `POST /api/chat/conversations/{id}/cleanup`: keep only the newest messages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CleanupRequest {
    /// Messages to keep, newest first counted; default 100.
    #[serde(default)]
    pub keep_last: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CleanupResult {
    pub removed: u64,
    pub kept: u64,
}
