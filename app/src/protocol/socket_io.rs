//! The Socket.IO events of seeds 004 (DAA Chatbot) and 001 (MultiModelVideo) at
//! `/socket.io/`, field for field, so their `socket.io-client` code works unchanged.
//! Only the server speaks these; each event's payload is one JSON object.
//!
//! Fields the seeds do not have (`conversation_id`, `message_id`, `path`, …) are added
//! beside theirs, never in place of them.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use super::{JobProgress, Millis};

/// An id the client chose: seed 004 uses integers (`chat_id: 1`), other clients strings.
/// Echoed back exactly as sent; `1` and `"1"` name the same thing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientId {
    Number(i64),
    Text(String),
}

impl ClientId {
    /// The canonical text form, the same for `1` and `"1"`.
    pub fn key(&self) -> String {
        match self {
            Self::Number(n) => n.to_string(),
            Self::Text(s) => s.clone(),
        }
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Text(s) => f.write_str(s),
        }
    }
}

impl Serialize for ClientId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Number(n) => serializer.serialize_i64(*n),
            Self::Text(s) => serializer.serialize_str(s),
        }
    }
}

/// Longest client-chosen id accepted; ids are echoed in every event of their chat.
pub const MAX_CLIENT_ID_CHARS: usize = 256;

impl<'de> Deserialize<'de> for ClientId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl Visitor<'_> for IdVisitor {
            type Value = ClientId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "an integer or a non-empty string of at most {MAX_CLIENT_ID_CHARS} characters"
                )
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ClientId, E> {
                Ok(ClientId::Number(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ClientId, E> {
                i64::try_from(v)
                    .map(ClientId::Number)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ClientId, E> {
                let trimmed = v.trim();
                if trimmed.is_empty() || trimmed.chars().count() > MAX_CLIENT_ID_CHARS {
                    return Err(E::invalid_value(de::Unexpected::Str(v), &self));
                }
                Ok(ClientId::Text(trimmed.to_owned()))
            }
        }
        deserializer.deserialize_any(IdVisitor)
    }
}

// ---- Events a client sends ----

/// `join_project`: answers come from this project; one project room at a time.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct JoinProject {
    pub project_id: ClientId,
}

/// `leave_project`. Without `project_id`, leaves whichever project is joined.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LeaveProject {
    #[serde(default)]
    pub project_id: Option<ClientId>,
}

/// `send_message`: a question in the chat `chat_id` (the same id, the same conversation).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SendMessage {
    pub chat_id: ClientId,
    pub message: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub temperature: Option<f32>,
    #[serde(default)]
    pub include_history: Option<bool>,
    /// Not in the seed: which configured provider answers.
    #[serde(default)]
    pub provider: Option<String>,
    /// Not in the seed: a Deep Research answer.
    #[serde(default)]
    pub deep_research: Option<bool>,
}

/// `stop_message` (not in the seed): stops the answer being generated in a chat.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StopMessage {
    pub chat_id: ClientId,
}

/// Seed 001's `join_chat_session` / `leave_chat_session`: follow a chat's events.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChatSession {
    pub session_id: ClientId,
}

/// Seed 001's `subscribe_processing_updates` / `unsubscribe_processing_updates`: the
/// room that `POST /api/v1/websocket/status` publishes to, named directly (`room`) or by
/// what it belongs to. One of the fields is given.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ProcessingUpdates {
    #[serde(default)]
    pub room: Option<String>,
    #[serde(default)]
    pub job_id: Option<String>,
    #[serde(default)]
    pub project_id: Option<ClientId>,
    #[serde(default)]
    pub session_id: Option<ClientId>,
}

// ---- Events the server sends ----

