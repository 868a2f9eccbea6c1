//! One answer being generated: streams the provider's tokens to the conversation's room,
//! keeps the text so far for clients that join mid-answer, and stores the answer when it
//! ends — completed, stopped, or failed — so nothing produced is ever lost.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use app::protocol::{ChatMessage, FinishReason, MessageMetadata, Role, ServerMsg, rooms};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::ChatService;
use super::claim::TurnClaim;
use super::context::{TurnSources, grounded};
use super::slots::{Running, Ticket};
use crate::clock::now_ms;
use crate::providers::{
    ChatProvider, ChatRequest, PromptMessage, PromptRole, ProviderError, ProviderEvent,
    estimate_tokens,
};
use crate::realtime::RoomHold;
use crate::telemetry;

pub(super) struct ActiveTurn {
    pub message_id: Uuid,
    pub cancel: CancellationToken,
    partial: Mutex<Partial>,
    sources: Mutex<TurnSources>,
    /// Saving the answer so far (see `recovery`).
    checkpoints: Mutex<Checkpoints>,
}

/// When the answer so far was last saved, and the save under way if any.
#[derive(Default)]
pub(super) struct Checkpoints {
    pub last: Option<Instant>,
    pub writing: Option<super::turn_writer::Saved>,
}

pub(super) struct Partial {
    pub text: String,
}

impl ActiveTurn {
    pub fn new(message_id: Uuid) -> Self {
        Self {
            message_id,
            cancel: CancellationToken::new(),
            partial: Mutex::new(Partial {
                text: String::new(),
            }),
            sources: Mutex::default(),
            checkpoints: Mutex::default(),
        }
    }

    pub fn checkpoints(&self) -> MutexGuard<'_, Checkpoints> {
        self.checkpoints.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn sources(&self) -> MutexGuard<'_, TurnSources> {
        self.sources.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn partial(&self) -> MutexGuard<'_, Partial> {
        self.partial.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub(super) struct TurnSpec {
    pub conversation_id: Uuid,
    /// Held until the answer is stored; frees the conversation however the turn ends.
    pub claim: TurnClaim,
    pub provider: Arc<dyn ChatProvider>,
    pub model: String,
    pub temperature: Option<f32>,
    /// The project answers are grounded in; none for a conversation without one.
    pub project_id: Option<String>,
    /// A file the question is about, included whole.
    pub file_path: Option<String>,
    /// The conversation so far, ending with the question.
    pub prompt: Vec<PromptMessage>,
    /// Research in several iterations instead of answering at once.
    pub deep_research: bool,
    /// The answer this one regenerates, kept as its previous version once this is stored.
    pub replaces: Option<Uuid>,
    /// When the answer's first checkpoint was stored with its question (and so when the
    /// answer started); none when the turn saves it itself.
    pub checkpointed_at: Option<u64>,
    /// Keeps the room's replay buffer alive while the answer runs.
    pub _hold: RoomHold,
}

pub(super) enum Ending {
    Completed,
    Stopped,
    Failed(ProviderError),
}

/// The answer's identity and how it is produced, shared by every provider call of a turn.
pub(super) struct TurnCtx<'a> {
    pub conversation_id: Uuid,
    pub room: String,
    pub active: &'a ActiveTurn,
    pub provider: &'a dyn ChatProvider,
    pub model: String,
    pub temperature: Option<f32>,
    pub project_id: Option<&'a str>,
    pub file_path: Option<&'a str>,
    /// The answer this one regenerates.
    pub replaces: Option<Uuid>,
    pub started_at: u64,
}

/// What a turn has produced so far, summed over all of its provider calls.
pub(super) struct Progress {
    started: Instant,
    first_token_ms: Option<u64>,
    tokens: u32,
    prompt_tokens: Option<u32>,
    completion_tokens: Option<u32>,
}

impl Progress {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            first_token_ms: None,
            tokens: 0,
            prompt_tokens: None,
            completion_tokens: None,
        }
    }
}

