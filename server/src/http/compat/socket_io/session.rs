//! One Socket.IO connection: a single task that handles the client's events in the order
//! they came and relays the events of its rooms, translated, as Socket.IO events.
//!
//! The connection is a [`Peer`] of the hub like any `/ws` socket, so it shares rooms,
//! answers and limits with every other endpoint; only the wire format differs.

use std::collections::HashMap;

use app::protocol::socket_io::{ClientId, ProcessingUpdates, ServerEvent, SourceDocument};
use app::protocol::{ErrorCode, ServerFrame, ServerMsg, rooms};
use serde_json::Value;
use socketioxide::extract::SocketRef;
use socketioxide::{SendError, SocketError};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::chat_ids::conversation_for;
use super::events::{Incoming, parse};
use super::translate::translate;
use crate::chat::Question;
use crate::clock::now_ms;
use crate::fault::ClientFault;
use crate::http::ws::after_leaving;
use crate::realtime::{
    ConnectionSlot, FrameBudget, Peer, RoomName, Verdict, WireFrame, close_code,
};
use crate::state::AppState;

/// An event as the client sent it: its name and its first argument, if any.
pub struct Inbound {
    pub event: &'static str,
    pub payload: Option<Value>,
}

/// What the connect step hands the session: the client's queued events, the slot that
/// counts the connection, and the signal that the client has gone.
pub struct Admitted {
    pub events: mpsc::Receiver<Inbound>,
    pub slot: ConnectionSlot,
    pub gone: CancellationToken,
}

pub struct Session {
    socket: SocketRef,
    state: AppState,
    peer: Peer,
    slot: ConnectionSlot,
    budget: FrameBudget,
    /// The project answers come from: its room, and its id as the client wrote it.
    project: Option<(String, ClientId)>,
    /// Conversations followed, with the chat id each goes by; least recently used first.
    chats: Vec<(Uuid, ClientId)>,
    /// Rooms followed for seed 001's processing updates.
    subscriptions: Vec<String>,
    /// (project, path) → document id, for `message_sources`.
    document_ids: HashMap<(String, String), String>,
}

/// Document ids remembered per connection before the cache starts over.
const MAX_REMEMBERED_DOCUMENTS: usize = 1024;

pub async fn run(socket: SocketRef, state: AppState, admitted: Admitted) {
    let Admitted {
        mut events,
        slot,
        gone,
    } = admitted;
    let (peer, mut queue) = Peer::new(state.config.outgoing_queue);
    let mut session = Session {
        budget: FrameBudget::new(state.config.messages_per_sec),
        socket,
        state,
        peer,
        slot,
        project: None,
        chats: Vec::new(),
        subscriptions: Vec::new(),
        document_ids: HashMap::new(),
    };
    session.emit(ServerEvent::ConnectionStatus {
        status: "connected",
        sid: session.socket.id.to_string(),
    });
    let shutdown = session.state.shutdown.clone();
    let peer = session.peer.clone();
    // Registered once, not per frame: see the application socket's writer.
    let (gone_now, closing, shutting_down) =
        (gone.cancelled(), peer.closing(), shutdown.cancelled());
    tokio::pin!(gone_now, closing, shutting_down);
    loop {
        tokio::select! {
            biased;
            _ = &mut gone_now => break,
            _ = &mut closing => break,
            _ = &mut shutting_down => break,
            inbound = events.recv() => match inbound {
                Some(inbound) => session.on_event(inbound).await,
                None => break,
            },
            frame = queue.recv() => match frame {
                Some(frame) => session.relay(frame).await,
                None => break,
            },
        }
    }
    session.end(gone.is_cancelled());
}

impl Session {
    fn end(self, client_left: bool) {
        for (room, remaining) in self.state.hub.leave_all(self.peer.id) {
            after_leaving(&self.state, &room, remaining);
        }
        if !client_left {
            if let Some(reason) = self.peer.close_reason() {
                tracing::debug!(reason = reason.reason, "closing a Socket.IO connection");
            }
            let _ = self.socket.disconnect();
        }
    }