/// One event from the server: its Socket.IO event name and its payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ServerEvent {
    ConnectionStatus {
        status: &'static str,
        sid: String,
    },
    ProjectJoined {
        project_id: ClientId,
    },
    ProjectLeft {
        project_id: ClientId,
    },
    MessageReceived {
        chat_id: ClientId,
        conversation_id: Uuid,
        message_id: Uuid,
    },
    MessageSources {
        chat_id: ClientId,
        sources: Vec<SourceDocument>,
    },
    MessageToken {
        chat_id: ClientId,
        token: String,
    },
    /// Deep Research: one iteration started.
    ResearchIteration {
        chat_id: ClientId,
        n: u32,
        total: u32,
        query: String,
    },
    MessageComplete {
        chat_id: ClientId,
        message_id: Uuid,
        metadata: CompleteMetadata,
    },
    DocumentStatus {
        document_id: String,
        /// `processing`, `completed` or `failed`.
        status: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        progress: Option<f32>,
        project_id: String,
        filename: String,
        path: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    ProjectUpdate {
        #[serde(rename = "type")]
        kind: &'static str,
        data: ProjectUpdateData,
    },
    ChatSessionJoined {
        session_id: ClientId,
    },
    ChatSessionLeft {
        session_id: ClientId,
    },
    ProcessingUpdatesSubscribed {
        room: String,
    },
    ProcessingUpdatesUnsubscribed {
        room: String,
    },
    ProcessingStatus {
        room: String,
        status: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        progress_percent: Option<f32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    JobProgress(JobProgress),
    Pong {
        /// Server time in milliseconds: the seed computes `Date.now() - timestamp`.
        timestamp: Millis,
    },
    Error {
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        chat_id: Option<ClientId>,
        /// Not in the seed: the machine-readable reason, as in `/ws` error events.
        code: String,
    },
}

impl ServerEvent {
    /// The Socket.IO event name the payload is emitted under.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ConnectionStatus { .. } => "connection_status",
            Self::ProjectJoined { .. } => "project_joined",
            Self::ProjectLeft { .. } => "project_left",
            Self::MessageReceived { .. } => "message_received",
            Self::MessageSources { .. } => "message_sources",
            Self::MessageToken { .. } => "message_token",
            Self::ResearchIteration { .. } => "research_iteration",
            Self::MessageComplete { .. } => "message_complete",
            Self::DocumentStatus { .. } => "document_status",
            Self::ProjectUpdate { .. } => "project_update",
            Self::ChatSessionJoined { .. } => "chat_session_joined",
            Self::ChatSessionLeft { .. } => "chat_session_left",
            Self::ProcessingUpdatesSubscribed { .. } => "processing_updates_subscribed",
            Self::ProcessingUpdatesUnsubscribed { .. } => "processing_updates_unsubscribed",
            Self::ProcessingStatus { .. } => "processing_status",
            Self::JobProgress(_) => "job_progress",
            Self::Pong { .. } => "pong",
            Self::Error { .. } => "error",
        }
    }
}

/// A retrieved passage in seed 004's shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceDocument {
    pub id: String,
    pub content: String,
    pub metadata: SourceMetadata,
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceMetadata {
    /// The project document the passage comes from (the id `document_status` uses).
    pub document_id: String,
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompleteMetadata {
    pub model: String,
    pub sources_count: u32,
    pub provider: String,
    /// `completed` or `stopped`.
    pub finish_reason: super::FinishReason,
}

/// `project_update`'s `data`: which document, when the update is about one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectUpdateData {
    pub project_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<super::rest::ProjectStatus>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_echoed_as_sent_and_keyed_alike() {
        let number: ClientId = serde_json::from_str("1").expect("integer id");
        let text: ClientId = serde_json::from_str("\"1\"").expect("string id");
        assert_eq!(serde_json::to_string(&number).expect("json"), "1");
        assert_eq!(serde_json::to_string(&text).expect("json"), "\"1\"");
        assert_eq!(number.key(), text.key());
    }

    #[test]
    fn client_ids_refuse_what_cannot_name_a_chat() {
        for bad in [
            "1.5",
            "\"\"",
            "\"   \"",
            "null",
            "true",
            "{}",
            "18446744073709551615",
        ] {
            assert!(serde_json::from_str::<ClientId>(bad).is_err(), "{bad}");
        }
        let long = format!("\"{}\"", "x".repeat(MAX_CLIENT_ID_CHARS + 1));
        assert!(serde_json::from_str::<ClientId>(&long).is_err());
    }

    #[test]
    fn send_message_takes_seed_004s_fields() {
        let msg: SendMessage = serde_json::from_str(
            r#"{"chat_id": 1, "message": "What is this?", "model": "llama3.2",
                "temperature": 0.7, "include_history": true}"#,
        )
        .expect("seed 004's example");
        assert_eq!(msg.chat_id, ClientId::Number(1));
        assert_eq!(msg.model.as_deref(), Some("llama3.2"));
        assert_eq!(msg.include_history, Some(true));
    }

    #[test]
    fn events_serialise_as_their_payload_alone() {
        let event = ServerEvent::MessageToken {
            chat_id: ClientId::Number(7),
            token: "Hi".into(),
        };
        assert_eq!(event.name(), "message_token");
        assert_eq!(
            serde_json::to_value(&event).expect("json"),
            serde_json::json!({"chat_id": 7, "token": "Hi"})
        );
    }
}
