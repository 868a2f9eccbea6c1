//! Messages of a conversation, in the order they were written.

use app::protocol::rest::{ChatStats, Page};
use app::protocol::{ChatMessage, FinishReason, MessageMetadata, Role, Source};
use uuid::Uuid;

use sqlx::AnyConnection;

use super::conversations::{Existence, ensure_conversation_on, touch_conversation};
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
        let mut tx = self.writer.begin().await?;
        insert_message_on(&mut tx, message).await?;
        touch_conversation(&mut tx, message.conversation_id, message.created_at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every message of the conversation, oldest first.
    pub async fn messages(&self, conversation_id: Uuid) -> Result<Vec<ChatMessage>> {
        let rows: Vec<MessageRecord> = sqlx::query_as(
            "SELECT id, conversation_id, role, content, sources, metadata, client_msg_id, created_at \
             FROM messages WHERE conversation_id = $1 AND superseded_by IS NULL ORDER BY position",
        )
        .bind(conversation_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(message_from_record).collect()
    }
}

/// Stores a question, creating its conversation first if need be, in the caller's
/// transaction. Writes nothing in a deleted conversation.
pub(super) async fn question_on(
    conn: &mut AnyConnection,
    question: &ChatMessage,
    project_id: Option<&str>,
    title: &str,
) -> Result<Existence> {
    let id = question.conversation_id;
    let existence =
        ensure_conversation_on(conn, id, project_id, title, question.created_at).await?;
    if existence == Existence::Deleted {
        return Ok(existence);
    }
    insert_message_on(conn, question).await?;
    // A conversation created just now already carries the question's time.
    if existence != Existence::Created {
        touch_conversation(conn, id, question.created_at).await?;
    }
    Ok(existence)
}

/// Stores a finished answer, as the new version of `replaces` when it regenerates one,
/// in the caller's transaction, which must also remove the answer's checkpoint: the
/// answer and its checkpoint are never both kept, nor both lost.
pub(super) async fn answer_on(
    conn: &mut AnyConnection,
    answer: &ChatMessage,
    replaces: Option<Uuid>,
) -> Result<()> {
    insert_message_on(conn, answer).await?;
    touch_conversation(conn, answer.conversation_id, answer.created_at).await?;
    if let Some(old) = replaces {
        supersede_on(conn, old, answer.id).await?;
    }
    Ok(())
}

async fn insert_message_on(conn: &mut AnyConnection, message: &ChatMessage) -> Result<()> {
    let sources = serde_json::to_string(&message.sources)
        .map_err(|e| StorageError::Corrupt(e.to_string()))?;
    let metadata = message
        .metadata
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StorageError::Corrupt(e.to_string()))?;
    // A question follows the message shown last; an answer follows the question shown
    // last (a regenerated answer is stored while its old version is still shown).
    let sql = "INSERT INTO messages \
             (id, conversation_id, position, role, content, sources, metadata, client_msg_id, created_at, parent_id) \
             VALUES ($1, $2, \
                (SELECT COALESCE(MAX(position), 0) + 1 FROM messages WHERE conversation_id = $2), \
                $3, $4, $5, $6, $7, $8, \
                (SELECT id FROM messages WHERE conversation_id = $2 AND superseded_by IS NULL \
                 AND ($3 = 'user' OR role = 'user') ORDER BY position DESC LIMIT 1))";
    sqlx::query(sql)
        .bind(message.id.to_string())
        .bind(message.conversation_id.to_string())
        .bind(role_name(message.role))
        .bind(&message.content)
        .bind(sources)
        .bind(metadata)
        .bind(message.client_msg_id.clone())
        .bind(message.created_at as i64)
        .execute(conn)
        .await?;
    Ok(())
}

