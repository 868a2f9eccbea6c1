//! The HTTP fallback while the socket is down: the question goes to
//! `GET /api/chat/stream/{id}?message=…` and the turn's events come back as Server-Sent
//! Events carrying the same frames (room and sequence number included), so they pass
//! through the same exactly-once filter as socket frames.

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{EventSource, MessageEvent};

use super::{ChatClient, SendOptions, api};
use crate::protocol::ServerFrame;

/// Event names of one chat turn, as the endpoint names them.
const TURN_EVENTS: &[&str] = &[
    "snapshot",
    "message_received",
    "message_sources",
    "message_token",
    "message_waiting",
    "research_iteration",
    "message_replaced",
    "message_complete",
    "message_error",
    "error",
];

/// Starts the turn over SSE; false if the browser could not open the stream.
pub(super) fn ask(
    client: ChatClient,
    conversation_id: uuid::Uuid,
    content: &str,
    options: &SendOptions,
) -> bool {
    let mut url = format!(
        "/api/chat/stream/{conversation_id}?message={}",
        api::encode(content)
    );
    for (name, value) in [("provider", &options.provider), ("model", &options.model)] {
        if let Some(value) = value {
            url.push_str(&format!("&{name}={}", api::encode(value)));
        }
    }
    let Ok(source) = EventSource::new(&url) else {
        return false;
    };
    let handler = {
        let source = source.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            let Some(event) = event.dyn_ref::<MessageEvent>() else {
                // A transport error: close rather than let EventSource retry, which would
                // ask the question a second time.
                source.close();
                return;
            };
            let Some(data) = event.data().as_string() else {
                return;
            };
            let Ok(frame) = serde_json::from_str::<ServerFrame>(&data) else {
                return;
            };
            let ends = matches!(
                frame.msg,
                crate::protocol::ServerMsg::MessageComplete { .. }
                    | crate::protocol::ServerMsg::MessageError { .. }
            );
            client.apply(frame);
            if ends {
                source.close();
            }
        })
    };
    for name in TURN_EVENTS {
        let _ = source.add_event_listener_with_callback(name, handler.as_ref().unchecked_ref());
    }
    // One closure per fallback turn, which are rare; it must outlive this call.
    handler.forget();
    true
}
