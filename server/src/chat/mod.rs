//! The chat engine: accepts questions, runs each answer as a task owned by its
//! conversation (not by the socket that asked), and keeps stored history, the answer in
//! progress and the room's events consistent for clients that join at any moment.
//!
//! Consistency rests on two locks, always taken in this order:
//! 1. the conversation's async lock ([`locks::ConversationLocks`]), held by everything
//!    that stores a message and publishes its event, and by a join that reads history;
//! 2. the running turn's `partial` mutex, held while a token is appended and published,
//!    and while a joining client registers and receives the snapshot.
//!
//! So a joining client gets history and the partial answer as of one sequence number,
//! and every later event live: no token is lost or repeated.

mod locks;
mod research;
mod turn;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use app::protocol::{ChatMessage, InProgress, Role, ServerMsg, rooms};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::clock::now_ms;
use crate::providers::{PromptMessage, Providers};
use crate::realtime::{Hub, JoinOutcome, Peer};
use crate::storage::{Existence, StorageError, Store};

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("the message is empty")]
    EmptyMessage,
    #[error("the message is longer than {max} characters")]
    MessageTooLong { max: usize },
    #[error("an answer is already being generated in this conversation; stop it or wait")]
    Busy,
    #[error("no provider named {0} is configured")]
    UnknownProvider(String),
    #[error("the conversation was deleted")]
    Deleted,
    #[error("only the conversation's last answer can be regenerated")]
    NotRegenerable,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A question as the engine receives it, whichever endpoint it came through.
#[derive(Debug, Clone)]
pub struct Question {
    pub conversation_id: Uuid,
    /// The project a new conversation belongs to; ignored for an existing one.
    pub project_id: Option<String>,
    pub content: String,
    pub client_msg_id: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub temperature: Option<f32>,
    /// Whether the stored conversation goes into the prompt (default) or only the question.
    pub include_history: bool,
    /// Research in several iterations (SPEC §7) instead of answering at once.
    pub deep_research: bool,
    /// Earlier turns the client supplies itself (seed 002 sends the whole history with
    /// each request); they precede the stored conversation in the prompt.
    pub prior: Vec<PromptMessage>,
}

pub struct ChatService {
    store: Store,
    hub: Arc<Hub>,
    providers: Providers,
    locks: locks::ConversationLocks,
    turns: Mutex<HashMap<Uuid, Arc<turn::ActiveTurn>>>,
    /// Cancelled at shutdown: running turns stop and store what they have.
    shutdown: CancellationToken,
    max_message_chars: usize,
    /// Iterations of a deep research with a real provider.
    research_iterations: u32,
}

/// The engine's limits, from configuration.
#[derive(Debug, Clone, Copy)]
pub struct ChatLimits {
    pub max_message_chars: usize,
    pub research_iterations: u32,
}

