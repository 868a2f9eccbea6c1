//! Seed 003's per-conversation socket `GET /ws/chat/{conversation_id}`: every client of
//! the conversation receives the question, the streamed answer and the stored answer;
//! `ping`/`pong` and `typing` as the seed defines them. The sender may leave itself out
//! of the broadcast of its own question (`exclude_sender`).

use std::collections::HashSet;

use app::protocol::seed::{ConversationClientMsg, ConversationServerMsg};
use app::protocol::{ServerMsg, rooms};
use axum::extract::ws::{Message, WebSocket};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use uuid::Uuid;

use crate::chat::{AnswerAssembler, Question};
use crate::clock::now_ms;
use crate::fault::ClientFault;
use crate::http::ws::{Upgrade, accept, exceeds_transport_ceiling, read_until_closed};
use crate::realtime::{ConnectionSlot, FrameBudget, Verdict, close_code};
use crate::state::AppState;

pub async fn handler(
    State(state): State<AppState>,
    Path(conversation_id): Path<String>,
    upgrade: Upgrade,
) -> Response {
    let Ok(conversation_id) = Uuid::parse_str(&conversation_id) else {
        return (StatusCode::BAD_REQUEST, "conversation id must be a UUID").into_response();
    };
    accept(upgrade, state, move |socket, state, slot| {
        serve(socket, state, conversation_id, slot)
    })
    .await
}

async fn serve(socket: WebSocket, state: AppState, conversation_id: Uuid, slot: ConnectionSlot) {
    let (mut sink, mut stream) = socket.split();
    let mut follower = match state
        .chat
        .follow(conversation_id, None, state.config.outgoing_queue)
        .await
    {
        Ok(follower) => follower,
        Err(e) => {
            let _ = send(
                &mut sink,
                &ConversationServerMsg::Error {
                    message: e.client_message(),
                },
            )
            .await;
            return;
        }
    };
    let me = follower.peer.id;
    // Questions this client asked with exclude_sender: not echoed back to it.
    let mut own_hidden: HashSet<String> = HashSet::new();
    let mut answers = AnswerAssembler::default();
    let mut budget = FrameBudget::new(state.config.messages_per_sec);
    let connected = ConversationServerMsg::Connected {
        client_id: me.to_string(),
        conversation_id: conversation_id.to_string(),
    };
    if send(&mut sink, &connected).await.is_err() {
        return;
    }

    // Once, not per frame: see the application socket's writer.
    let shutdown = state.shutdown.cancelled();
    tokio::pin!(shutdown);
    loop {
        let reply = tokio::select! {
            frame = follower.next() => {
                let Some(frame) = frame else { break };
                match translate(frame.msg, me, &own_hidden, &mut answers) {
                    Some(reply) => reply,
                    None => continue,
                }
            }
            incoming = stream.next() => {
                let step = match incoming {
                    Some(Ok(Message::Text(text))) => {
                        on_text(&state, conversation_id, (me, slot.client()), &text, &mut budget, &mut own_hidden).await
                    }
                    Some(Ok(Message::Binary(_))) => match budget.check() {
                        Verdict::Disconnect => Step::Close(close_code::POLICY, "rate limit exceeded"),
                        _ => Step::Reply(Box::new(error_text("binary frames are not supported; send JSON text"))),
                    },
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => Step::Nothing,
                    Some(Err(e)) if exceeds_transport_ceiling(&e) => {
                        Step::Close(close_code::TOO_BIG, "frame too large")
                    }
                    _ => break,
                };
                match step {
                    Step::Reply(reply) => *reply,
                    Step::Nothing => continue,
                    Step::Close(code, reason) => {
                        close(&mut sink, &mut stream, code, reason).await;
                        break;
                    }
                }
            }
            _ = &mut shutdown => {
                close(&mut sink, &mut stream, close_code::GOING_AWAY, "server shutting down").await;
                break;
            }
        };
        if send(&mut sink, &reply).await.is_err() {
            break;
        }
    }
}

