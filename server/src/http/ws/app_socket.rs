//! The application socket `GET /ws`: one multiplexed connection per browser tab.
//!
//! Each connection runs a reader (this task: parses frames and acts on them) and a writer
//! (a spawned task: drains the bounded outgoing queue and sends WebSocket pings), so a
//! client that stops reading can be detected and closed without blocking the reader.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use app::protocol::{ClientMsg, ErrorCode, ServerMsg, rooms};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::response::Response;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::admission::{Upgrade, accept, exceeds_transport_ceiling, read_until_closed};
use super::client_frames::parse_client_frame;
use crate::chat::{ChatError, Edit, Question};
use crate::clock::now_ms;
use crate::fault::ClientFault;
use crate::realtime::{
    ConnectionSlot, FrameBudget, Peer, RoomName, Verdict, WireFrame, close_code,
};
use crate::state::AppState;

pub async fn ws_handler(State(state): State<AppState>, upgrade: Upgrade) -> Response {
    accept(upgrade, state, serve).await
}

async fn serve(socket: WebSocket, state: AppState, slot: ConnectionSlot) {
    let (peer, queue) = Peer::new(state.config.outgoing_queue);
    let last_heard = Arc::new(AtomicU64::new(now_ms()));
    peer.send_direct(ServerMsg::Welcome {
        connection_id: peer.id,
        server_time: now_ms(),
    });
    let (sink, mut stream) = socket.split();
    let writer = tokio::spawn(write_frames(
        sink,
        queue,
        peer.clone(),
        Keepalive {
            interval: state.config.ping_interval(),
            last_heard: Arc::clone(&last_heard),
            shutdown: state.shutdown.clone(),
        },
    ));
    let mut connection = Connection {
        peer: peer.clone(),
        state: state.clone(),
        project_room: None,
        rooms: HashSet::new(),
        budget: FrameBudget::new(state.config.messages_per_sec),
        slot,
    };
    connection.read_frames(&mut stream, &last_heard).await;

    // The reader is done: make sure the writer ends too, then leave every room.
    peer.close(1000, "");
    for (room, remaining) in state.hub.leave_all(peer.id) {
        after_leaving(&state, &room, remaining);
    }
    // The writer sends the close frame that says why; reading on meanwhile closes the
    // connection cleanly (a flooding client lost its 1008 to a reset without it).
    let _ = tokio::join!(writer, read_until_closed(&mut stream));
}

/// What the writer needs besides its queue: when to ping, when the client last spoke,
/// and server shutdown. Not the whole state: the writer task is alive for every idle
/// socket, and its size is per-socket memory.
struct Keepalive {
    interval: Duration,
    last_heard: Arc<AtomicU64>,
    shutdown: CancellationToken,
}

async fn write_frames(
    mut sink: SplitSink<WebSocket, Message>,
    mut queue: mpsc::Receiver<WireFrame>,
    peer: Peer,
    keepalive: Keepalive,
) {
    let Keepalive {
        interval,
        last_heard,
        shutdown,
    } = keepalive;
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    // Registered once, not per frame: each fresh `cancelled()` future locks the token's
    // tree and registers a waiter, and under a streaming answer that was a measurable
    // share of the server's CPU, all of it contending on the one shutdown token.
    let closing = peer.closing();
    let shutdown = shutdown.cancelled();
    tokio::pin!(closing, shutdown);
    loop {
        tokio::select! {
            biased;
            _ = &mut closing => break,
            _ = &mut shutdown => {
                peer.close(close_code::GOING_AWAY, "server shutting down");
                break;
            }
            frame = queue.recv() => {
                let Some(frame) = frame else { break };
                if send_queued(&mut sink, frame, &mut queue).await.is_err() {
                    peer.close(1000, "");
                    return;
                }
            }
            _ = pings.tick() => {
                let silent_ms = now_ms().saturating_sub(last_heard.load(Ordering::Relaxed));
                if silent_ms > 2 * interval.as_millis() as u64 {
                    peer.close(close_code::GOING_AWAY, "no activity for two ping intervals");
                    break;
                }
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    peer.close(1000, "");
                    return;
                }
            }
        }
    }
    // Frames queued before the close (say, the error that explains it) go out first,
    // within a bound: a client that stopped reading must not hold the task.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Ok(frame) = queue.try_recv() {
            if send_queued(&mut sink, frame, &mut queue).await.is_err() {
                break;
            }
        }
    })
    .await;
    if let Some(reason) = peer.close_reason().filter(|r| r.code != 1000) {
        let close = Message::Close(Some(CloseFrame {
            code: reason.code,
            reason: reason.reason.into(),
        }));
        // A client that stopped reading may never take the close frame; don't wait on it.
        let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(close)).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
}

