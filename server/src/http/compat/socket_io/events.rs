//! The events a Socket.IO client may send, parsed from their payloads. A known event with
//! a missing or mistyped field is refused with a message naming the field; unknown events
//! never get here (the server only listens for these names).

use app::protocol::socket_io::{
    ChatSession, JoinProject, LeaveProject, ProcessingUpdates, SendMessage, StopMessage,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    JoinProject(JoinProject),
    LeaveProject(LeaveProject),
    SendMessage(SendMessage),
    StopMessage(StopMessage),
    Ping,
    JoinChatSession(ChatSession),
    LeaveChatSession(ChatSession),
    Subscribe(ProcessingUpdates),
    Unsubscribe(ProcessingUpdates),
}

/// Every event name the server listens for.
pub const NAMES: &[&str] = &[
    "join_project",
    "leave_project",
    "send_message",
    "stop_message",
    "ping",
    "join_chat_session",
    "leave_chat_session",
    "subscribe_processing_updates",
    "unsubscribe_processing_updates",
];

/// Parses one event. `payload` is None when the client sent no argument at all.
pub fn parse(event: &str, payload: Option<Value>) -> Result<Incoming, String> {
    // Events whose fields are all optional may come without a payload (`emit('ping')`).
    let payload = payload.unwrap_or(Value::Object(Default::default()));
    Ok(match event {
        "join_project" => Incoming::JoinProject(fields(event, payload)?),
        "leave_project" => Incoming::LeaveProject(fields(event, payload)?),
        "send_message" => Incoming::SendMessage(fields(event, payload)?),
        "stop_message" => Incoming::StopMessage(fields(event, payload)?),
        "ping" => Incoming::Ping,
        "join_chat_session" => Incoming::JoinChatSession(fields(event, payload)?),
        "leave_chat_session" => Incoming::LeaveChatSession(fields(event, payload)?),
        "subscribe_processing_updates" => Incoming::Subscribe(fields(event, payload)?),
        "unsubscribe_processing_updates" => Incoming::Unsubscribe(fields(event, payload)?),
        other => return Err(format!("unknown event {other}")),
    })
}

fn fields<T: DeserializeOwned>(event: &str, payload: Value) -> Result<T, String> {
    if !payload.is_object() {
        return Err(format!("{event} takes an object payload"));
    }
    serde_path_to_error::deserialize(payload).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            // A missing field: serde's message names it already.
            format!("{event}: {}", e.into_inner())
        } else {
            format!("{event}: field {path}: {}", e.into_inner())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::protocol::socket_io::ClientId;
    use serde_json::json;

    #[test]
    fn seed_004s_payloads_parse() {
        let Ok(Incoming::JoinProject(join)) = parse("join_project", Some(json!({"project_id": 1})))
        else {
            panic!("join_project")
        };
        assert_eq!(join.project_id, ClientId::Number(1));
        assert_eq!(parse("ping", Some(json!({}))), Ok(Incoming::Ping));
        assert_eq!(parse("ping", None), Ok(Incoming::Ping));
        assert!(matches!(
            parse("leave_project", None),
            Ok(Incoming::LeaveProject(LeaveProject { project_id: None }))
        ));
    }

    #[test]
    fn a_missing_field_is_named() {
        let error = parse("send_message", Some(json!({"chat_id": 1}))).expect_err("no message");
        assert!(
            error.contains("send_message") && error.contains("`message`"),
            "{error}"
        );
    }

    #[test]
    fn a_mistyped_field_is_named() {
        let error = parse(
            "send_message",
            Some(json!({"chat_id": 1, "message": "hi", "temperature": "hot"})),
        )
        .expect_err("temperature is a number");
        assert!(error.contains("temperature"), "{error}");
        let error = parse("join_project", Some(json!({"project_id": [1]}))).expect_err("an array");
        assert!(error.contains("project_id"), "{error}");
    }

    #[test]
    fn a_payload_that_is_not_an_object_is_refused() {
        for payload in [json!("hello"), json!(3), json!(null), json!([1])] {
            let error = parse("send_message", Some(payload)).expect_err("not an object");
            assert!(error.contains("object"), "{error}");
        }
    }

    #[test]
    fn processing_updates_name_their_room_one_way() {
        let Ok(Incoming::Subscribe(updates)) = parse(
            "subscribe_processing_updates",
            Some(json!({"job_id": "j1"})),
        ) else {
            panic!("subscribe")
        };
        assert_eq!(updates.job_id.as_deref(), Some("j1"));
        assert!(parse("subscribe_processing_updates", Some(json!({"room": 5}))).is_err());
    }
}
