//! Seed 003's `GET /api/chat/stream/{conversation_id}`: the conversation's events as
//! Server-Sent Events, for clients without WebSocket (and the browser's fallback while
//! its socket is down). Each event's `id` is its room sequence number, so a reconnecting
//! `EventSource` resumes exactly where it stopped through `Last-Event-ID`.
//!
//! With `?message=…` the question is asked first and the stream ends with the answer;
//! without it the stream follows the conversation until the client goes away.

use std::convert::Infallible;

use app::protocol::{ServerFrame, ServerMsg};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use uuid::Uuid;

use crate::chat::Question;
use crate::http::ApiError;
use crate::http::auth::RequestClient;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    message: Option<String>,
    since_seq: Option<u64>,
    provider: Option<String>,
    model: Option<String>,
}

#[utoipa::path(get, path = "/api/chat/stream/{conversation_id}", tag = "chat", params(StreamQuery,
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this room sequence number")),
    responses((status = 200, content_type = "text/event-stream",
        description = "The conversation's events; `event` is the type, `id` the room sequence number")))]
pub async fn handler(
    State(state): State<AppState>,
    Path(conversation_id): Path<String>,
    Query(query): Query<StreamQuery>,
    RequestClient(client): RequestClient,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let conversation_id = Uuid::parse_str(&conversation_id)
        .map_err(|_| ApiError::BadRequest("conversation id must be a UUID".into()))?;
    if query.message.is_some() && asked_by_markup(&headers) {
        return Err(ApiError::Forbidden(
            "a question is asked by a script (EventSource or fetch), never by a link, an \
             image or a form"
                .into(),
        ));
    }
    // A stream is a connection like a socket, and counts toward the same per-client cap.
    let slot = state
        .connections
        .acquire(client.clone())
        .await
        .ok_or_else(|| ApiError::TooMany {
            message: format!(
                "too many open connections for this client (REPOWIKI_MAX_CONNECTIONS_PER_CLIENT = {})",
                state.config.max_connections_per_client
            ),
            retry_after_secs: 5,
        })?;
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let asking = query.message.is_some();
    // A fresh follower that is not asking wants the conversation so far: a snapshot.
    let since = last_event_id
        .or(query.since_seq)
        .or(if asking { None } else { Some(0) });
    let follower = state
        .chat
        .follow(conversation_id, since, state.config.outgoing_queue)
        .await?;
    if let Some(message) = query.message {
        state
            .chat
            .ask(Question {
                conversation_id,
                project_id: None,
                file_path: None,
                content: message,
                client_msg_id: None,
                provider: query.provider,
                model: query.model,
                temperature: None,
                include_history: true,
                deep_research: false,
                prior: Vec::new(),
                client,
            })
            .await?;
    }
    let events = futures::stream::unfold(
        (follower, slot, false),
        move |(mut follower, slot, done)| async move {
            if done {
                return None;
            }
            let frame = follower.next().await?;
            let ends_turn = matches!(
                frame.msg,
                ServerMsg::MessageComplete { .. } | ServerMsg::MessageError { .. }
            );
            Some((Ok(event(&frame)), (follower, slot, asking && ends_turn)))
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// True for a browser request that no script made: a navigation (a link, a form, the
/// address bar) or a `no-cors` fetch (an `<img>`, a `<script src>`). Asking spends model
/// tokens, so markup on any page, even one on this site, must not be able to do it.
/// EventSource and fetch say `cors` or `same-origin`; non-browser clients say nothing.
fn asked_by_markup(headers: &HeaderMap) -> bool {
    let mode = headers
        .get("sec-fetch-mode")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    matches!(mode, "navigate" | "no-cors" | "nested-navigate")
}

fn event(frame: &ServerFrame) -> Event {
    let data = serde_json::to_string(frame).unwrap_or_else(|_| "{}".to_owned());
    let kind = serde_json::to_value(&frame.msg)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "message".to_owned());
    let event = Event::default().event(kind).data(data);
    match frame.seq {
        Some(seq) => event.id(seq.to_string()),
        None => event,
    }
}
