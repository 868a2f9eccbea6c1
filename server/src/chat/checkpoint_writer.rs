//! Saves the checkpoints of every streaming answer through one task, many to a
//! transaction. Each answer saves about once a second; with a thousand answers streaming,
//! a statement each kept SQLite's one writing connection busy and the first tokens of new
//! questions queued behind them for seconds. Batched, a second's checkpoints are one
//! commit.

use tokio::sync::{mpsc, oneshot};

use crate::storage::{Checkpoint, Store};

/// Checkpoints written in one transaction at most.
const MAX_BATCH: usize = 256;

/// Resolves once the checkpoint is written (or its write failed, which is logged).
pub(super) type Saved = oneshot::Receiver<()>;

pub(super) struct CheckpointWriter {
    queue: mpsc::UnboundedSender<(Checkpoint, oneshot::Sender<()>)>,
}

impl CheckpointWriter {
    /// Starts the writing task; it ends when the writer is dropped.
    pub fn start(store: Store) -> Self {
        let (queue, pending) = mpsc::unbounded_channel();
        tokio::spawn(write_batches(store, pending));
        Self { queue }
    }

    /// Queues a checkpoint. The queue holds at most one per running answer, since an
    /// answer waits for its last save before the next (see `ChatService::checkpoint`).
    pub fn save(&self, checkpoint: Checkpoint) -> Saved {
        let (done, saved) = oneshot::channel();
        // Sent only while the service (which owns the writer and so the task) lives.
        let _ = self.queue.send((checkpoint, done));
        saved
    }
}

async fn write_batches(
    store: Store,
    mut pending: mpsc::UnboundedReceiver<(Checkpoint, oneshot::Sender<()>)>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while pending.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (checkpoints, waiting): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        if let Err(e) = store.save_checkpoints(&checkpoints).await {
            tracing::warn!(error = %e, answers = checkpoints.len(), "could not save the answers so far");
        }
        for done in waiting {
            let _ = done.send(());
        }
    }
}
