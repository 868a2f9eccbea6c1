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

mod branches;
mod claim;
mod context;
mod locks;
mod recovery;
mod research;
mod slots;
mod turn;
mod turn_writer;

pub use branches::Edit;

use std::collections::HashMap;
use std::sync::Arc;

use app::protocol::{ChatMessage, InProgress, Role, ServerMsg, Source, rooms};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::clock::now_ms;
use crate::cluster::{Cluster, ClusterError, Signal};
use crate::fault::{ClientFault, Fault};
use crate::projects::{ProjectError, ProjectService};
use crate::providers::{ChatProvider, PromptMessage, Providers};
use crate::rag::Rag;
use crate::realtime::{Follower, Hub, JoinOutcome, Peer};
use crate::storage::{Checkpoint, Existence, StorageError, Store};

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
    #[error("no project with id {0}")]
    UnknownProject(String),
    #[error("the conversation was deleted")]
    Deleted,
    #[error("only the conversation's last answer can be regenerated")]
    NotRegenerable,
    #[error("only a question of the conversation as shown can be edited")]
    NotEditable,
    #[error("the conversation has no message {0}")]
    UnknownMessage(Uuid),
    #[error(
        "{waiting} questions are already waiting for an answer on this server; try again shortly (REPOWIKI_MAX_WAITING_ANSWERS)"
    )]
    Overloaded { waiting: usize },
    #[error("projects: {0}")]
    Projects(ProjectError),
    #[error("the other instances cannot be reached: {0}")]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ClientFault for ChatError {
    fn fault(&self) -> Fault {
        match self {
            Self::EmptyMessage
            | Self::MessageTooLong { .. }
            | Self::UnknownProvider(_)
            | Self::NotRegenerable
            | Self::NotEditable => Fault::Invalid,
            Self::Busy => Fault::Busy,
            Self::Overloaded { .. } => Fault::Overloaded,
            Self::Deleted | Self::UnknownProject(_) | Self::UnknownMessage(_) => Fault::NotFound,
            Self::Cluster(_) => Fault::Upstream("redis"),
            Self::Projects(_) | Self::Storage(_) => Fault::Internal,
        }
    }
}

/// A question as the engine receives it, whichever endpoint it came through.
#[derive(Debug, Clone)]
pub struct Question {
    pub conversation_id: Uuid,
    /// The project a new conversation belongs to; ignored for an existing one.
    pub project_id: Option<String>,
    /// A file of the project the question is about; its content goes into the prompt.
    pub file_path: Option<String>,
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
    /// Who asks (`key:…` or `ip:…`), for the per-client limit on answers at once.
    pub client: String,
}

pub struct ChatService {
    store: Store,
    hub: Arc<Hub>,
    providers: Providers,
    rag: Arc<Rag>,
    /// Whether a project exists, and a file's text for a question about that file.
    projects: Arc<ProjectService>,
    locks: locks::ConversationLocks,
    turns: claim::RunningTurns,
    /// Cancelled at shutdown: running turns stop and store what they have.
    shutdown: CancellationToken,
    max_message_chars: usize,
    /// Iterations of a deep research with a real provider.
    research_iterations: u32,
    /// Answers running at once, in total and per client, and the line before them.
    slots: slots::AnswerSlots,
    /// The other instances, when there are: the one-answer lock is shared with them.
    cluster: Option<Arc<Cluster>>,
    instance: String,
    /// Commits turns' questions, answers and checkpoints, many to a transaction.
    writer: turn_writer::TurnWriter,
}

/// The engine's limits, from configuration.
#[derive(Debug, Clone, Copy)]
pub struct ChatLimits {
    pub max_message_chars: usize,
    pub research_iterations: u32,
    pub max_answers: usize,
    pub max_answers_per_client: usize,
    pub max_waiting_answers: usize,
}

/// What the chat engine is built on.
pub struct ChatDeps {
    pub store: Store,
    pub hub: Arc<Hub>,
    pub providers: Providers,
    pub rag: Arc<Rag>,
    pub projects: Arc<ProjectService>,
    /// Cancelled at shutdown: running turns stop and store what they have.
    pub shutdown: CancellationToken,
    /// The other instances, if any.
    pub cluster: Option<Arc<Cluster>>,
    /// This instance's name, written into the checkpoints of its answers.
    pub instance: String,
}