    async fn on_event(&mut self, inbound: Inbound) {
        let size = inbound
            .payload
            .as_ref()
            .map_or(0, |payload| payload.to_string().len());
        if size > self.state.config.max_frame_bytes {
            self.error(ErrorCode::LimitExceeded, "payload too large".into(), None);
            self.peer.close(close_code::TOO_BIG, "frame too large");
            return;
        }
        match self.budget.check() {
            Verdict::Accept => {}
            Verdict::Refuse => {
                return self.error(
                    ErrorCode::RateLimited,
                    "too many messages; slow down".into(),
                    None,
                );
            }
            Verdict::Disconnect => {
                return self.peer.close(close_code::POLICY, "rate limit exceeded");
            }
        }
        // A refused message still names its chat when it can, for clients that route
        // errors by chat.
        let chat_id = inbound
            .payload
            .as_ref()
            .and_then(|payload| payload.get("chat_id"))
            .and_then(|id| serde_json::from_value::<ClientId>(id.clone()).ok());
        match parse(inbound.event, inbound.payload) {
            Ok(incoming) => self.handle(incoming).await,
            Err(message) => self.error(ErrorCode::InvalidField, message, chat_id),
        }
    }

    async fn handle(&mut self, incoming: Incoming) {
        match incoming {
            Incoming::Ping => self.emit(ServerEvent::Pong {
                timestamp: now_ms(),
            }),
            Incoming::JoinProject(join) => self.join_project(join.project_id).await,
            Incoming::LeaveProject(leave) => self.leave_project(leave.project_id),
            Incoming::SendMessage(send) => {
                let chat_id = send.chat_id;
                let conversation_id = conversation_for(&chat_id);
                if !self.follow_chat(conversation_id, &chat_id).await {
                    return;
                }
                let question = Question {
                    conversation_id,
                    project_id: self.project.as_ref().map(|(_, id)| id.key()),
                    file_path: None,
                    content: send.message,
                    client_msg_id: Some(Uuid::new_v4().to_string()),
                    provider: send.provider,
                    model: send.model,
                    temperature: send.temperature,
                    include_history: send.include_history.unwrap_or(true),
                    deep_research: send.deep_research.unwrap_or(false),
                    prior: Vec::new(),
                    client: self.slot.client().to_owned(),
                };
                if let Err(e) = self.state.chat.ask(question).await {
                    self.error(e.code(), e.client_message(), Some(chat_id));
                }
            }
            Incoming::StopMessage(stop) => {
                if !self.state.chat.stop(conversation_for(&stop.chat_id)).await {
                    self.error(
                        ErrorCode::NotFound,
                        "no answer is being generated in this chat".into(),
                        Some(stop.chat_id),
                    );
                }
            }
            Incoming::JoinChatSession(session) => {
                let conversation_id = conversation_for(&session.session_id);
                if self.follow_chat(conversation_id, &session.session_id).await {
                    self.emit(ServerEvent::ChatSessionJoined {
                        session_id: session.session_id,
                    });
                }
            }
            Incoming::LeaveChatSession(session) => {
                let conversation_id = conversation_for(&session.session_id);
                self.chats.retain(|(id, _)| *id != conversation_id);
                self.leave_unless_needed(&rooms::conversation(conversation_id));
                self.emit(ServerEvent::ChatSessionLeft {
                    session_id: session.session_id,
                });
            }
            Incoming::Subscribe(updates) => self.subscribe(updates).await,
            Incoming::Unsubscribe(updates) => {
                let Some(room) = self.processing_room(&updates) else {
                    return;
                };
                self.subscriptions.retain(|r| *r != room);
                self.leave_unless_needed(&room);
                self.emit(ServerEvent::ProcessingUpdatesUnsubscribed { room });
            }
        }
    }