/// The most frames written with one flush, so one busy connection cannot starve the
/// others on its worker thread between yields.
const FRAMES_PER_FLUSH: usize = 64;

/// Sends `first` and whatever else is already queued behind it with a single flush: a
/// streaming answer queues a frame per token in every member's queue, and a reader that
/// fell behind then catches up with one write instead of one per frame.
async fn send_queued(
    sink: &mut SplitSink<WebSocket, Message>,
    first: WireFrame,
    queue: &mut mpsc::Receiver<WireFrame>,
) -> Result<(), axum::Error> {
    sink.feed(Message::Text(first)).await?;
    for _ in 1..FRAMES_PER_FLUSH {
        let Ok(frame) = queue.try_recv() else { break };
        sink.feed(Message::Text(frame)).await?;
    }
    sink.flush().await
}

/// Tells the room who is left, and stops an abandoned answer when so configured.
pub fn after_leaving(state: &AppState, room: &str, remaining: usize) {
    state.hub.announce_presence(room);
    // With several instances, members elsewhere may still be watching.
    if remaining == 0
        && state.config.stop_when_abandoned
        && !state.hub.is_shared()
        && let Some(RoomName::Conversation(id)) = RoomName::parse(room)
    {
        state.chat.stop_local(id);
    }
}

/// What one connection remembers between frames.
struct Connection {
    peer: Peer,
    state: AppState,
    /// A connection is in at most one project room; joining another leaves this one.
    project_room: Option<String>,
    /// Rooms this connection joined, to enforce the per-connection cap.
    rooms: HashSet<String>,
    budget: FrameBudget,
    /// Held for the connection's life; also names its client for per-client limits.
    slot: ConnectionSlot,
}

impl Connection {
    async fn read_frames(&mut self, stream: &mut SplitStream<WebSocket>, last_heard: &AtomicU64) {
        let max = self.state.config.max_frame_bytes;
        let peer = self.peer.clone();
        let closing = peer.closing();
        tokio::pin!(closing);
        loop {
            let message = tokio::select! {
                biased;
                _ = &mut closing => return,
                message = stream.next() => message,
            };
            last_heard.store(now_ms(), Ordering::Relaxed);
            match message {
                Some(Ok(Message::Text(text))) if text.len() > max => {
                    self.peer.close(close_code::TOO_BIG, "frame too large");
                    return;
                }
                Some(Ok(Message::Text(text))) => match self.budget.check() {
                    // Boxed: a task is as large as the largest future it awaits inline,
                    // and handling a frame reaches the whole chat engine. Inline, every
                    // idle socket carried that state; boxed, only a frame being handled.
                    Verdict::Accept => Box::pin(self.handle_text(text.as_str())).await,
                    Verdict::Refuse => self.error(
                        ErrorCode::RateLimited,
                        "too many messages; slow down".into(),
                        None,
                    ),
                    Verdict::Disconnect => {
                        self.peer.close(close_code::POLICY, "rate limit exceeded");
                        return;
                    }
                },
                Some(Ok(Message::Binary(_))) => match self.budget.check() {
                    Verdict::Disconnect => {
                        self.peer.close(close_code::POLICY, "rate limit exceeded");
                        return;
                    }
                    _ => self.error(
                        ErrorCode::InvalidFrame,
                        "binary frames are not supported; send JSON text".into(),
                        None,
                    ),
                },
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | None => return,
                Some(Err(e)) => {
                    // The transport rejects frames far beyond our limit before we see them.
                    if exceeds_transport_ceiling(&e) {
                        self.peer.close(close_code::TOO_BIG, "frame too large");
                    }
                    return;
                }
            }
        }
    }