/// The cluster-wide lease that makes one answer per conversation.
fn answer_lease(conversation_id: Uuid) -> String {
    format!("answer:{conversation_id}")
}

impl ChatService {
    pub fn new(deps: ChatDeps, limits: ChatLimits) -> Arc<Self> {
        let ChatDeps {
            store,
            hub,
            providers,
            rag,
            projects,
            shutdown,
            cluster,
            instance,
        } = deps;
        let writer = turn_writer::TurnWriter::start(store.clone());
        let service = Arc::new(Self {
            store,
            hub,
            providers,
            rag,
            projects,
            locks: locks::ConversationLocks::default(),
            turns: claim::RunningTurns::default(),
            shutdown,
            max_message_chars: limits.max_message_chars,
            research_iterations: limits.research_iterations,
            slots: slots::AnswerSlots::new(
                limits.max_answers,
                limits.max_answers_per_client,
                limits.max_waiting_answers,
            ),
            writer,
            cluster,
            instance,
        });
        if let Some(cluster) = &service.cluster {
            tokio::spawn(obey_signals(cluster.signals(), Arc::downgrade(&service)));
            tokio::spawn(recovery::watch_for_interrupted(
                Arc::downgrade(&service),
                cluster.lease(),
                service.shutdown.clone(),
            ));
        }
        service
    }

    /// Makes a local claim cluster-wide: only one instance answers in a conversation.
    async fn share_claim(&self, claim: claim::TurnClaim) -> Result<claim::TurnClaim, ChatError> {
        let Some(cluster) = &self.cluster else {
            return Ok(claim);
        };
        match cluster
            .acquire(&answer_lease(claim.conversation_id()))
            .await?
        {
            Some(lease) => Ok(claim.with_lease(lease)),
            None => Err(ChatError::Busy),
        }
    }

    /// A project named by a new conversation must exist.
    async fn check_project(&self, project_id: Option<&str>) -> Result<(), ChatError> {
        let Some(project_id) = project_id else {
            return Ok(());
        };
        match self.projects.get(project_id).await {
            Ok(_) => Ok(()),
            Err(ProjectError::NotFound) => Err(ChatError::UnknownProject(project_id.to_owned())),
            Err(e) => Err(ChatError::Projects(e)),
        }
    }

    /// Stores the question, announces it to the conversation's room and starts the
    /// answer. Returns the stored user message.
    pub async fn ask(self: &Arc<Self>, question: Question) -> Result<ChatMessage, ChatError> {
        let content = self.checked_content(&question.content)?;
        let provider = self.provider(question.provider.as_deref())?;
        let existing = self.store.conversation(question.conversation_id).await?;
        let project_id = match &existing {
            Some(conversation) => conversation.project_id.clone(),
            None => {
                self.check_project(question.project_id.as_deref()).await?;
                question.project_id.clone()
            }
        };

        let id = question.conversation_id;
        let room = rooms::conversation(id);
        // Claimed before any await, so two questions cannot both start a turn.
        let claim = self.turns.claim(id)?;
        let claim = self.share_claim(claim).await?;
        let ticket = self.enqueue(&question.client)?;
        let hold = self.hub.own(&room).await;

        let model = question
            .model
            .unwrap_or_else(|| provider.default_model().to_owned());
        let (stored, history, started_at) = {
            let _conversation = self.locks.lock(id).await;
            // Read before the question is stored: a read that fails then leaves nothing
            // behind (once stored, the question's answer has a checkpoint, which would
            // come back as an interrupted answer).
            let mut history = match &existing {
                Some(_) if question.include_history => self.store.messages(id).await?,
                _ => Vec::new(),
            };
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
                versions: Vec::new(),
            };
            let answer = Checkpoint::started(
                claim.active().message_id,
                id,
                self.instance.clone(),
                provider.id().to_owned(),
                model.clone(),
                now,
            );
            let existence = self
                .writer
                .store_question(
                    message.clone(),
                    project_id.clone(),
                    title_from(content),
                    Box::new(answer),
                )
                .await?;
            match existence {
                Existence::Deleted => return Err(ChatError::Deleted),
                // Created meanwhile by another request: its history is read now.
                Existence::Existing if existing.is_none() && question.include_history => {
                    history = self.store.messages(id).await?;
                    history.retain(|m| m.id != message.id);
                }
                _ => {}
            }
            self.hub.publish(
                &room,
                ServerMsg::MessageReceived {
                    conversation_id: id,
                    message: message.clone(),
                },
            );
            history.push(message.clone());
            (message, history, now)
        };

