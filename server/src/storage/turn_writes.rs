//! The writes chat turns make — questions, answers, checkpoints — applied many to one
//! transaction. Each commit costs the database a log flush and the server a round trip
//! per statement to begin and end it; when a burst of questions arrives or a burst of
//! answers ends at once, one commit for all of them is what keeps the database from
//! taking the cores the streaming answers need.

use app::protocol::ChatMessage;
use uuid::Uuid;

use super::checkpoints::upsert_checkpoint;
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
        for write in writes {
            written.push(match write {
                TurnWrite::Question {
                    question,
                    project_id,
                    title,
                    answer,
                } => TurnWritten::Question(
                    question_on(&mut tx, question, project_id.as_deref(), title, answer).await?,
                ),
                TurnWrite::Answer { answer, replaces } => {
                    answer_on(&mut tx, answer, *replaces).await?;
                    TurnWritten::Answer
                }
                TurnWrite::Checkpoint(checkpoint) => {
                    upsert_checkpoint(&mut tx, checkpoint).await?;
                    TurnWritten::Checkpoint
                }
            });
        }
        tx.commit().await?;
        Ok(written)
    }
}
