//! Conversations: created on their first message, soft-deleted.

use uuid::Uuid;

use super::{Result, Store};

#[derive(Debug, Clone, PartialEq)]
pub struct ConversationRow {
    pub id: Uuid,
    pub project_id: Option<String>,
    pub title: String,
    pub created_at: u64,
    pub updated_at: u64,
}

impl Store {
    /// Creates the conversation if it does not exist yet; its title is the first question.
    /// Returns whether it was created.
    pub async fn ensure_conversation(&self, id: Uuid, title: &str, now: u64) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO conversations (id, project_id, title, created_at, updated_at) \
             VALUES ($1, NULL, $2, $3, $3) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id.to_string())
        .bind(title)
        .bind(now as i64)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn conversation(&self, id: Uuid) -> Result<Option<ConversationRow>> {
        let row: Option<(String, Option<String>, String, i64, i64)> = sqlx::query_as(
            "SELECT id, project_id, title, created_at, updated_at FROM conversations \
             WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(id, project_id, title, created_at, updated_at)| {
            Ok(ConversationRow {
                id: super::messages::parse_uuid(&id)?,
                project_id,
                title,
                created_at: created_at as u64,
                updated_at: updated_at as u64,
            })
        })
        .transpose()
    }

    pub(super) async fn touch_conversation(&self, id: Uuid, now: u64) -> Result<()> {
        sqlx::query("UPDATE conversations SET updated_at = $1 WHERE id = $2")
            .bind(now as i64)
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
