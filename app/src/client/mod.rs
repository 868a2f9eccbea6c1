//! The browser's view of the server: connection state, the open conversation, live job
//! and upload progress, and the outgoing queue to the application socket. One
//! [`ChatClient`] per tab, in context.
//!
//! Everything here compiles on the server too, where the client simply never connects:
//! the server renders the initial state and the browser takes over after hydration.

pub mod api;
mod conversation;
pub mod page_reads;
#[cfg(feature = "hydrate")]
mod socket;
#[cfg(feature = "hydrate")]
mod sse;

use std::collections::HashMap;

use futures::channel::mpsc::UnboundedSender;
use leptos::prelude::*;
use uuid::Uuid;

use crate::protocol::{ClientMsg, DocumentState, JobProgress, ServerFrame, ServerMsg, rooms};
pub use conversation::{ConversationView, MessageState, ResearchStep, UiMessage};

/// What the connection indicator shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionStatus {
    Connected,
    /// Trying to (re)connect; `attempt` counts from 1.
    Reconnecting {
        attempt: u32,
    },
    /// No connection and none being attempted: before hydration, or the browser is offline.
    Offline,
    /// The server refused this browser's key or session (close 1008): reconnecting cannot
    /// help until the user signs in again.
    SignInNeeded,
}

/// The choices a question is sent with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SendOptions {
    pub provider: Option<String>,
    pub model: Option<String>,
    pub deep_research: bool,
    pub project_id: Option<String>,
}

/// Where an uploaded document's processing is, from `document_status` events.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentProgress {
    pub path: String,
    pub status: DocumentState,
    pub progress: f32,
    pub error: Option<String>,
}

#[derive(Clone, Copy)]
pub struct ChatClient {
    pub status: RwSignal<ConnectionStatus>,
    /// Round-trip time of the last ping, in milliseconds.
    pub latency_ms: RwSignal<Option<u64>>,
    pub conversation: RwSignal<ConversationView>,
    /// Bumped when the conversation list may have changed (new, renamed or deleted).
    pub conversations_changed: RwSignal<u64>,
    /// The newest progress of every job whose room was joined, by job id.
    pub jobs: RwSignal<HashMap<String, JobProgress>>,
    /// The newest status of every wiki job heard of in the room all of them report to.
    pub wiki_jobs: RwSignal<HashMap<String, crate::protocol::JobStatus>>,
    /// Upload progress per document id, in the joined project room.
    pub documents: RwSignal<HashMap<String, DocumentProgress>>,
    /// Bumped on every `project_update`.
    pub project_changed: RwSignal<u64>,
    /// Connections (tabs, people) with the open conversation open, this one included.
    pub viewers: RwSignal<usize>,
    /// Other connections typing in the open conversation.
    pub typing: RwSignal<std::collections::HashSet<Uuid>>,
    /// The newest sequence number seen per joined room: what a reconnect resumes from.
    rooms: StoredValue<HashMap<String, u64>>,
    outbox: StoredValue<Option<UnboundedSender<ClientMsg>>>,
}

impl Default for ChatClient {
    fn default() -> Self {
        Self::new()
    }
}

impl ChatClient {
    pub fn new() -> Self {
        Self {
            status: RwSignal::new(ConnectionStatus::Offline),
            latency_ms: RwSignal::new(None),
            conversation: RwSignal::new(ConversationView::default()),
            conversations_changed: RwSignal::new(0),
            jobs: RwSignal::new(HashMap::new()),
            wiki_jobs: RwSignal::new(HashMap::new()),
            documents: RwSignal::new(HashMap::new()),
            project_changed: RwSignal::new(0),
            viewers: RwSignal::new(0),
            typing: RwSignal::new(Default::default()),
            rooms: StoredValue::new(HashMap::new()),
            outbox: StoredValue::new(None),
        }
    }

    /// Opens the socket and keeps it open; browser only, and only once.
    pub fn start(self) {
        #[cfg(feature = "hydrate")]
        if self.outbox.with_value(Option::is_none) {
            socket::spawn(self);
        }
    }

    /// Shows conversation `id`, subscribing to its room; replays what this tab has not seen.
    pub fn open_conversation(self, id: Uuid) {
        let room = rooms::conversation(id);
        if self.rooms.with_value(|r| r.contains_key(&room)) {
            return;
        }
        self.leave_conversations();
        // Messages the server rendered for this conversation stay until the snapshot.
        if self.conversation.with_untracked(|c| c.id != Some(id)) {
            self.conversation.set(ConversationView::new(id));
        }
        self.join(room, Some(0));
    }