    async fn join_project(&mut self, project_id: ClientId) {
        let key = project_id.key();
        if let Err(e) = self.state.projects.get(&key).await {
            let message = format!("project {key}: {}", e.client_message());
            return self.error(e.code(), message, None);
        }
        let room = rooms::project(&key);
        if let Some((previous, _)) = self.project.replace((room.clone(), project_id.clone()))
            && previous != room
        {
            self.leave_unless_needed(&previous);
        }
        self.state.hub.join(&room, &self.peer, None, |_| None).await;
        self.state.hub.announce_presence(&room);
        self.emit(ServerEvent::ProjectJoined { project_id });
    }

    fn leave_project(&mut self, project_id: Option<ClientId>) {
        let joined = self.project.as_ref().map(|(_, id)| id.clone());
        let leaving = match (project_id, joined) {
            (Some(asked), Some(joined)) if asked.key() != joined.key() => {
                return self.error(
                    ErrorCode::NotFound,
                    format!("not in project {asked}; the joined project is {joined}"),
                    None,
                );
            }
            (Some(asked), _) => asked,
            (None, Some(joined)) => joined,
            (None, None) => {
                return self.error(ErrorCode::NotFound, "no project is joined".into(), None);
            }
        };
        if let Some((room, _)) = self.project.take() {
            self.leave_unless_needed(&room);
        }
        self.emit(ServerEvent::ProjectLeft {
            project_id: leaving,
        });
    }

    /// Makes sure this connection follows a conversation's events, under `chat_id`. At
    /// the room limit the least recently used chat is let go. False (error sent) if the
    /// room cannot be joined.
    async fn follow_chat(&mut self, conversation_id: Uuid, chat_id: &ClientId) -> bool {
        if let Some(at) = self.chats.iter().position(|(id, _)| *id == conversation_id) {
            let chat = self.chats.remove(at);
            self.chats.push((chat.0, chat_id.clone()));
            return true;
        }
        if self.rooms_in_use() >= self.state.config.max_rooms_per_connection {
            if self.chats.is_empty() {
                self.too_many_rooms(Some(chat_id.clone()));
                return false;
            }
            let (oldest, _) = self.chats.remove(0);
            self.leave_unless_needed(&rooms::conversation(oldest));
        }
        if let Err(e) = self
            .state
            .chat
            .join(&self.peer, conversation_id, None)
            .await
        {
            self.error(e.code(), e.client_message(), Some(chat_id.clone()));
            return false;
        }
        self.chats.push((conversation_id, chat_id.clone()));
        true
    }

    async fn subscribe(&mut self, updates: ProcessingUpdates) {
        let Some(room) = self.processing_room(&updates) else {
            return;
        };
        if !self.subscriptions.contains(&room) {
            if self.rooms_in_use() >= self.state.config.max_rooms_per_connection {
                return self.too_many_rooms(None);
            }
            let joined = match RoomName::parse(&room) {
                Some(RoomName::Conversation(id)) => {
                    self.state.chat.join(&self.peer, id, None).await.map(|_| ())
                }
                _ => {
                    self.state.hub.join(&room, &self.peer, None, |_| None).await;
                    Ok(())
                }
            };
            if let Err(e) = joined {
                return self.error(e.code(), e.client_message(), None);
            }
            self.subscriptions.push(room.clone());
        }
        self.emit(ServerEvent::ProcessingUpdatesSubscribed { room });
    }

    /// The room a processing-updates request names; None (error sent) if it names none.
    fn processing_room(&self, updates: &ProcessingUpdates) -> Option<String> {
        let room = if let Some(room) = &updates.room {
            Some(room.clone())
        } else if let Some(job) = &updates.job_id {
            Some(rooms::job(job))
        } else if let Some(project) = &updates.project_id {
            Some(rooms::project(&project.key()))
        } else {
            updates
                .session_id
                .as_ref()
                .map(|session| rooms::conversation(conversation_for(session)))
        };
        match room.filter(|room| RoomName::parse(room).is_some()) {
            Some(room) => Some(room),
            None => {
                self.error(
                    ErrorCode::InvalidField,
                    "processing updates need room (conversation:<uuid>, project:<id> or \
                     job:<id>), job_id, project_id or session_id"
                        .into(),
                    None,
                );
                None
            }
        }
    }

