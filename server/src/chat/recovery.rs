//! Answers outlive the instance generating them. While an answer streams it is saved
//! about every second ([`ChatService::checkpoint`]); an answer whose checkpoint remains
//! while nobody runs it (its instance was killed: no local turn, and with several
//! instances its lease has expired) is stored as interrupted, as far as it had got, and
//! its room is told with `message_error {code: "interrupted"}` so clients can regenerate.

use std::sync::Weak;
use std::time::{Duration, Instant};

use app::protocol::{ChatMessage, FinishReason, MessageMetadata, Role, ServerMsg, rooms};
use tokio::sync::oneshot::error::TryRecvError;
use tokio_util::sync::CancellationToken;

use super::turn::TurnCtx;
use super::{ChatError, ChatService, answer_lease};
use crate::clock::now_ms;
use crate::storage::Checkpoint;

/// How often a streaming answer is saved: at most this much is lost with its instance.
pub(super) const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Told to clients whose answer was interrupted.
const INTERRUPTED: &str =
    "the server generating this answer stopped before it finished; regenerate it to try again";

impl ChatService {
    /// Saves the answer so far, when `CHECKPOINT_EVERY` has passed since the last save
    /// (or at once when `now`), in the background: a token never waits for the
    /// database. One save at a time; a failed one is logged and the answer goes on.
    pub(super) fn checkpoint(&self, ctx: &TurnCtx<'_>, now: bool) {
        let mut checkpoints = ctx.active.checkpoints();
        if let Some(writing) = checkpoints.writing.as_mut() {
            match writing.try_recv() {
                Err(TryRecvError::Empty) => return,
                // Done: a receiver that has given its value must not be awaited again.
                _ => checkpoints.writing = None,
            }
        }
        if !now
            && checkpoints
                .last
                .is_some_and(|at| at.elapsed() < CHECKPOINT_EVERY)
        {
            return;
        }
        checkpoints.last = Some(Instant::now());
        let checkpoint = Checkpoint {
            message_id: ctx.active.message_id,
            conversation_id: ctx.conversation_id,
            owner: self.instance.clone(),
            content: ctx.active.partial().text.clone(),
            sources: ctx.active.sources().sources(),
            provider: ctx.provider.id().to_owned(),
            model: ctx.model.clone(),
            replaces: ctx.replaces,
            started_at: ctx.started_at,
            updated_at: now_ms(),
        };
        checkpoints.writing = Some(self.writer.save(checkpoint));
    }

    /// Stores every answer left behind by a dead instance as interrupted; returns how
    /// many it stored.
    pub async fn recover_interrupted(&self) -> Result<usize, ChatError> {
        let mut recovered = 0;
        for checkpoint in self.store.checkpoints().await? {
            let running_here = self
                .turns
                .get(checkpoint.conversation_id)
                .is_some_and(|turn| turn.message_id == checkpoint.message_id);
            if running_here {
                continue;
            }
            let abandoned = match &self.cluster {
                Some(cluster) => {
                    !cluster
                        .is_held(&answer_lease(checkpoint.conversation_id))
                        .await?
                }
                // Alone, only this instance's own answers from before a restart are
                // known to be dead; another process on the same database may be alive.
                None => checkpoint.owner == self.instance,
            };
            if !abandoned {
                continue;
            }
            if self.interrupt(checkpoint).await? {
                recovered += 1;
            }
        }
        Ok(recovered)
    }

    async fn interrupt(&self, checkpoint: Checkpoint) -> Result<bool, ChatError> {
        let id = checkpoint.conversation_id;
        let checkpoint_owner = checkpoint.owner.clone();
        let _conversation = self.locks.lock(id).await;
        // Of several instances recovering the same answer, the one that removes the
        // checkpoint stores it.
        if !self.store.take_checkpoint(checkpoint.message_id).await? {
            return Ok(false);
        }
        let answer = ChatMessage {
            id: checkpoint.message_id,
            conversation_id: id,
            role: Role::Assistant,
            content: checkpoint.content.clone(),
            metadata: Some(MessageMetadata {
                provider: checkpoint.provider,
                model: checkpoint.model,
                finish_reason: FinishReason::Interrupted,
                sources_count: u32::try_from(checkpoint.sources.len()).unwrap_or(u32::MAX),
                prompt_tokens: None,
                completion_tokens: None,
                time_to_first_token_ms: None,
                duration_ms: checkpoint.updated_at.saturating_sub(checkpoint.started_at),
                research_iterations: None,
            }),
            sources: checkpoint.sources,
            client_msg_id: None,
            created_at: checkpoint.updated_at,
            versions: Vec::new(),
        };
        self.store.insert_message(&answer).await?;
        if let Some(old) = checkpoint.replaces {
            self.store.supersede_message(old, answer.id).await?;
        }
        tracing::warn!(conversation = %id, message = %answer.id, "stored an interrupted answer");
        let room = rooms::conversation(id);
        if let Some(cluster) = &self.cluster {
            // Its instance may have numbered the room's events; Redis does from now on.
            cluster.release_dead_owner(&room, &checkpoint_owner);
        }
        self.hub.publish(
            &room,
            ServerMsg::MessageError {
                conversation_id: id,
                message_id: answer.id,
                code: "interrupted".into(),
                message: INTERRUPTED.into(),
                content: answer.content,
            },
        );
        Ok(true)
    }
}

/// With several instances, looks for interrupted answers every `every`: another
/// instance may die at any time. (At start every instance looks once, see `lib`.)
pub(super) async fn watch_for_interrupted(
    service: Weak<ChatService>,
    every: Duration,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let Some(chat) = service.upgrade() else {
            return;
        };
        chat.recover_and_log().await;
    }
}

impl ChatService {
    /// [`ChatService::recover_interrupted`], its outcome logged.
    pub async fn recover_and_log(&self) {
        match self.recover_interrupted().await {
            Ok(0) => {}
            Ok(recovered) => tracing::info!(recovered, "interrupted answers stored"),
            Err(e) => tracing::warn!(error = %e, "could not look for interrupted answers"),
        }
    }
}
