//! Messages of a conversation, in the order they were written.

use app::protocol::{ChatMessage, MessageMetadata, Role, Source};
use uuid::Uuid;

use super::{Result, StorageError, Store};

type MessageRecord = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
);

impl Store {
    /// Appends a message at the end of its conversation.
    pub async fn insert_message(&self, message: &ChatMessage) -> Result<()> {
        let sources = serde_json::to_string(&message.sources)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?;
        let metadata = message
            .metadata
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StorageError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO messages \
             (id, conversation_id, position, role, content, sources, metadata, client_msg_id, created_at) \
             VALUES ($1, $2, \
                (SELECT COALESCE(MAX(position), 0) + 1 FROM messages WHERE conversation_id = $2), \
                $3, $4, $5, $6, $7, $8)",
        )
        .bind(message.id.to_string())
        .bind(message.conversation_id.to_string())
        .bind(role_name(message.role))
        .bind(&message.content)
        .bind(sources)
        .bind(metadata)
        .bind(message.client_msg_id.clone())
        .bind(message.created_at as i64)
        .execute(&self.pool)
        .await?;
        self.touch_conversation(message.conversation_id, message.created_at)
            .await
    }

    /// Every message of the conversation, oldest first.
    pub async fn messages(&self, conversation_id: Uuid) -> Result<Vec<ChatMessage>> {
        let rows: Vec<MessageRecord> = sqlx::query_as(
            "SELECT id, conversation_id, role, content, sources, metadata, client_msg_id, created_at \
             FROM messages WHERE conversation_id = $1 ORDER BY position",
        )
        .bind(conversation_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(message_from_record).collect()
    }
}

fn message_from_record(record: MessageRecord) -> Result<ChatMessage> {
    let (id, conversation_id, role, content, sources, metadata, client_msg_id, created_at) = record;
    let sources: Vec<Source> =
        serde_json::from_str(&sources).map_err(|e| StorageError::Corrupt(e.to_string()))?;
    let metadata: Option<MessageMetadata> = metadata
        .map(|m| serde_json::from_str(&m))
        .transpose()
        .map_err(|e| StorageError::Corrupt(e.to_string()))?;
    Ok(ChatMessage {
        id: parse_uuid(&id)?,
        conversation_id: parse_uuid(&conversation_id)?,
        role: match role.as_str() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => return Err(StorageError::Corrupt(format!("unknown role {other}"))),
        },
        content,
        sources,
        metadata,
        client_msg_id,
        created_at: created_at as u64,
    })
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

pub(super) fn parse_uuid(text: &str) -> Result<Uuid> {
    Uuid::parse_str(text).map_err(|e| StorageError::Corrupt(format!("bad id {text}: {e}")))
}