        let mut prompt = question.prior;
        prompt.extend(turn::prompt_from(&history));
        self.spawn_turn(
            turn::TurnSpec {
                conversation_id: id,
                claim,
                provider,
                model,
                temperature: question.temperature,
                project_id,
                file_path: question.file_path,
                prompt,
                deep_research: question.deep_research,
                replaces: None,
                checkpointed_at: Some(started_at),
                _hold: hold,
            },
            ticket,
        );
        Ok(stored)
    }

    /// A question's text, trimmed, within the configured length.
    fn checked_content<'a>(&self, content: &'a str) -> Result<&'a str, ChatError> {
        let content = content.trim();
        if content.is_empty() {
            return Err(ChatError::EmptyMessage);
        }
        if content.chars().count() > self.max_message_chars {
            return Err(ChatError::MessageTooLong {
                max: self.max_message_chars,
            });
        }
        Ok(content)
    }

    /// The provider a question names, or the default one.
    fn provider(&self, name: Option<&str>) -> Result<Arc<dyn ChatProvider>, ChatError> {
        self.providers
            .get(name)
            .ok_or_else(|| ChatError::UnknownProvider(name.unwrap_or_default().to_owned()))
    }

    /// Runs the answer as a task of its own: it belongs to the conversation, not to the
    /// connection that asked.
    fn spawn_turn(self: &Arc<Self>, spec: turn::TurnSpec, ticket: slots::Ticket) {
        let service = Arc::clone(self);
        tokio::spawn(async move { service.run_turn(spec, ticket).await });
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
        client: &str,
    ) -> Result<(), ChatError> {
        let provider_impl = self.provider(provider.as_deref())?;
        let claim = self.turns.claim(conversation_id)?;
        let claim = self.share_claim(claim).await?;
        let ticket = self.enqueue(client)?;
        let room = rooms::conversation(conversation_id);
        let hold = self.hub.own(&room).await;
        let (history, project_id) = {
            let _conversation = self.locks.lock(conversation_id).await;
            let Some(conversation) = self.store.conversation(conversation_id).await? else {
                return Err(ChatError::Deleted);
            };
            let mut history = self.store.messages(conversation_id).await?;
            match history.last() {
                Some(last) if last.id == message_id && last.role == Role::Assistant => {
                    history.pop();
                }
                _ => return Err(ChatError::NotRegenerable),
            }
            self.hub.publish(
                &room,
                ServerMsg::MessageReplaced {
                    conversation_id,
                    old_message_id: message_id,
                    new_message_id: claim.active().message_id,
                },
            );
            (history, conversation.project_id)
        };
        self.spawn_turn(
            turn::TurnSpec {
                conversation_id,
                claim,
                model: model.unwrap_or_else(|| provider_impl.default_model().to_owned()),
                provider: provider_impl,
                temperature: None,
                project_id,
                file_path: None,
                prompt: turn::prompt_from(&history),
                deep_research: false,
                replaces: Some(message_id),
                checkpointed_at: None,
                _hold: hold,
            },
            ticket,
        );
        Ok(())
    }

    /// A place in line for an answer of `client`, or `Overloaded` when the line is full.
    fn enqueue(&self, client: &str) -> Result<slots::Ticket, ChatError> {
        self.slots.enqueue(client).ok_or(ChatError::Overloaded {
            waiting: self.slots.waiting(),
        })
    }

    /// Stops the running answer, on whichever instance runs it; it is stored as far as
    /// it got, marked stopped. False when no answer runs.
    pub async fn stop(&self, conversation_id: Uuid) -> bool {
        if self.stop_local(conversation_id) {
            return true;
        }
        let Some(cluster) = &self.cluster else {
            return false;
        };
        match cluster.is_held(&answer_lease(conversation_id)).await {
            Ok(true) => match cluster
                .signal(&Signal::StopAnswer { conversation_id })
                .await
            {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(error = %e, conversation = %conversation_id, "could not ask the answering instance to stop");
                    false
                }
            },
            Ok(false) => false,
            Err(e) => {
                tracing::warn!(error = %e, conversation = %conversation_id, "could not read the answer lock");
                false
            }
        }
    }

    /// Stops the answer if this instance runs it.
    pub fn stop_local(&self, conversation_id: Uuid) -> bool {
        match self.turns.get(conversation_id) {
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
        // Its replay buffer and snapshot would still show what REST calls gone.
        if self.store.conversation_deleted(conversation_id).await? {
            return Err(ChatError::Deleted);
        }
        // Only read history when a snapshot may be needed; a plain live join needs none.
        let stored = match since_seq {
            Some(_) => Some(self.store.shown_messages(conversation_id).await?),
            None => None,
        };
        if self.hub.is_shared() {
            // The answer so far may be on another instance and its text is not numbered
            // like the room's events: a snapshot shows the stored messages and is
            // followed by the room's log, which holds the running answer's tokens.
            let outcome = self
                .hub
                .join(&room, peer, since_seq, |last_seq| {
                    Some(ServerMsg::Snapshot {
                        conversation_id,
                        messages: stored.unwrap_or_default(),
                        in_progress: None,
                        last_seq,
                    })
                })
                .await;
            return Ok(outcome);
        }
        let active = self.turns.get(conversation_id);
        let partial = active.as_ref().map(|a| a.partial());
        // An answer with no text yet has nothing to show; its tokens arrive live.
        let in_progress = partial
            .as_ref()
            .filter(|p| !p.text.is_empty())
            .map(|p| InProgress {
                message_id: active.as_ref().map(|a| a.message_id).unwrap_or_default(),
                content: p.text.clone(),
            });
        let outcome = self.hub.join_local(&room, peer, since_seq, |last_seq| {
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

    /// A subscriber to the conversation's room, for endpoints that translate its events
    /// into another wire format: live, or from `since_seq` (a snapshot if it is too old).
    pub async fn follow(
        &self,
        conversation_id: Uuid,
        since_seq: Option<u64>,
        queue_capacity: usize,
    ) -> Result<Follower, ChatError> {
        let follower = Follower::new(&self.hub, queue_capacity);
        self.join(&follower.peer, conversation_id, since_seq)
            .await?;
        Ok(follower)
    }

    /// Answers still running, for graceful shutdown to wait on.
    pub fn running_turns(&self) -> usize {
        self.turns.len()
    }
}

/// Stops local answers that another instance was asked to stop.
async fn obey_signals(
    mut signals: tokio::sync::broadcast::Receiver<Signal>,
    service: std::sync::Weak<ChatService>,
) {
    loop {
        match signals.recv().await {
            Ok(Signal::StopAnswer { conversation_id }) => {
                let Some(service) = service.upgrade() else {
                    return;
                };
                service.stop_local(conversation_id);
            }
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "signals were missed");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Rebuilds stored answers from a room's events, for endpoints that hand out whole
/// messages rather than events: `message_complete` carries the text and metadata, the
/// turn's last `message_sources` before it the sources.
#[derive(Default)]
pub struct AnswerAssembler {
    sources: HashMap<Uuid, Vec<Source>>,
}

impl AnswerAssembler {
    /// The finished answer when `event` completes one; remembers sources on the way.
    pub fn observe(&mut self, event: ServerMsg) -> Option<ChatMessage> {
        match event {
            ServerMsg::MessageSources {
                message_id,
                sources,
                ..
            } => {
                self.sources.insert(message_id, sources);
                None
            }
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
                sources: self.sources.remove(&message_id).unwrap_or_default(),
                metadata: Some(metadata),
                client_msg_id: None,
                created_at: now_ms(),
                versions: Vec::new(),
            }),
            ServerMsg::MessageError { message_id, .. } => {
                self.sources.remove(&message_id);
                None
            }
            _ => None,
        }
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
