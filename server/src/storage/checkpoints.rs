//! Answers in progress, saved while they stream (see the `answer_checkpoints` migration).

use app::protocol::Source;
use sqlx::AnyConnection;
use uuid::Uuid;

use super::{Result, StorageError, Store};

/// An answer as far as it had got when last saved.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub message_id: Uuid,
    pub conversation_id: Uuid,
    /// The instance generating the answer.
    pub owner: String,
    pub content: String,
    pub sources: Vec<Source>,
    pub provider: String,
    pub model: String,
    pub replaces: Option<Uuid>,
    pub started_at: u64,
    pub updated_at: u64,
}

type CheckpointRecord = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    i64,
);

impl Checkpoint {
    /// An answer's first checkpoint, saved as it starts: no text yet.
    pub fn started(
        message_id: Uuid,
        conversation_id: Uuid,
        owner: String,
        provider: String,
        model: String,
        at: u64,
    ) -> Self {
        Self {
            message_id,
            conversation_id,
            owner,
            content: String::new(),
            sources: Vec::new(),
            provider,
            model,
            replaces: None,
            started_at: at,
            updated_at: at,
        }
    }
}

impl Store {
    /// Removes the checkpoint; true only for the one caller that removed it, so of two
    /// instances recovering the same answer, one stores it.
    pub async fn take_checkpoint(&self, message_id: Uuid) -> Result<bool> {
        let mut conn = self.writer.acquire().await?;
        delete_checkpoint_on(&mut conn, message_id).await
    }

    /// Every checkpoint, oldest first: answers running now, or left by a dead instance.
    pub async fn checkpoints(&self) -> Result<Vec<Checkpoint>> {
        let rows: Vec<CheckpointRecord> = sqlx::query_as(
            "SELECT message_id, conversation_id, owner, content, sources, provider, model, replaces, \
             started_at, updated_at FROM answer_checkpoints ORDER BY started_at",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(checkpoint_from_record).collect()
    }
}

fn checkpoint_from_record(record: CheckpointRecord) -> Result<Checkpoint> {
    let (
        message_id,
        conversation_id,
        owner,
        content,
        sources,
        provider,
        model,
        replaces,
        started,
        updated,
    ) = record;
    let id = |text: &str| Uuid::parse_str(text).map_err(|e| StorageError::Corrupt(e.to_string()));
    Ok(Checkpoint {
        message_id: id(&message_id)?,
        conversation_id: id(&conversation_id)?,
        owner,
        content,
        sources: serde_json::from_str(&sources)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?,
        provider,
        model,
        replaces: replaces.as_deref().map(id).transpose()?,
        started_at: started.max(0) as u64,
        updated_at: updated.max(0) as u64,
    })
}

/// Answers one statement saves or removes at most: 480 parameters stay under SQLite's
/// oldest limit of 999, and each connection's statement cache (100) holds the text for
/// every count.
const ROWS_PER_STATEMENT: usize = 48;

/// Saves answers so far, each replacing its previous checkpoint, in the caller's
/// transaction: one statement for many rows, since a burst of them (every answer that
/// started in the same second saves in the same second) was a round trip each. The
/// same answer must not appear twice (PostgreSQL refuses to update a row twice in one
/// statement).
pub(super) async fn upsert_checkpoints(
    conn: &mut AnyConnection,
    checkpoints: &[&Checkpoint],
) -> Result<()> {
    for rows in checkpoints.chunks(ROWS_PER_STATEMENT) {
        let values: Vec<String> = (0..rows.len())
            .map(|row| format!("({})", placeholders(row * 10 + 1, 10)))
            .collect();
        let sql = format!(
            "INSERT INTO answer_checkpoints \
             (message_id, conversation_id, owner, content, sources, provider, model, replaces, started_at, updated_at) \
             VALUES {} ON CONFLICT (message_id) DO UPDATE SET \
             content = excluded.content, sources = excluded.sources, updated_at = excluded.updated_at",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for checkpoint in rows {
            let sources = serde_json::to_string(&checkpoint.sources)
                .map_err(|e| StorageError::Corrupt(e.to_string()))?;
            query = query
                .bind(checkpoint.message_id.to_string())
                .bind(checkpoint.conversation_id.to_string())
                .bind(checkpoint.owner.as_str())
                .bind(checkpoint.content.as_str())
                .bind(sources)
                .bind(checkpoint.provider.as_str())
                .bind(checkpoint.model.as_str())
                .bind(checkpoint.replaces.map(|id| id.to_string()))
                .bind(checkpoint.started_at as i64)
                .bind(checkpoint.updated_at as i64);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Removes the checkpoints of answers stored in the caller's transaction, one statement
/// for many.
pub(super) async fn delete_checkpoints(
    conn: &mut AnyConnection,
    message_ids: &[Uuid],
) -> Result<()> {
    for ids in message_ids.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "DELETE FROM answer_checkpoints WHERE message_id IN ({})",
            placeholders(1, ids.len())
        );
        let mut query = sqlx::query(&sql);
        for id in ids {
            query = query.bind(id.to_string());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// `$first, $first+1, …`, `count` of them.
fn placeholders(first: usize, count: usize) -> String {
    let numbered: Vec<String> = (first..first + count).map(|n| format!("${n}")).collect();
    numbered.join(", ")
}

/// Removes the checkpoint on a given connection, so it can share a transaction; true
/// when there was one.
async fn delete_checkpoint_on(conn: &mut AnyConnection, message_id: Uuid) -> Result<bool> {
    let removed = sqlx::query("DELETE FROM answer_checkpoints WHERE message_id = $1")
        .bind(message_id.to_string())
        .execute(conn)
        .await?
        .rows_affected();
    Ok(removed > 0)
}
