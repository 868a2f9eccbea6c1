//! The writes chat turns make — questions, answers, checkpoints — applied many to one
//! transaction. Each commit costs the database a log flush and the server a round trip
//! per statement to begin and end it; when a burst of questions arrives or a burst of
//! answers ends at once, one commit for all of them is what keeps the database from
//! taking the cores the streaming answers need.

use app::protocol::ChatMessage;
use sqlx::AnyConnection;
use uuid::Uuid;

use super::checkpoints::{delete_checkpoints, upsert_checkpoints};
use super::messages::{answer_on, question_on};
use super::{Checkpoint, Existence, Result, Store};

/// One write of a chat turn.
#[derive(Debug, Clone)]
pub enum TurnWrite {
    /// A question, with its conversation if it is the first (none in a deleted one).
    Question {
        question: ChatMessage,
        project_id: Option<String>,
        title: String,
        /// The answer's first checkpoint, stored with the question.
        answer: Box<Checkpoint>,
    },
    /// A finished answer, replacing its checkpoint (and the answer it regenerates).
    Answer {
        answer: ChatMessage,
        replaces: Option<Uuid>,
    },
    /// An answer so far.
    Checkpoint(Checkpoint),
}

/// What a write did: for a question, whether its conversation was there (nothing is
/// written in a deleted one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnWritten {
    Question(Existence),
    Answer,
    Checkpoint,
}

impl Store {
    /// Applies the writes in order in one transaction, with one commit. All or none: a
    /// failing write fails the batch (the caller may then retry each on its own).
    pub async fn write_turns(&self, writes: &[TurnWrite]) -> Result<Vec<TurnWritten>> {
        let mut tx = self.writer.begin().await?;
        let mut written = Vec::with_capacity(writes.len());
        let mut checkpoints = Checkpoints::default();
        for write in writes {
            written.push(match write {
                TurnWrite::Question {
                    question,
                    project_id,
                    title,
                    answer,
                } => {
                    let existence =
                        question_on(&mut tx, question, project_id.as_deref(), title).await?;
                    // From the commit on, an instance that dies leaves the answer to be
                    // recovered as interrupted.
                    if existence != Existence::Deleted {
                        checkpoints.save(&mut tx, answer).await?;
                    }
                    TurnWritten::Question(existence)
                }
                TurnWrite::Answer { answer, replaces } => {
                    answer_on(&mut tx, answer, *replaces).await?;
                    checkpoints.remove(&mut tx, answer.id).await?;
                    TurnWritten::Answer
                }
                TurnWrite::Checkpoint(checkpoint) => {
                    checkpoints.save(&mut tx, checkpoint).await?;
                    TurnWritten::Checkpoint
                }
            });
        }
        checkpoints.apply(&mut tx).await?;
        tx.commit().await?;
        Ok(written)
    }
}

/// The batch's checkpoint changes, applied many to a statement at the end of the batch
/// rather than a round trip each: every answer that started in the same second saves in
/// the same second, and a burst of answers ends together. A change to an answer that
/// already has one waiting applies the waiting ones first, so the order of the writes
/// holds for each answer (and no statement touches a row twice, which PostgreSQL
/// refuses).
#[derive(Default)]
struct Checkpoints<'a> {
    saved: Vec<&'a Checkpoint>,
    /// Answers stored: their checkpoints go.
    removed: Vec<Uuid>,
}

impl<'a> Checkpoints<'a> {
    async fn save(&mut self, conn: &mut AnyConnection, checkpoint: &'a Checkpoint) -> Result<()> {
        if self.touches(checkpoint.message_id) {
            self.apply(conn).await?;
        }
        self.saved.push(checkpoint);
        Ok(())
    }

    async fn remove(&mut self, conn: &mut AnyConnection, message_id: Uuid) -> Result<()> {
        if self.touches(message_id) {
            self.apply(conn).await?;
        }
        self.removed.push(message_id);
        Ok(())
    }

    fn touches(&self, message_id: Uuid) -> bool {
        self.removed.contains(&message_id) || self.saved.iter().any(|c| c.message_id == message_id)
    }

    async fn apply(&mut self, conn: &mut AnyConnection) -> Result<()> {
        if !self.saved.is_empty() {
            upsert_checkpoints(conn, &self.saved).await?;
            self.saved.clear();
        }
        if !self.removed.is_empty() {
            delete_checkpoints(conn, &self.removed).await?;
            self.removed.clear();
        }
        Ok(())
    }
}