impl ChatService {
    #[tracing::instrument(name = "turn", skip_all, fields(
        conversation = %spec.conversation_id,
        provider = spec.provider.id(),
        model = %spec.model,
        deep_research = spec.deep_research,
    ))]
    pub(super) async fn run_turn(&self, spec: TurnSpec, ticket: Ticket) {
        let id = spec.conversation_id;
        metrics::counter!(telemetry::TURNS_STARTED, "provider" => spec.provider.id()).increment(1);
        // Shared, so that the claim can be released before the final event goes out.
        let active = Arc::clone(spec.claim.active());
        let message_id = active.message_id;
        let ctx = TurnCtx {
            conversation_id: id,
            room: rooms::conversation(id),
            active: &active,
            provider: spec.provider.as_ref(),
            model: spec.model.clone(),
            temperature: spec.temperature,
            project_id: spec.project_id.as_deref(),
            file_path: spec.file_path.as_deref(),
            replaces: spec.replaces,
            started_at: spec.checkpointed_at.unwrap_or_else(now_ms),
        };

        let mut progress = Progress::new();
        // Saved from the start, so even an answer still waiting for its place is
        // recovered if this instance dies.
        match spec.checkpointed_at {
            Some(_) => active.checkpoints().last = Some(Instant::now()),
            None => self.checkpoint(&ctx, true),
        }
        let place = self.wait_for_place(&ctx, ticket).await;
        let (ending, research_iterations) = if place.is_none() {
            // Stopped (or the server stopping) while waiting: nothing was generated.
            (Ending::Stopped, None)
        } else if spec.deep_research {
            let (ending, done) = self.research(&ctx, &spec.prompt, &mut progress).await;
            (ending, Some(done))
        } else {
            let question = spec
                .prompt
                .iter()
                .rev()
                .find(|m| m.role == PromptRole::User)
                .map(|m| m.content.clone())
                .unwrap_or_default();
            let grounding = self.ground(&ctx, &question).await;
            let prompt = grounded(grounding, &spec.prompt);
            let (ending, _) = self.stream_step(&ctx, prompt, &mut progress, true).await;
            (ending, None)
        };
        drop(place);
        let sources = active.sources().sources();

        let finish_reason = match ending {
            Ending::Completed => FinishReason::Completed,
            Ending::Stopped => FinishReason::Stopped,
            Ending::Failed(_) => FinishReason::Error,
        };
        let metadata = MessageMetadata {
            provider: spec.provider.id().to_owned(),
            model: ctx.model.clone(),
            finish_reason,
            sources_count: u32::try_from(sources.len()).unwrap_or(u32::MAX),
            // Providers that report no usage get estimates: the prompt by the usual four
            // characters a token, the completion by its streamed chunks (about a token each).
            prompt_tokens: progress.prompt_tokens.or_else(|| {
                let prompt: String = spec.prompt.iter().map(|m| m.content.as_str()).collect();
                Some(estimate_tokens(&prompt))
            }),
            completion_tokens: Some(progress.completion_tokens.unwrap_or(progress.tokens)),
            time_to_first_token_ms: progress.first_token_ms,
            duration_ms: progress.started.elapsed().as_millis() as u64,
            research_iterations,
        };

        let recorded = metadata.clone();
        let _conversation = self.locks.lock(id).await;
        let content = active.partial().text.clone();
        let answer = ChatMessage {
            id: message_id,
            conversation_id: id,
            role: Role::Assistant,
            content: content.clone(),
            sources,
            metadata: Some(metadata.clone()),
            client_msg_id: None,
            created_at: now_ms(),
            versions: Vec::new(),
        };
        // A save still under way would otherwise bring the checkpoint back.
        let writing = active.checkpoints().writing.take();
        if let Some(writing) = writing {
            let _ = writing.await;
        }
        let stored = self.writer.store_answer(answer, spec.replaces).await;
        if stored.is_err()
            && let Err(e) = self.store.take_checkpoint(message_id).await
        {
            // The answer is reported lost below; a checkpoint left behind would bring it
            // back at the next start as if it had been interrupted.
            tracing::warn!(error = %e, conversation = %id, "could not remove an unsaved answer's checkpoint");
        }
        spec.claim.release().await;
        let event = match (ending, stored) {
            (_, Err(e)) => {
                tracing::error!(error = %e, conversation = %id, "could not store an answer");
                ServerMsg::MessageError {
                    conversation_id: id,
                    message_id,
                    code: "storage".into(),
                    message: "the answer could not be saved".into(),
                    content,
                }
            }
            (Ending::Failed(e), Ok(())) => ServerMsg::MessageError {
                conversation_id: id,
                message_id,
                code: e.code().into(),
                message: e.to_string(),
                content,
            },
            (_, Ok(())) => ServerMsg::MessageComplete {
                conversation_id: id,
                message_id,
                content,
                metadata,
            },
        };
        record_turn(spec.provider.id(), &event, &recorded);
        self.hub.publish(&ctx.room, event);
    }

    /// A place among the answers running at once; while there is none the room is told
    /// the answer is queued. None when the answer is stopped before its turn comes.
    async fn wait_for_place(&self, ctx: &TurnCtx<'_>, ticket: Ticket) -> Option<Running> {
        if let Some(running) = ticket.try_run() {
            return Some(running);
        }
        self.hub.publish(
            &ctx.room,
            ServerMsg::MessageWaiting {
                conversation_id: ctx.conversation_id,
                message_id: ctx.active.message_id,
                reason: "queued".into(),
                retry_in_ms: 0,
            },
        );
        tokio::select! {
            running = ticket.run() => running,
            _ = ctx.active.cancel.cancelled() => None,
            _ = self.shutdown.cancelled() => None,
        }
    }

    /// Streams one provider call. Visible: its tokens become part of the answer and go to
    /// the room. Not visible (research planning): they are only collected and returned.
    pub(super) async fn stream_step(
        &self,
        ctx: &TurnCtx<'_>,
        messages: Vec<PromptMessage>,
        progress: &mut Progress,
        visible: bool,
    ) -> (Ending, String) {
        let request = |messages| ChatRequest {
            messages,
            model: Some(ctx.model.clone()),
            temperature: ctx.temperature,
        };
        let mut shortened = false;
        let mut step_tokens = 0u32;
        let mut collected = String::new();
        let call_started = Instant::now();
        let mut stream = ctx.provider.stream_chat(request(messages.clone()));
        // Registered once per call rather than once per token: a fresh `cancelled()`
        // future locks the token and registers a waiter each time it is created.
        let stopped = ctx.active.cancel.cancelled();
        let shutting_down = self.shutdown.cancelled();
        tokio::pin!(stopped, shutting_down);
        let ending = loop {
            let event = tokio::select! {
                biased;
                _ = &mut stopped => break Ending::Stopped,
                _ = &mut shutting_down => break Ending::Stopped,
                event = stream.next() => event,
            };
            match event {
                Some(Ok(ProviderEvent::Token(token))) => {
                    step_tokens += 1;
                    if visible {
                        progress
                            .first_token_ms
                            .get_or_insert_with(|| progress.started.elapsed().as_millis() as u64);
                        progress.tokens += 1;
                        self.emit(ctx, token);
                        self.checkpoint(ctx, false);
                    } else {
                        collected.push_str(&token);
                    }
                }
                Some(Ok(ProviderEvent::Usage {
                    prompt_tokens,
                    completion_tokens,
                })) => {
                    *progress.prompt_tokens.get_or_insert(0) += prompt_tokens;
                    *progress.completion_tokens.get_or_insert(0) += completion_tokens;
                }
                Some(Ok(ProviderEvent::RateLimited { retry_in_ms })) => {
                    self.hub.publish(
                        &ctx.room,
                        ServerMsg::MessageWaiting {
                            conversation_id: ctx.conversation_id,
                            message_id: ctx.active.message_id,
                            reason: "rate_limited".into(),
                            retry_in_ms,
                        },
                    );
                }
                // A prompt over the model's window: try once more with only the
                // question, unless the answer had already begun.
                Some(Err(ProviderError::ContextTooLong)) if step_tokens == 0 && !shortened => {
                    shortened = true;
                    stream = ctx
                        .provider
                        .stream_chat(request(shortest_prompt(&messages)));
                }
                Some(Err(e)) => break Ending::Failed(e),
                None => break Ending::Completed,
            }
        };
        // Dropping the stream aborts the upstream request at once.
        drop(stream);
        let provider = ctx.provider.id();
        metrics::histogram!(telemetry::PROVIDER_DURATION, "provider" => provider)
            .record(call_started.elapsed().as_secs_f64());
        if let Ending::Failed(e) = &ending {
            metrics::counter!(telemetry::PROVIDER_ERRORS, "provider" => provider, "code" => e.code())
                .increment(1);
        }
        (ending, collected)
    }

    /// Appends text to the answer and publishes it as a token, atomically with respect to
    /// clients joining mid-answer (see the module comment of `chat`).
    pub(super) fn emit(&self, ctx: &TurnCtx<'_>, token: String) {
        let mut partial = ctx.active.partial();
        partial.text.push_str(&token);
        self.hub.publish(
            &ctx.room,
            ServerMsg::MessageToken {
                conversation_id: ctx.conversation_id,
                message_id: ctx.active.message_id,
                token,
            },
        );
    }
}

