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
use crate::clock::now_ms;
use crate::providers::{
    ChatProvider, ChatRequest, PromptMessage, PromptRole, ProviderError, ProviderEvent,
};
use crate::realtime::RoomHold;

pub(super) struct ActiveTurn {
    pub message_id: Uuid,
    pub cancel: CancellationToken,
    partial: Mutex<Partial>,
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
        }
    }

    pub fn partial(&self) -> MutexGuard<'_, Partial> {
        self.partial.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub(super) struct TurnSpec {
    pub conversation_id: Uuid,
    pub active: Arc<ActiveTurn>,
    pub provider: Arc<dyn ChatProvider>,
    pub model: Option<String>,
    pub temperature: Option<f32>,
    /// The conversation so far, ending with the question.
    pub prompt: Vec<PromptMessage>,
    /// The answer this one regenerates, kept as its previous version once this is stored.
    pub replaces: Option<Uuid>,
    /// Keeps the room's replay buffer alive while the answer runs.
    pub _hold: RoomHold,
}

enum Ending {
    Completed,
    Stopped,
    Failed(ProviderError),
}

impl ChatService {
    pub(super) async fn run_turn(&self, spec: TurnSpec) {
        let id = spec.conversation_id;
        let room = rooms::conversation(id);
        let message_id = spec.active.message_id;
        let model = spec
            .model
            .clone()
            .unwrap_or_else(|| spec.provider.default_model().to_owned());
        let request = ChatRequest {
            messages: spec.prompt.clone(),
            model: Some(model.clone()),
            temperature: spec.temperature,
        };

        self.hub.publish(
            &room,
            ServerMsg::MessageSources {
                conversation_id: id,
                message_id,
                sources: Vec::new(),
            },
        );

        let started = Instant::now();
        let mut first_token_ms = None;
        let mut usage = None;
        let mut tokens = 0u32;
        let request_messages = request.messages.clone();
        let mut shortened = false;
        let mut stream = spec.provider.stream_chat(request);
        let ending = loop {
            let event = tokio::select! {
                biased;
                _ = spec.active.cancel.cancelled() => break Ending::Stopped,
                _ = self.shutdown.cancelled() => break Ending::Stopped,
                event = stream.next() => event,
            };
            match event {
                Some(Ok(ProviderEvent::Token(token))) => {
                    first_token_ms.get_or_insert_with(|| started.elapsed().as_millis() as u64);
                    tokens += 1;
                    let mut partial = spec.active.partial();
                    partial.text.push_str(&token);
                    self.hub.publish(
                        &room,
                        ServerMsg::MessageToken {
                            conversation_id: id,
                            message_id,
                            token,
                        },
                    );
                }
                Some(Ok(ProviderEvent::Usage {
                    prompt_tokens,
                    completion_tokens,
                })) => usage = Some((prompt_tokens, completion_tokens)),
                Some(Ok(ProviderEvent::RateLimited { retry_in_ms })) => {
                    self.hub.publish(
                        &room,
                        ServerMsg::MessageWaiting {
                            conversation_id: id,
                            message_id,
                            reason: "rate_limited".into(),
                            retry_in_ms,
                        },
                    );
                }
                // A prompt over the model's window: try once more with only the
                // question, unless the answer had already begun.
                Some(Err(ProviderError::ContextTooLong)) if tokens == 0 && !shortened => {
                    shortened = true;
                    stream = spec.provider.stream_chat(ChatRequest {
                        messages: shortest_prompt(&request_messages),
                        model: Some(model.clone()),
                        temperature: spec.temperature,
                    });
                }
                Some(Err(e)) => break Ending::Failed(e),
                None => break Ending::Completed,
            }
        };
        // Dropping the stream aborts the upstream request at once.
        drop(stream);

        let finish_reason = match ending {
            Ending::Completed => FinishReason::Completed,
            Ending::Stopped => FinishReason::Stopped,
            Ending::Failed(_) => FinishReason::Error,
        };
        let metadata = MessageMetadata {
            provider: spec.provider.id().to_owned(),
            model,
            finish_reason,
            sources_count: 0,
            prompt_tokens: usage.map(|(p, _)| p),
            completion_tokens: Some(usage.map(|(_, c)| c).unwrap_or(tokens)),
            time_to_first_token_ms: first_token_ms,
            duration_ms: started.elapsed().as_millis() as u64,
            research_iterations: None,
        };

        let _conversation = self.locks.lock(id).await;
        let content = spec.active.partial().text.clone();
        let answer = ChatMessage {
            id: message_id,
            conversation_id: id,
            role: Role::Assistant,
            content: content.clone(),
            sources: Vec::new(),
            metadata: Some(metadata.clone()),
            client_msg_id: None,
            created_at: now_ms(),
        };
        let mut stored = self.store.insert_message(&answer).await;
        if let (Ok(()), Some(old)) = (&stored, spec.replaces) {
            stored = self.store.supersede_message(old, message_id).await;
        }
        self.turns().remove(&id);
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
        self.hub.publish(&room, event);
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