    async fn handle_text(&mut self, text: &str) {
        match parse_client_frame(text) {
            Ok(msg) => self.handle(msg).await,
            Err((code, message)) => self.error(code, message, None),
        }
    }

    async fn handle(&mut self, msg: ClientMsg) {
        match msg {
            ClientMsg::Ping { t } => {
                self.peer.send_direct(ServerMsg::Pong {
                    t,
                    server_time: now_ms(),
                });
            }
            ClientMsg::Join { room, since_seq } => self.join(room, since_seq).await,
            ClientMsg::Leave { room } => self.leave(&room),
            ClientMsg::SendMessage {
                conversation_id,
                content,
                client_msg_id,
                provider,
                model,
                temperature,
                include_history,
                deep_research,
                project_id,
                file_path,
            } => {
                if !self.follow(conversation_id, &client_msg_id).await {
                    return;
                }
                let question = Question {
                    conversation_id,
                    project_id,
                    file_path,
                    content,
                    client_msg_id: Some(client_msg_id.clone()),
                    provider,
                    model,
                    temperature,
                    include_history: include_history.unwrap_or(true),
                    deep_research: deep_research.unwrap_or(false),
                    prior: Vec::new(),
                    client: self.slot.client().to_owned(),
                };
                if let Err(e) = self.state.chat.ask(question).await {
                    self.chat_error(e, Some(client_msg_id));
                }
            }
            ClientMsg::Stop { conversation_id } => {
                if !self.state.chat.stop(conversation_id).await {
                    self.error(
                        ErrorCode::NotFound,
                        "no answer is being generated in this conversation".into(),
                        Some(conversation_id.to_string()),
                    );
                }
            }
            ClientMsg::Regenerate {
                conversation_id,
                message_id,
            } => {
                let reference = message_id.to_string();
                if !self.follow(conversation_id, &reference).await {
                    return;
                }
                if let Err(e) = self
                    .state
                    .chat
                    .regenerate(conversation_id, message_id, None, None, self.slot.client())
                    .await
                {
                    self.chat_error(e, Some(reference));
                }
            }
            ClientMsg::EditMessage {
                conversation_id,
                message_id,
                content,
                client_msg_id,
                provider,
                model,
            } => {
                let edit = Edit {
                    conversation_id,
                    message_id,
                    content,
                    client_msg_id: Some(client_msg_id),
                    provider,
                    model,
                    client: self.slot.client().to_owned(),
                };
                self.edit(edit).await;
            }
            ClientMsg::ShowVersion {
                conversation_id,
                message_id,
            } => {
                let reference = message_id.to_string();
                if !self.follow(conversation_id, &reference).await {
                    return;
                }
                if let Err(e) = self
                    .state
                    .chat
                    .show_version(conversation_id, message_id)
                    .await
                {
                    self.chat_error(e, Some(reference));
                }
            }
            ClientMsg::Typing {
                conversation_id,
                is_typing,
            } => {
                let room = rooms::conversation(conversation_id);
                if self.state.hub.is_member(&room, self.peer.id) {
                    self.state.hub.send_ephemeral(
                        &room,
                        ServerMsg::Typing {
                            conversation_id,
                            connection_id: self.peer.id,
                            is_typing,
                        },
                        Some(self.peer.id),
                    );
                }
            }
        }
    }

    async fn edit(&mut self, edit: Edit) {
        let reference = edit.client_msg_id.clone().unwrap_or_default();
        if !self.follow(edit.conversation_id, &reference).await {
            return;
        }
        if let Err(e) = self.state.chat.edit(edit).await {
            self.chat_error(e, Some(reference));
        }
    }

