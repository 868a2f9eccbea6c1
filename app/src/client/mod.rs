//! The browser's view of the server: connection state, the open conversation, and the
//! outgoing queue to the application socket. One [`ChatClient`] per tab, in context.
//!
//! Everything here compiles on the server too, where the client simply never connects:
//! the server renders the initial state and the browser takes over after hydration.

mod conversation;
#[cfg(feature = "hydrate")]
mod socket;

use std::collections::HashMap;

use futures::channel::mpsc::UnboundedSender;
use leptos::prelude::*;
use uuid::Uuid;

use crate::protocol::{ClientMsg, ServerFrame, ServerMsg, rooms};
pub use conversation::{ConversationView, MessageState, UiMessage};

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
}

#[derive(Clone, Copy)]
pub struct ChatClient {
    pub status: RwSignal<ConnectionStatus>,
    /// Round-trip time of the last ping, in milliseconds.
    pub latency_ms: RwSignal<Option<u64>>,
    pub conversation: RwSignal<ConversationView>,
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
        if self.conversation.with_untracked(|c| c.id == Some(id)) {
            return;
        }
        self.conversation.set(ConversationView::new(id));
        let room = rooms::conversation(id);
        self.rooms.update_value(|r| {
            r.clear();
            r.insert(room.clone(), 0);
        });
        self.send(ClientMsg::Join {
            room,
            since_seq: Some(0),
        });
    }

    /// Asks a question in the open conversation, starting one if none is open. Returns
    /// the conversation's id so the caller can move to its URL.
    pub fn send_message(self, content: String) -> Uuid {
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
        self.send(ClientMsg::SendMessage {
            conversation_id: id,
            content,
            client_msg_id: Uuid::new_v4().to_string(),
            provider: None,
            model: None,
            temperature: None,
            include_history: None,
            deep_research: None,
        });
        id
    }

    pub fn stop(self) {
        if let Some(conversation_id) = self.conversation.with_untracked(|c| c.id) {
            self.send(ClientMsg::Stop { conversation_id });
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
            ServerMsg::Pong { t, .. } => {
                self.latency_ms.set(Some(now_ms().saturating_sub(t)));
            }
            other => self.conversation.update(|c| c.apply(&other)),
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