async fn supersede_on(conn: &mut AnyConnection, old: Uuid, new: Uuid) -> Result<()> {
    sqlx::query("UPDATE messages SET superseded_by = $1 WHERE id = $2")
        .bind(new.to_string())
        .bind(old.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

impl Store {
    /// Keeps `old` as the previous version of `new`: it leaves the conversation as shown.
    pub async fn supersede_message(&self, old: Uuid, new: Uuid) -> Result<()> {
        let mut conn = self.writer.acquire().await?;
        supersede_on(&mut conn, old, new).await
    }

    /// One page of a conversation's messages, oldest first.
    pub async fn messages_page(
        &self,
        conversation_id: Uuid,
        limit: u64,
        offset: u64,
    ) -> Result<Page<ChatMessage>> {
        let (total,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM messages WHERE conversation_id = $1 AND superseded_by IS NULL",
        )
        .bind(conversation_id.to_string())
        .fetch_one(&self.pool)
        .await?;
        let rows: Vec<MessageRecord> = sqlx::query_as(
            "SELECT id, conversation_id, role, content, sources, metadata, client_msg_id, created_at \
             FROM messages WHERE conversation_id = $1 AND superseded_by IS NULL ORDER BY position LIMIT $2 OFFSET $3",
        )
        .bind(conversation_id.to_string())
        .bind(super::sql_count(limit))
        .bind(super::sql_count(offset))
        .fetch_all(&self.pool)
        .await?;
        Ok(Page {
            items: rows
                .into_iter()
                .map(message_from_record)
                .collect::<Result<_>>()?,
            total: total as u64,
        })
    }

    /// Deletes all but the newest `keep` messages of a conversation; returns how many
    /// were removed and kept.
    pub async fn trim_messages(&self, conversation_id: Uuid, keep: u64) -> Result<(u64, u64)> {
        let removed = sqlx::query(
            "DELETE FROM messages WHERE conversation_id = $1 AND position <= \
             (SELECT COALESCE(MAX(position), 0) FROM messages WHERE conversation_id = $1) - $2",
        )
        .bind(conversation_id.to_string())
        .bind(super::sql_count(keep))
        .execute(&self.writer)
        .await?
        .rows_affected();
        let (kept,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM messages WHERE conversation_id = $1")
                .bind(conversation_id.to_string())
                .fetch_one(&self.writer)
                .await?;
        Ok((removed, kept as u64))
    }

    /// Counts and averages over live conversations. Token and latency figures come from
    /// the answers' metadata, which is JSON text both databases store alike, so they are
    /// summed here rather than in backend-specific SQL.
    pub async fn chat_stats(&self) -> Result<ChatStats> {
        let (conversations,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM conversations WHERE deleted_at IS NULL")
                .fetch_one(&self.pool)
                .await?;
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT m.role, m.metadata FROM messages m \
             JOIN conversations c ON c.id = m.conversation_id WHERE c.deleted_at IS NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut stats = ChatStats {
            conversations: conversations as u64,
            ..ChatStats::default()
        };
        let (mut ttft_sum, mut ttft_n, mut duration_sum, mut duration_n) = (0u64, 0u64, 0u64, 0u64);
        for (role, metadata) in rows {
            stats.messages += 1;
            if role == "user" {
                stats.user_messages += 1;
                continue;
            }
            stats.assistant_messages += 1;
            let Some(metadata) = metadata
                .as_deref()
                .and_then(|m| serde_json::from_str::<MessageMetadata>(m).ok())
            else {
                continue;
            };
            stats.prompt_tokens += u64::from(metadata.prompt_tokens.unwrap_or(0));
            stats.completion_tokens += u64::from(metadata.completion_tokens.unwrap_or(0));
            if let Some(ttft) = metadata.time_to_first_token_ms {
                ttft_sum += ttft;
                ttft_n += 1;
            }
            duration_sum += metadata.duration_ms;
            duration_n += 1;
            if metadata.finish_reason != FinishReason::Completed {
                stats.incomplete_answers += 1;
            }
        }
        stats.avg_time_to_first_token_ms = (ttft_n > 0).then(|| ttft_sum as f64 / ttft_n as f64);
        stats.avg_duration_ms = (duration_n > 0).then(|| duration_sum as f64 / duration_n as f64);
        Ok(stats)
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
        versions: Vec::new(),
    })
}

pub(super) fn role_name(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

pub(super) fn parse_uuid(text: &str) -> Result<Uuid> {
    Uuid::parse_str(text).map_err(|e| StorageError::Corrupt(format!("bad id {text}: {e}")))
}