    /// Server-rendered messages, shown until the socket's snapshot replaces them.
    pub fn seed_conversation(self, id: Uuid, messages: &[crate::protocol::ChatMessage]) {
        self.conversation.update(|c| {
            if c.id != Some(id) {
                *c = ConversationView::new(id);
            }
            c.seed(messages);
        });
    }

    /// Back to an empty, new conversation (the `/` page).
    pub fn new_conversation(self) {
        self.leave_conversations();
        if self
            .conversation
            .with_untracked(|c| c.id.is_some() || !c.messages.is_empty())
        {
            self.conversation.set(ConversationView::default());
        }
    }

    fn leave_conversations(self) {
        if self.typing.with_untracked(|t| !t.is_empty()) {
            self.typing.set(Default::default());
        }
        if self.viewers.get_untracked() != 0 {
            self.viewers.set(0);
        }
        let old: Vec<String> = self.rooms.with_value(|r| {
            r.keys()
                .filter(|room| room.starts_with("conversation:"))
                .cloned()
                .collect()
        });
        for room in old {
            self.leave(room);
        }
    }

    /// Subscribes to `room`. With `since_seq`, everything after it is replayed first.
    pub fn join(self, room: String, since_seq: Option<u64>) {
        self.rooms
            .update_value(|r| _ = r.entry(room.clone()).or_insert(since_seq.unwrap_or(0)));
        self.send(ClientMsg::Join { room, since_seq });
    }

    pub fn leave(self, room: String) {
        let was_in = self.rooms.try_update_value(|r| r.remove(&room).is_some());
        if was_in == Some(true) {
            self.send(ClientMsg::Leave { room });
        }
    }

    /// Asks a question in the open conversation, starting one if none is open. Returns
    /// the conversation's id so the caller can move to its URL.
    pub fn send_message(self, content: String, options: SendOptions) -> Uuid {
        let id = match self.conversation.with_untracked(|c| c.id) {
            Some(id) => id,
            None => {
                let id = Uuid::new_v4();
                self.conversation.set(ConversationView::new(id));
                // The server joins the sender to the room; remember it so reconnects resume it.
                self.rooms
                    .update_value(|r| _ = r.insert(rooms::conversation(id), 0));
                id
            }
        };
        // While the socket is down the question goes over HTTP (SSE) rather than waiting.
        #[cfg(feature = "hydrate")]
        if self.status.get_untracked() != ConnectionStatus::Connected
            && sse::ask(self, id, &content, &options)
        {
            return id;
        }
        self.send(ClientMsg::SendMessage {
            conversation_id: id,
            content,
            client_msg_id: Uuid::new_v4().to_string(),
            provider: options.provider,
            model: options.model,
            temperature: None,
            include_history: None,
            deep_research: options.deep_research.then_some(true),
            project_id: options.project_id,
            file_path: None,
        });
        id
    }

    /// Tells the others in the open conversation that this tab is (no longer) typing.
    pub fn set_typing(self, is_typing: bool) {
        if self.status.get_untracked() != ConnectionStatus::Connected {
            return;
        }
        let Some(conversation_id) = self.conversation.with_untracked(|c| c.id) else {
            return;
        };
        if self
            .rooms
            .with_value(|r| r.contains_key(&rooms::conversation(conversation_id)))
        {
            self.send(ClientMsg::Typing {
                conversation_id,
                is_typing,
            });
        }
    }

    pub fn stop(self) {
        if let Some(conversation_id) = self.conversation.with_untracked(|c| c.id) {
            self.send(ClientMsg::Stop { conversation_id });
        }
    }

    /// Answers the question before `message_id` again.
    pub fn regenerate(self, message_id: Uuid) {
        if let Some(conversation_id) = self.conversation.with_untracked(|c| c.id) {
            self.send(ClientMsg::Regenerate {
                conversation_id,
                message_id,
            });
        }
    }

    /// Asks `content` in place of the question `message_id`: a new branch of the
    /// conversation, answered; the old one stays a version.
    pub fn edit(
        self,
        message_id: Uuid,
        content: String,
        provider: Option<String>,
        model: Option<String>,
    ) {
        if let Some(conversation_id) = self.conversation.with_untracked(|c| c.id) {
            self.send(ClientMsg::EditMessage {
                conversation_id,
                message_id,
                content,
                client_msg_id: Uuid::new_v4().to_string(),
                provider,
                model,
            });
        }
    }