enum Step {
    Reply(Box<ConversationServerMsg>),
    Nothing,
    Close(u16, &'static str),
}

async fn on_text(
    state: &AppState,
    conversation_id: Uuid,
    me: (Uuid, &str),
    text: &str,
    budget: &mut FrameBudget,
    own_hidden: &mut HashSet<String>,
) -> Step {
    if text.len() > state.config.max_frame_bytes {
        return Step::Close(close_code::TOO_BIG, "frame too large");
    }
    match budget.check() {
        Verdict::Accept => {}
        Verdict::Refuse => {
            return Step::Reply(Box::new(error_text("too many messages; slow down")));
        }
        Verdict::Disconnect => return Step::Close(close_code::POLICY, "rate limit exceeded"),
    }
    match serde_json::from_str::<ConversationClientMsg>(text) {
        Ok(msg) => match handle(state, conversation_id, me, msg, own_hidden).await {
            Some(reply) => Step::Reply(Box::new(reply)),
            None => Step::Nothing,
        },
        Err(e) => Step::Reply(Box::new(error_text(&format!("invalid message: {e}")))),
    }
}

/// Acts on a client message; returns what to answer this client directly, if anything.
/// `(connection id, client)`: this member of the room, and whom it speaks for.
async fn handle(
    state: &AppState,
    conversation_id: Uuid,
    (me, client): (Uuid, &str),
    msg: ConversationClientMsg,
    own_hidden: &mut HashSet<String>,
) -> Option<ConversationServerMsg> {
    match msg {
        ConversationClientMsg::Ping { timestamp } => Some(ConversationServerMsg::Pong {
            timestamp: timestamp.unwrap_or_else(now_ms),
        }),
        ConversationClientMsg::Typing { is_typing } => {
            state.hub.send_ephemeral(
                &rooms::conversation(conversation_id),
                ServerMsg::Typing {
                    conversation_id,
                    connection_id: me,
                    is_typing,
                },
                Some(me),
            );
            None
        }
        ConversationClientMsg::Message {
            content,
            exclude_sender,
        } => {
            let client_msg_id = Uuid::new_v4().to_string();
            if exclude_sender {
                own_hidden.insert(client_msg_id.clone());
            }
            let question = Question {
                conversation_id,
                project_id: None,
                file_path: None,
                content,
                client_msg_id: Some(client_msg_id),
                provider: None,
                model: None,
                temperature: None,
                include_history: true,
                deep_research: false,
                prior: Vec::new(),
                client: client.to_owned(),
            };
            match state.chat.ask(question).await {
                Ok(_) => None,
                Err(e) => Some(error_text(&e.client_message())),
            }
        }
    }
}

/// A room event in seed 003's terms, or None if this client should not see it.
fn translate(
    msg: ServerMsg,
    me: Uuid,
    own_hidden: &HashSet<String>,
    answers: &mut AnswerAssembler,
) -> Option<ConversationServerMsg> {
    match msg {
        ServerMsg::MessageReceived { message, .. } => {
            let hidden = message
                .client_msg_id
                .as_ref()
                .is_some_and(|id| own_hidden.contains(id));
            (!hidden).then_some(ConversationServerMsg::Message { message })
        }
        ServerMsg::MessageToken {
            message_id, token, ..
        } => Some(ConversationServerMsg::Stream {
            message_id: message_id.to_string(),
            content: token,
        }),
        event @ (ServerMsg::MessageComplete { .. } | ServerMsg::MessageSources { .. }) => answers
            .observe(event)
            .map(|message| ConversationServerMsg::Message { message }),
        ServerMsg::MessageError { message, .. } => Some(error_text(&message)),
        ServerMsg::Typing {
            connection_id,
            is_typing,
            ..
        } if connection_id != me => Some(ConversationServerMsg::Typing {
            client_id: connection_id.to_string(),
            is_typing,
        }),
        _ => None,
    }
}

fn error_text(message: &str) -> ConversationServerMsg {
    ConversationServerMsg::Error {
        message: message.to_owned(),
    }
}

/// Sends the close frame, then reads on until the client answers it: dropped with the
/// client's frames unread, the socket would be reset and the reason lost.
async fn close<S, R>(sink: &mut S, stream: &mut R, code: u16, reason: &'static str)
where
    S: futures::Sink<Message> + Unpin,
    R: futures::Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let frame = axum::extract::ws::CloseFrame {
        code,
        reason: reason.into(),
    };
    if sink.send(Message::Close(Some(frame))).await.is_ok() {
        read_until_closed(stream).await;
    }
}

async fn send<S>(sink: &mut S, msg: &ConversationServerMsg) -> Result<(), ()>
where
    S: futures::Sink<Message> + Unpin,
{
    let text = serde_json::to_string(msg).map_err(|_| ())?;
    sink.send(Message::Text(text.into())).await.map_err(|_| ())
}