    fn rooms_in_use(&self) -> usize {
        self.chats.len() + self.subscriptions.len() + usize::from(self.project.is_some())
    }

    /// Leaves a room unless another of this connection's uses still needs it.
    fn leave_unless_needed(&self, room: &str) {
        let needed = self.project.as_ref().is_some_and(|(r, _)| r == room)
            || self.subscriptions.iter().any(|r| r == room)
            || self
                .chats
                .iter()
                .any(|(id, _)| rooms::conversation(*id) == room);
        if needed {
            return;
        }
        if let Some(remaining) = self.state.hub.leave(room, self.peer.id) {
            after_leaving(&self.state, room, remaining);
        }
    }

    fn too_many_rooms(&self, chat_id: Option<ClientId>) {
        self.error(
            ErrorCode::LimitExceeded,
            format!(
                "a connection may follow at most {} rooms; leave one first",
                self.state.config.max_rooms_per_connection
            ),
            chat_id,
        );
    }

    /// Relays one room event, in the client's terms, if it has any.
    async fn relay(&mut self, frame: WireFrame) {
        let frame: ServerFrame = match serde_json::from_str(&frame) {
            Ok(frame) => frame,
            Err(e) => return tracing::error!(error = %e, "unreadable frame in a room"),
        };
        let sources_of = match &frame.msg {
            ServerMsg::MessageSources {
                conversation_id, ..
            } => Some(*conversation_id),
            _ => None,
        };
        let chats = &self.chats;
        let Some(mut event) = translate(frame, |id| {
            chats
                .iter()
                .find(|(conversation, _)| *conversation == id)
                .map(|(_, chat_id)| chat_id.clone())
        }) else {
            return;
        };
        if let (Some(conversation_id), ServerEvent::MessageSources { sources, .. }) =
            (sources_of, &mut event)
        {
            self.name_documents(conversation_id, sources).await;
        }
        self.emit(event);
    }

    /// Gives each source the id of its project document, as `document_status` names it.
    async fn name_documents(&mut self, conversation_id: Uuid, sources: &mut [SourceDocument]) {
        let store = &self.state.store;
        let Some(project_id) = store
            .conversation(conversation_id)
            .await
            .ok()
            .flatten()
            .and_then(|conversation| conversation.project_id)
        else {
            return;
        };
        if self.document_ids.len() > MAX_REMEMBERED_DOCUMENTS {
            self.document_ids.clear();
        }
        for source in sources {
            let key = (project_id.clone(), source.metadata.path.clone());
            if let Some(id) = self.document_ids.get(&key) {
                source.metadata.document_id = id.clone();
                continue;
            }
            if let Ok(Some(document)) = store
                .document_info_by_path(&project_id, &source.metadata.path)
                .await
            {
                source.metadata.document_id = document.id.clone();
                self.document_ids.insert(key, document.id);
            }
        }
    }

    fn error(&self, code: ErrorCode, message: String, chat_id: Option<ClientId>) {
        let code = serde_json::to_value(code)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        self.emit(ServerEvent::Error {
            message,
            chat_id,
            code,
        });
    }

    /// Sends an event to the client. A client whose outgoing buffer is full is not keeping
    /// up: it is closed, as a slow `/ws` consumer is, rather than stalling its rooms.
    fn emit(&self, event: ServerEvent) {
        match self.socket.emit(event.name(), &event) {
            Ok(()) => {}
            Err(SendError::Socket(SocketError::InternalChannelFull)) => {
                metrics::counter!(crate::telemetry::SLOW_CLOSED).increment(1);
                self.peer
                    .close(close_code::TRY_AGAIN_LATER, "too slow to read its events");
            }
            Err(SendError::Socket(SocketError::Closed)) => {}
            Err(e) => tracing::error!(error = %e, "could not send a Socket.IO event"),
        }
    }
}