    /// Shows the branch through `message_id`, one of a message's versions.
    pub fn show_version(self, message_id: Uuid) {
        if let Some(conversation_id) = self.conversation.with_untracked(|c| c.id) {
            self.send(ClientMsg::ShowVersion {
                conversation_id,
                message_id,
            });
        }
    }

    fn send(self, msg: ClientMsg) {
        self.outbox.with_value(|tx| {
            if let Some(tx) = tx {
                // Queued until the socket is open; frames that cannot be delivered are
                // recovered by the join-with-since_seq on reconnect.
                let _ = tx.unbounded_send(msg);
            }
        });
    }

    /// Applies one frame from the server; frames already seen (by room sequence) are
    /// dropped, which is what makes replay after a reconnect exactly-once.
    pub fn apply(self, frame: ServerFrame) {
        if let (Some(room), Some(seq)) = (&frame.room, frame.seq) {
            let fresh = self.rooms.try_update_value(|r| match r.get_mut(room) {
                Some(last) if seq <= *last => false,
                Some(last) => {
                    *last = seq;
                    true
                }
                None => false,
            });
            if fresh != Some(true) {
                return;
            }
        }
        if let (Some(room), ServerMsg::Snapshot { last_seq, .. }) = (&frame.room, &frame.msg) {
            // Events up to last_seq are inside the snapshot; resume after them.
            self.rooms
                .update_value(|r| _ = r.insert(room.clone(), *last_seq));
        }
        match frame.msg {
            ServerMsg::Presence { connections } => {
                let open = self
                    .conversation
                    .with_untracked(|c| c.id.map(rooms::conversation));
                if open.is_some() && frame.room == open {
                    self.viewers.set(connections);
                }
            }
            ServerMsg::Pong { t, .. } => {
                self.latency_ms.set(Some(now_ms().saturating_sub(t)));
            }
            ServerMsg::JobProgress(progress) if frame.room.as_deref() == Some(rooms::WIKI_JOBS) => {
                self.wiki_jobs
                    .update(|jobs| _ = jobs.insert(progress.job_id, progress.status));
            }
            ServerMsg::JobProgress(progress) => {
                // The state sent on joining (no sequence number) may cross a live report
                // that ended the job: an ended job is not reopened by it.
                let stale = frame.seq.is_none()
                    && !progress.is_final()
                    && self.jobs.with_untracked(|jobs| {
                        jobs.get(&progress.job_id)
                            .is_some_and(JobProgress::is_final)
                    });
                if !stale {
                    self.jobs
                        .update(|jobs| _ = jobs.insert(progress.job_id.clone(), progress));
                }
            }
            ServerMsg::DocumentStatus {
                document_id,
                path,
                status,
                progress,
                error,
                ..
            } => self.documents.update(|d| {
                d.insert(
                    document_id,
                    DocumentProgress {
                        path,
                        status,
                        progress,
                        error,
                    },
                );
            }),
            ServerMsg::ProjectUpdate { .. } => self.project_changed.update(|n| *n += 1),
            ServerMsg::Typing {
                conversation_id,
                connection_id,
                is_typing,
            } => {
                if self.conversation.with_untracked(|c| c.id) == Some(conversation_id) {
                    self.typing.update(|t| {
                        if is_typing {
                            t.insert(connection_id);
                        } else {
                            t.remove(&connection_id);
                        }
                    });
                }
            }
            other => {
                if matches!(
                    other,
                    ServerMsg::MessageReceived { .. } | ServerMsg::ConversationDeleted { .. }
                ) {
                    self.conversations_changed.update(|n| *n += 1);
                }
                // Tokens change one message's own signals; only additions and removals
                // re-render the list, which keeps long conversations fast.
                let changed = self.conversation.try_update_untracked(|c| c.apply(&other));
                if changed == Some(true) {
                    self.conversation.notify();
                }
            }
        }
    }

    /// The `join` frames that resume every room after a reconnect.
    pub fn resume_frames(self) -> Vec<ClientMsg> {
        self.rooms.with_value(|r| {
            r.iter()
                .map(|(room, last)| ClientMsg::Join {
                    room: room.clone(),
                    since_seq: Some(*last),
                })
                .collect()
        })
    }
}

pub(crate) fn now_ms() -> u64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() as u64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}
