//! Conversations: created on their first message (or through the REST API), listed with
//! a filter and pagination, soft-deleted.

use app::protocol::rest::{Conversation, Page};
use sqlx::AnyConnection;
use uuid::Uuid;

use super::messages::parse_uuid;
use super::{Result, Store};

type ConversationRecord = (String, Option<String>, String, i64, i64, i64);

macro_rules! select_conversations {
    () => {
        "SELECT c.id, c.project_id, c.title, c.created_at, c.updated_at, \
     (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.superseded_by IS NULL) \
     FROM conversations c"
    };
}

/// What a conversation's existence looks like to a writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existence {
    Created,
    Existing,
    Deleted,
}

macro_rules! live_conversations_filter {
    () => {
        "WHERE c.deleted_at IS NULL \
             AND ($1 IS NULL OR c.project_id = $1) \
             AND ($2 IS NULL OR LOWER(c.title) LIKE $2 ESCAPE '\\')"
    };
}

impl Store {
    /// Creates the conversation if it does not exist yet, with this title.
    pub async fn ensure_conversation(
        &self,
        id: Uuid,
        project_id: Option<&str>,
        title: &str,
        now: u64,
    ) -> Result<Existence> {
        let mut conn = self.writer.acquire().await?;
        ensure_conversation_on(&mut conn, id, project_id, title, now).await
    }

    /// True when the conversation existed and was deleted (false for one never created).
    pub async fn conversation_deleted(&self, id: Uuid) -> Result<bool> {
        let mut conn = self.pool.acquire().await?;
        deleted_on(&mut conn, id).await
    }

    /// A conversation that exists and is not deleted.
    pub async fn conversation(&self, id: Uuid) -> Result<Option<Conversation>> {
        let row: Option<ConversationRecord> = sqlx::query_as(concat!(
            select_conversations!(),
            " WHERE c.id = $1 AND c.deleted_at IS NULL"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(conversation_from_record).transpose()
    }

    /// Newest first; `query` matches the title, case-insensitively.
    pub async fn conversations(
        &self,
        project_id: Option<&str>,
        query: Option<&str>,
        limit: u64,
        offset: u64,
    ) -> Result<Page<Conversation>> {
        let pattern = query.map(|q| format!("%{}%", escape_like(&q.to_lowercase())));
        let (total,): (i64,) = sqlx::query_as(concat!(
            "SELECT COUNT(*) FROM conversations c ",
            live_conversations_filter!()
        ))
        .bind(project_id.map(str::to_owned))
        .bind(pattern.clone())
        .fetch_one(&self.pool)
        .await?;
        let rows: Vec<ConversationRecord> = sqlx::query_as(concat!(
            select_conversations!(),
            " ",
            live_conversations_filter!(),
            " ORDER BY c.updated_at DESC, c.id LIMIT $3 OFFSET $4"
        ))
        .bind(project_id.map(str::to_owned))
        .bind(pattern)
        .bind(super::sql_count(limit))
        .bind(super::sql_count(offset))
        .fetch_all(&self.pool)
        .await?;
        Ok(Page {
            items: rows
                .into_iter()
                .map(conversation_from_record)
                .collect::<Result<_>>()?,
            total: total as u64,
        })
    }

    /// Renames a live conversation; false if there is none.
    pub async fn rename_conversation(&self, id: Uuid, title: &str, now: u64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE conversations SET title = $1, updated_at = $2 \
             WHERE id = $3 AND deleted_at IS NULL",
        )
        .bind(title)
        .bind(now as i64)
        .bind(id.to_string())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks a live conversation deleted; its messages stay for audit. False if none.
    pub async fn delete_conversation(&self, id: Uuid, now: u64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE conversations SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL",
        )
        .bind(now as i64)
        .bind(id.to_string())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// [`Store::ensure_conversation`] on a given connection, so it can share a transaction.
pub(super) async fn ensure_conversation_on(
    conn: &mut AnyConnection,
    id: Uuid,
    project_id: Option<&str>,
    title: &str,
    now: u64,
) -> Result<Existence> {
    let done = sqlx::query(
        "INSERT INTO conversations (id, project_id, title, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id.to_string())
    .bind(project_id.map(str::to_owned))
    .bind(title)
    .bind(now as i64)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 1 {
        return Ok(Existence::Created);
    }
    Ok(if deleted_on(conn, id).await? {
        Existence::Deleted
    } else {
        Existence::Existing
    })
}

/// [`Store::conversation_deleted`] on a given connection.
async fn deleted_on(conn: &mut AnyConnection, id: Uuid) -> Result<bool> {
    let deleted: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT deleted_at FROM conversations WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(conn)
            .await?;
    Ok(matches!(deleted, Some((Some(_),))))
}

/// Marks the conversation as changed now, so lists order it first.
pub(super) async fn touch_conversation(conn: &mut AnyConnection, id: Uuid, now: u64) -> Result<()> {
    sqlx::query("UPDATE conversations SET updated_at = $1 WHERE id = $2")
        .bind(now as i64)
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

fn conversation_from_record(record: ConversationRecord) -> Result<Conversation> {
    let (id, project_id, title, created_at, updated_at, message_count) = record;
    Ok(Conversation {
        id: parse_uuid(&id)?,
        project_id,
        title,
        created_at: created_at as u64,
        updated_at: updated_at as u64,
        message_count: message_count.max(0) as u64,
    })
}

/// `%` and `_` in a user's search are literal characters, not wildcards.
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