impl ChatService {
    pub fn new(
        store: Store,
        hub: Arc<Hub>,
        providers: Providers,
        shutdown: CancellationToken,
        limits: ChatLimits,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            hub,
            providers,
            locks: locks::ConversationLocks::default(),
            turns: Mutex::new(HashMap::new()),
            shutdown,
            max_message_chars: limits.max_message_chars,
            research_iterations: limits.research_iterations,
        })
    }

    fn turns(&self) -> MutexGuard<'_, HashMap<Uuid, Arc<turn::ActiveTurn>>> {
        self.turns.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores the question, announces it to the conversation's room and starts the
    /// answer. Returns the stored user message.
    pub async fn ask(self: &Arc<Self>, question: Question) -> Result<ChatMessage, ChatError> {
        let content = question.content.trim();
        if content.is_empty() {
            return Err(ChatError::EmptyMessage);
        }
        if content.chars().count() > self.max_message_chars {
            return Err(ChatError::MessageTooLong {
                max: self.max_message_chars,
            });
        }
        let provider = self
            .providers
            .get(question.provider.as_deref())
            .ok_or_else(|| {
                ChatError::UnknownProvider(question.provider.clone().unwrap_or_default())
            })?;

        let id = question.conversation_id;
        let room = rooms::conversation(id);
        // Claimed before any await, so two questions cannot both start a turn.
        let active = {
            let mut turns = self.turns();
            if turns.contains_key(&id) {
                return Err(ChatError::Busy);
            }
            let active = Arc::new(turn::ActiveTurn::new(Uuid::new_v4()));
            turns.insert(id, Arc::clone(&active));
            active
        };
        let hold = self.hub.hold(&room);

        let stored = {
            let _conversation = self.locks.lock(id).await;
            let now = now_ms();
            let message = ChatMessage {
                id: Uuid::new_v4(),
                conversation_id: id,
                role: Role::User,
                content: content.to_owned(),
                sources: Vec::new(),
                metadata: None,
                client_msg_id: question.client_msg_id.clone(),
                created_at: now,
            };
            let result = async {
                let existence = self
                    .store
                    .ensure_conversation(
                        id,
                        question.project_id.as_deref(),
                        &title_from(content),
                        now,
                    )
                    .await?;
                if existence == Existence::Deleted {
                    return Ok(Err(ChatError::Deleted));
                }
                self.store.insert_message(&message).await.map(Ok)
            }
            .await;
            match result {
                Ok(Ok(())) => {}
                Ok(Err(refused)) => {
                    self.turns().remove(&id);
                    return Err(refused);
                }
                Err(e) => {
                    self.turns().remove(&id);
                    return Err(e.into());
                }
            }
            self.hub.publish(
                &room,
                ServerMsg::MessageReceived {
                    conversation_id: id,
                    message: message.clone(),
                },
            );
            message
        };

        let mut prompt = question.prior;
        if question.include_history {
            prompt.extend(turn::prompt_from(&self.store.messages(id).await?));
        } else {
            prompt.extend(turn::prompt_from(std::slice::from_ref(&stored)));
        }
        let service = Arc::clone(self);
        tokio::spawn(async move {
            service
                .run_turn(turn::TurnSpec {
                    conversation_id: id,
                    active,
                    provider,
                    model: question.model,
                    temperature: question.temperature,
                    prompt,
                    deep_research: question.deep_research,
                    replaces: None,
                    _hold: hold,
                })
                .await;
        });
        Ok(stored)
    }

    /// Answers the last question again. The answer `message_id` (which must be the
    /// conversation's last message) is kept as a previous version once the new one is
    /// stored; clients are told with `message_replaced`.
    pub async fn regenerate(
        self: &Arc<Self>,
        conversation_id: Uuid,
        message_id: Uuid,
        provider: Option<String>,
        model: Option<String>,
    ) -> Result<(), ChatError> {
        let provider_impl = self
            .providers
            .get(provider.as_deref())
            .ok_or_else(|| ChatError::UnknownProvider(provider.clone().unwrap_or_default()))?;
        let active = {
            let mut turns = self.turns();
            if turns.contains_key(&conversation_id) {
                return Err(ChatError::Busy);
            }
            let active = Arc::new(turn::ActiveTurn::new(Uuid::new_v4()));
            turns.insert(conversation_id, Arc::clone(&active));
            active
        };
        let room = rooms::conversation(conversation_id);
        let hold = self.hub.hold(&room);
        let history = {
            let _conversation = self.locks.lock(conversation_id).await;
            let checked = async {
                if self.store.conversation(conversation_id).await?.is_none() {
                    return Ok(Err(ChatError::Deleted));
                }
                let mut history = self.store.messages(conversation_id).await?;
                match history.last() {
                    Some(last) if last.id == message_id && last.role == Role::Assistant => {
                        history.pop();
                        Ok(Ok(history))
                    }
                    _ => Ok(Err(ChatError::NotRegenerable)),
                }
            }
            .await;
            let history = match checked {
                Ok(Ok(history)) => history,
                Ok(Err(refused)) => {
                    self.turns().remove(&conversation_id);
                    return Err(refused);
                }
                Err(e) => {
                    self.turns().remove(&conversation_id);
                    return Err(ChatError::Storage(e));
                }
            };
            self.hub.publish(
                &room,
                ServerMsg::MessageReplaced {
                    conversation_id,
                    old_message_id: message_id,
                    new_message_id: active.message_id,
                },
            );
            history
        };
        let service = Arc::clone(self);
        tokio::spawn(async move {
            service
                .run_turn(turn::TurnSpec {
                    conversation_id,
                    active,
                    provider: provider_impl,
                    model,
                    temperature: None,
                    prompt: turn::prompt_from(&history),
                    deep_research: false,
                    replaces: Some(message_id),
                    _hold: hold,
                })
                .await;
        });
        Ok(())
    }

    /// Stops the running answer, if any; it is stored as far as it got, marked stopped.
    pub fn stop(&self, conversation_id: Uuid) -> bool {
        match self.turns().get(&conversation_id) {
            Some(active) => {
                active.cancel.cancel();
                true
            }
            None => false,
        }
    }

    /// Joins `peer` to the conversation's room. A `since_seq` the room can no longer
    /// replay is answered with a snapshot: the stored messages and the answer so far.
    pub async fn join(
        &self,
        peer: &Peer,
        conversation_id: Uuid,
        since_seq: Option<u64>,
    ) -> Result<JoinOutcome, ChatError> {
        let room = rooms::conversation(conversation_id);
        let _conversation = self.locks.lock(conversation_id).await;
        // Only read history when a snapshot may be needed; a plain live join needs none.
        let stored = match since_seq {
            Some(_) => Some(self.store.messages(conversation_id).await?),
            None => None,
        };
        let active = self.turns().get(&conversation_id).cloned();
        let partial = active.as_ref().map(|a| a.partial());
        // An answer with no text yet has nothing to show; its tokens arrive live.
        let in_progress = partial
            .as_ref()
            .filter(|p| !p.text.is_empty())
            .map(|p| InProgress {
                message_id: active.as_ref().map(|a| a.message_id).unwrap_or_default(),
                content: p.text.clone(),
            });
        let outcome = self.hub.join(&room, peer, since_seq, |last_seq| {
            Some(ServerMsg::Snapshot {
                conversation_id,
                messages: stored.unwrap_or_default(),
                in_progress,
                last_seq,
            })
        });
        drop(partial);
        Ok(outcome)
    }

    /// Answers still running, for graceful shutdown to wait on.
    pub fn running_turns(&self) -> usize {
        self.turns().len()
    }
}

/// The stored answer that a `message_complete` event announces, for endpoints that hand
/// out whole messages rather than events.
pub fn completed_answer(event: ServerMsg) -> Option<ChatMessage> {
    match event {
        ServerMsg::MessageComplete {
            conversation_id,
            message_id,
            content,
            metadata,
        } => Some(ChatMessage {
            id: message_id,
            conversation_id,
            role: Role::Assistant,
            content,
            sources: Vec::new(),
            metadata: Some(metadata),
            client_msg_id: None,
            created_at: now_ms(),
        }),
        _ => None,
    }
}

/// A conversation's title: the start of its first question, on one line.
fn title_from(question: &str) -> String {
    const MAX: usize = 80;
    let line = question.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= MAX {
        line
    } else {
        let cut: String = line.chars().take(MAX - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::title_from;

    #[test]
    fn titles_are_one_short_line() {
        assert_eq!(
            title_from("  How does\n\nparsing   work? "),
            "How does parsing work?"
        );
        let long = "word ".repeat(40);
        let title = title_from(&long);
        assert!(title.chars().count() <= 80 && title.ends_with('…'));
    }
}
