//! Commits what every turn writes — its question, its answer's checkpoints, its answer —
//! through one task, as many to a transaction as are waiting. A lone write is committed
//! at once; under load the writes that queue while one commit runs share the next. Each
//! answer saves about once a second: with a thousand answers streaming, a statement each
//! kept SQLite's one writing connection busy and the first tokens of new questions
//! queued behind them for seconds; and two hundred questions (or answers) landing at
//! once made PostgreSQL flush its log two hundred times while answers streamed.

use app::protocol::ChatMessage;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::storage::{Checkpoint, Existence, StorageError, Store, TurnWrite, TurnWritten};

/// Writes committed in one transaction at most.
const MAX_BATCH: usize = 256;

type Outcome = Result<TurnWritten, StorageError>;

/// Resolves once the checkpoint is written (or its write failed, which is logged).
pub(super) type Saved = oneshot::Receiver<Outcome>;

pub(super) struct TurnWriter {
    queue: mpsc::UnboundedSender<(TurnWrite, oneshot::Sender<Outcome>)>,
}

impl TurnWriter {
    /// Starts the writing task; it ends when the writer is dropped.
    pub fn start(store: Store) -> Self {
        let (queue, pending) = mpsc::unbounded_channel();
        tokio::spawn(write_batches(store, pending));
        Self { queue }
    }

    fn queue(&self, write: TurnWrite) -> oneshot::Receiver<Outcome> {
        let (done, outcome) = oneshot::channel();
        // Sent only while the service (which owns the writer and so the task) lives.
        let _ = self.queue.send((write, done));
        outcome
    }

    /// Queues a checkpoint. The queue holds at most one per running answer, since an
    /// answer waits for its last save before the next (see `ChatService::checkpoint`).
    pub fn save(&self, checkpoint: Checkpoint) -> Saved {
        self.queue(TurnWrite::Checkpoint(checkpoint))
    }

    /// Stores a question ([`TurnWrite::Question`]), committed with whatever else waits.
    pub async fn store_question(
        &self,
        question: ChatMessage,
        project_id: Option<String>,
        title: String,
        answer: Box<Checkpoint>,
    ) -> Result<Existence, StorageError> {
        let write = TurnWrite::Question {
            question,
            project_id,
            title,
            answer,
        };
        match self.queue(write).await {
            Ok(Ok(TurnWritten::Question(existence))) => Ok(existence),
            Ok(Ok(other)) => Err(StorageError::Corrupt(format!(
                "a question's write reported {other:?}"
            ))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(StorageError::WriterStopped),
        }
    }

    /// Stores an answer ([`TurnWrite::Answer`]), committed with whatever else waits.
    pub async fn store_answer(
        &self,
        answer: ChatMessage,
        replaces: Option<Uuid>,
    ) -> Result<(), StorageError> {
        match self.queue(TurnWrite::Answer { answer, replaces }).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(StorageError::WriterStopped),
        }
    }
}

async fn write_batches(
    store: Store,
    mut pending: mpsc::UnboundedReceiver<(TurnWrite, oneshot::Sender<Outcome>)>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while pending.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (writes, waiting): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        match store.write_turns(&writes).await {
            Ok(written) => {
                for (done, written) in waiting.into_iter().zip(written) {
                    let _ = done.send(Ok(written));
                }
            }
            Err(e) if writes.len() == 1 => {
                if let (Some(write), Some(done)) = (writes.first(), waiting.into_iter().next()) {
                    report(write, done, Err(e));
                }
            }
            Err(e) => {
                // One bad write must not fail the others: each alone, then.
                tracing::warn!(error = %e, writes = writes.len(), "a batch of chat writes failed; writing each alone");
                for (write, done) in writes.iter().zip(waiting) {
                    let alone = store.write_turns(std::slice::from_ref(write)).await;
                    let outcome = alone
                        .and_then(|mut written| written.pop().ok_or(StorageError::WriterStopped));
                    report(write, done, outcome);
                }
            }
        }
    }
}

/// Hands a write's outcome to its waiter; a checkpoint that failed is logged here, since
/// its answer goes on without it.
fn report(write: &TurnWrite, done: oneshot::Sender<Outcome>, outcome: Outcome) {
    if let (TurnWrite::Checkpoint(checkpoint), Err(e)) = (write, &outcome) {
        tracing::warn!(error = %e, message = %checkpoint.message_id, "could not save the answer so far");
    }
    let _ = done.send(outcome);
}

#[cfg(test)]
mod tests {
    use app::protocol::Role;

    use super::*;

    fn message(conversation_id: Uuid, role: Role) -> ChatMessage {
        ChatMessage {
            id: Uuid::new_v4(),
            conversation_id,
            role,
            content: "text".into(),
            sources: Vec::new(),
            metadata: None,
            client_msg_id: None,
            created_at: 1,
            versions: Vec::new(),
        }
    }

    async fn ask(writer: &TurnWriter, conversation_id: Uuid) -> Result<Existence, StorageError> {
        let question = message(conversation_id, Role::User);
        let answer = Checkpoint::started(
            Uuid::new_v4(),
            conversation_id,
            "test".into(),
            "offline".into(),
            "extractive".into(),
            1,
        );
        let answer = Box::new(answer);
        writer
            .store_question(question, None, "title".into(), answer)
            .await
    }

    #[tokio::test]
    async fn a_failing_write_does_not_fail_the_writes_batched_with_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let store = Store::connect(&url).await.expect("store");
        let writer = TurnWriter::start(store.clone());
        let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
        // Queued together (the test's runtime runs the writer only once all three wait),
        // so they go to the database as one batch; the answer's conversation does not
        // exist, which fails that batch.
        let orphan = message(Uuid::new_v4(), Role::Assistant);
        let (asked, lost, asked_too) = tokio::join!(
            ask(&writer, first),
            writer.store_answer(orphan, None),
            ask(&writer, second),
        );
        assert_eq!(asked.expect("first question"), Existence::Created);
        assert!(lost.is_err());
        assert_eq!(asked_too.expect("second question"), Existence::Created);
        for id in [first, second] {
            assert_eq!(store.messages(id).await.expect("read").len(), 1);
        }
        assert_eq!(store.checkpoints().await.expect("read").len(), 2);
    }
}