    /// Makes sure this connection is in the conversation's room before it asks there:
    /// joined live, so it never gets an event twice if it was in already. False (with an
    /// error event sent) if it cannot join.
    async fn follow(&mut self, conversation_id: Uuid, reference: &str) -> bool {
        let room = rooms::conversation(conversation_id);
        if self.state.hub.is_member(&room, self.peer.id) {
            return true;
        }
        if !self.has_room_for(&room) {
            self.too_many_rooms(Some(reference.to_owned()));
            return false;
        }
        if let Err(e) = self
            .state
            .chat
            .join(&self.peer, conversation_id, None)
            .await
        {
            self.chat_error(e, Some(reference.to_owned()));
            return false;
        }
        self.rooms.insert(room);
        true
    }

    fn has_room_for(&self, room: &str) -> bool {
        self.rooms.contains(room) || self.rooms.len() < self.state.config.max_rooms_per_connection
    }

    fn too_many_rooms(&self, reference: Option<String>) {
        self.error(
            ErrorCode::LimitExceeded,
            format!(
                "a connection may be in at most {} rooms; leave one first",
                self.state.config.max_rooms_per_connection
            ),
            reference,
        );
    }

    async fn join(&mut self, room: String, since_seq: Option<u64>) {
        let is_project = matches!(RoomName::parse(&room), Some(RoomName::Project));
        // Joining a project room replaces the current one, so it never needs a free slot.
        if !is_project && !self.has_room_for(&room) {
            return self.too_many_rooms(Some(room));
        }
        match RoomName::parse(&room) {
            Some(RoomName::Conversation(id)) => {
                if let Err(e) = self.state.chat.join(&self.peer, id, since_seq).await {
                    return self.chat_error(e, Some(room));
                }
            }
            Some(RoomName::Project) => {
                if let Some(previous) = self.project_room.replace(room.clone())
                    && previous != room
                {
                    self.leave(&previous);
                }
                self.state
                    .hub
                    .join(&room, &self.peer, since_seq, |_| None)
                    .await;
            }
            Some(RoomName::Job(job_id)) => {
                self.state
                    .hub
                    .join(&room, &self.peer, since_seq, |_| None)
                    .await;
                // A job that reported before this join (or finished) is shown as it is now,
                // not only from its next report on. Without a sequence number: it is the
                // state at joining, not an event of the room.
                if since_seq.is_none()
                    && let Some(progress) = self.state.jobs.latest(&job_id)
                {
                    self.peer.send(&app::protocol::ServerFrame {
                        msg: ServerMsg::JobProgress(progress),
                        room: Some(room.clone()),
                        seq: None,
                    });
                }
            }
            Some(RoomName::WikiJobs) => {
                self.state
                    .hub
                    .join(&room, &self.peer, since_seq, |_| None)
                    .await;
            }
            None => {
                return self.error(
                    ErrorCode::InvalidField,
                    "room must be conversation:<uuid>, project:<id>, job:<id> or jobs:wiki".into(),
                    Some(room),
                );
            }
        }
        self.state.hub.announce_presence(&room);
        self.rooms.insert(room);
    }

    fn leave(&mut self, room: &str) {
        if self.project_room.as_deref() == Some(room) {
            self.project_room = None;
        }
        self.rooms.remove(room);
        if let Some(remaining) = self.state.hub.leave(room, self.peer.id) {
            self.peer.send(&app::protocol::ServerFrame {
                msg: ServerMsg::Left {},
                room: Some(room.to_owned()),
                seq: None,
            });
            after_leaving(&self.state, room, remaining);
        }
    }

    fn chat_error(&self, error: ChatError, reference: Option<String>) {
        self.error(error.code(), error.client_message(), reference);
    }

    fn error(&self, code: ErrorCode, message: String, reference: Option<String>) {
        self.peer.send_direct(ServerMsg::Error {
            code,
            message,
            reference,
        });
    }
}