/// Counts the turn's ending, and for an answer its time to first token and pace.
fn record_turn(provider: &'static str, event: &ServerMsg, metadata: &MessageMetadata) {
    match event {
        ServerMsg::MessageError { code, .. } => {
            metrics::counter!(telemetry::TURNS_FAILED, "provider" => provider, "code" => code.clone())
                .increment(1);
        }
        _ => metrics::counter!(telemetry::TURNS_COMPLETED, "provider" => provider).increment(1),
    }
    if let Some(first) = metadata.time_to_first_token_ms {
        metrics::histogram!(telemetry::FIRST_TOKEN, "provider" => provider)
            .record(first as f64 / 1000.0);
        let streaming_secs = metadata.duration_ms.saturating_sub(first) as f64 / 1000.0;
        if let (Some(tokens), true) = (metadata.completion_tokens, streaming_secs > 0.0) {
            metrics::histogram!(telemetry::TOKENS_PER_SEC, "provider" => provider)
                .record(f64::from(tokens) / streaming_secs);
        }
    }
}

/// The system instructions and the question alone: the fallback when the whole prompt
/// does not fit the model's context window.
fn shortest_prompt(messages: &[PromptMessage]) -> Vec<PromptMessage> {
    let mut shortest: Vec<PromptMessage> = messages
        .iter()
        .filter(|m| m.role == PromptRole::System)
        .cloned()
        .collect();
    if let Some(question) = messages.iter().rev().find(|m| m.role == PromptRole::User) {
        shortest.push(question.clone());
    }
    shortest
}

/// The conversation as the provider sees it.
pub(super) fn prompt_from(history: &[ChatMessage]) -> Vec<PromptMessage> {
    history
        .iter()
        .map(|m| PromptMessage {
            role: match m.role {
                Role::User => PromptRole::User,
                Role::Assistant => PromptRole::Assistant,
            },
            content: m.content.clone(),
        })
        .collect()
}
