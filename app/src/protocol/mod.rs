//! The wire protocol of the application socket `GET /ws`: the one contract that the
//! server and the browser both compile against.
//!
//! Every frame is a JSON object whose `type` names the variant in snake_case, with the
//! variant's fields beside it (serde's internally tagged enums). Frames from the server
//! are [`ServerFrame`]s: the event plus, for events published to a room, the room's name
//! and the event's sequence number in that room, so that a client can resume with
//! `join {room, since_seq}` after a reconnect.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub mod rest;
pub mod seed;
pub mod socket_io;
mod vocabulary;

pub use vocabulary::{Importance, JobStatus, PageStatus, UnknownState};

/// Progress of a background job, in the field names of the seed-002 progress socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct JobProgress {
    pub job_id: String,
    pub status: JobStatus,
    /// 0 fetch and index, 1 structure, 2 pages, 3 done.
    pub current_phase: u8,
    pub progress_percent: f32,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_title: Option<String>,
    pub total_pages: u32,
    pub completed_pages: u32,
    pub failed_pages: u32,
}

impl JobProgress {
    /// Statuses after which nothing more will happen.
    pub fn is_final(&self) -> bool {
        self.status.is_final()
    }
}

/// Milliseconds since the Unix epoch; the one clock format on the wire.
pub type Millis = u64;

/// A frame sent by the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// Subscribe to a room; `since_seq` asks for every event after that sequence number.
    Join {
        room: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since_seq: Option<u64>,
    },
    Leave {
        room: String,
    },
    /// Ask a question. An id the server has not seen starts a conversation with that id,
    /// so a client can join the conversation's room before its first message.
    SendMessage {
        conversation_id: Uuid,
        content: String,
        /// Chosen by the client so it can match the echoed `message_received` to its input.
        client_msg_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        temperature: Option<f32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        include_history: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deep_research: Option<bool>,
        /// The project a new conversation answers from; ignored for an existing one,
        /// which keeps the project it started with.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        project_id: Option<String>,
        /// A question about one file of the project: its content goes into the prompt.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_path: Option<String>,
    },
    Stop {
        conversation_id: Uuid,
    },
    Regenerate {
        conversation_id: Uuid,
        message_id: Uuid,
    },
    /// Asks `content` in place of the shown question `message_id`: a new branch of the
    /// conversation starts there and is answered; the old branch is kept as a version.
    EditMessage {
        conversation_id: Uuid,
        message_id: Uuid,
        content: String,
        client_msg_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
    },
    /// Shows the branch through `message_id`, one of the versions a message lists.
    ShowVersion {
        conversation_id: Uuid,
        message_id: Uuid,
    },
    Typing {
        conversation_id: Uuid,
        is_typing: bool,
    },
    Ping {
        t: Millis,
    },
}

impl ClientMsg {
    /// Every `type` a client may send.
    pub const TYPES: &'static [&'static str] = &[
        "join",
        "leave",
        "send_message",
        "stop",
        "regenerate",
        "edit_message",
        "show_version",
        "typing",
        "ping",
    ];
}

/// What the server sends: an event, and where it was published to a room, which room
/// and at which sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerFrame {
    #[serde(flatten)]
    pub msg: ServerMsg,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

impl ServerFrame {
    /// A frame addressed to one connection only, outside any room.
    pub fn direct(msg: ServerMsg) -> Self {
        Self {
            msg,
            room: None,
            seq: None,
        }
    }
}

/// An event from the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    Welcome {
        connection_id: Uuid,
        server_time: Millis,
    },
    /// The connection is now a member of the frame's room; `last_seq` is the room's
    /// newest sequence number, from which the client resumes next time.
    Joined {
        last_seq: u64,
    },
    Left {},
    /// The conversation as stored plus the answer in progress, sent on a join whose
    /// `since_seq` the replay buffer no longer covers. Events after `last_seq` follow live.
    Snapshot {
        conversation_id: Uuid,
        messages: Vec<ChatMessage>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        in_progress: Option<InProgress>,
        last_seq: u64,
    },
    Presence {
        connections: usize,
    },
    /// The user message was stored; generation starts next.
    MessageReceived {
        conversation_id: Uuid,
        message: ChatMessage,
    },
    MessageSources {
        conversation_id: Uuid,
        message_id: Uuid,
        sources: Vec<Source>,
    },
    MessageToken {
        conversation_id: Uuid,
        message_id: Uuid,
        token: String,
    },
    /// Generation is paused, e.g. the provider is rate limiting; it retries by itself.
    MessageWaiting {
        conversation_id: Uuid,
        message_id: Uuid,
        reason: String,
        retry_in_ms: u64,
    },
    ResearchIteration {
        conversation_id: Uuid,
        message_id: Uuid,
        n: u32,
        total: u32,
        query: String,
    },
    /// The assistant message was stored; `content` is its full text.
    MessageComplete {
        conversation_id: Uuid,
        message_id: Uuid,
        content: String,
        metadata: MessageMetadata,
    },
    /// Generation failed; whatever was produced before the failure is stored as `content`.
    MessageError {
        conversation_id: Uuid,
        message_id: Uuid,
        code: String,
        message: String,
        content: String,
    },
    /// `regenerate` started: the answer `old_message_id` is being replaced by
    /// `new_message_id` (the old one is kept as a previous version).
    MessageReplaced {
        conversation_id: Uuid,
        old_message_id: Uuid,
        new_message_id: Uuid,
    },
    /// The conversation shows another branch (a question was edited, or another version
    /// chosen): `messages` is the conversation as now shown.
    BranchShown {
        conversation_id: Uuid,
        messages: Vec<ChatMessage>,
    },
    /// The conversation was deleted; clients should close it.
    ConversationDeleted {
        conversation_id: Uuid,
    },
    Typing {
        conversation_id: Uuid,
        connection_id: Uuid,
        is_typing: bool,
    },
    Pong {
        t: Millis,
        server_time: Millis,
    },
    JobProgress(JobProgress),
    /// An uploaded document of the project is being processed (`progress` 0 to 100).
    DocumentStatus {
        project_id: String,
        document_id: String,
        path: String,
        status: DocumentState,
        progress: f32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A project changed: a document was added or deleted, or its status changed.
    ProjectUpdate {
        project_id: String,
        update: ProjectChange,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        document_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        /// The project's status after a `status_changed`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<rest::ProjectStatus>,
    },
    /// A processing status published to a room over `POST /api/v1/websocket/status`.
    ProcessingStatus {
        status: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        progress_percent: Option<f32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// A frame the server could not act on. The socket stays open.
    Error {
        code: ErrorCode,
        message: String,
        /// The `client_msg_id` or room the error concerns, when there is one.
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
}

/// Where an uploaded document's processing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentState {
    Processing,
    Indexed,
    Failed,
}

/// What a `project_update` reports (seed 004 calls this field `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectChange {
    DocumentAdded,
    DocumentDeleted,
    StatusChanged,
}

/// An assistant answer still being generated, as far as it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InProgress {
    pub message_id: Uuid,
    pub content: String,
}

/// Machine-readable reasons in `error` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, or JSON that is not a known frame.
    InvalidFrame,
    UnknownType,
    /// A known frame whose fields are missing or of the wrong type or size.
    InvalidField,
    NotFound,
    /// A turn is already running in that conversation.
    Busy,
    RateLimited,
    /// A per-connection limit (rooms, connections) is reached.
    LimitExceeded,
    /// A frame this server version does not act on yet.
    Unsupported,
    Internal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Role {
    User,
    Assistant,
}

/// How an assistant message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum FinishReason {
    Completed,
    Stopped,
    Error,
    /// The instance generating it stopped without finishing (a crash, a kill): the answer
    /// is kept as far as it was last saved and can be regenerated.
    Interrupted,
}

/// A stored chat message as clients see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChatMessage {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub role: Role,
    pub content: String,
    #[serde(default)]
    pub sources: Vec<Source>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<MessageMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
    pub created_at: Millis,
    /// Every version of this place in the conversation (regenerated answers, edited
    /// questions), oldest first, this message among them; empty while there is one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<Uuid>,
}

/// A retrieved passage that an answer may cite as `[n]`, n being its position plus one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Source {
    pub id: String,
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
    pub snippet: String,
    pub score: f32,
}

/// What is known about how an assistant message was produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MessageMetadata {
    pub provider: String,
    pub model: String,
    pub finish_reason: FinishReason,
    #[serde(default)]
    pub sources_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens: Option<u32>,
    /// Milliseconds from the start of generation to the first token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_first_token_ms: Option<u64>,
    #[serde(default)]
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub research_iterations: Option<u32>,
}

/// Room names, as strings on the wire: `conversation:<uuid>`, `project:<id>`, `job:<id>`.
pub mod rooms {
    use uuid::Uuid;

    pub fn conversation(id: Uuid) -> String {
        format!("conversation:{id}")
    }

    pub fn job(id: &str) -> String {
        format!("job:{id}")
    }

    pub fn project(id: &str) -> String {
        format!("project:{id}")
    }

    /// Every wiki job's progress, for whatever shows how many are running.
    pub const WIKI_JOBS: &str = "jobs:wiki";
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip_client(msg: ClientMsg) {
        let text = serde_json::to_string(&msg).expect("serialise");
        let back: ClientMsg = serde_json::from_str(&text).expect("parse");
        assert_eq!(back, msg, "{text}");
    }

    fn round_trip_server(frame: ServerFrame) {
        let text = serde_json::to_string(&frame).expect("serialise");
        let back: ServerFrame = serde_json::from_str(&text).expect("parse");
        assert_eq!(back, frame, "{text}");
    }

    fn sample_metadata() -> MessageMetadata {
        MessageMetadata {
            provider: "offline".into(),
            model: "extractive".into(),
            finish_reason: FinishReason::Completed,
            sources_count: 1,
            prompt_tokens: Some(12),
            completion_tokens: Some(34),
            time_to_first_token_ms: Some(5),
            duration_ms: 900,
            research_iterations: None,
        }
    }

    fn sample_source() -> Source {
        Source {
            id: "s1".into(),
            path: "src/lib.rs".into(),
            start_line: 3,
            end_line: 9,
            snippet: "fn parse_config()".into(),
            score: 0.5,
        }
    }

    #[test]
    fn every_client_variant_round_trips() {
        let id = Uuid::new_v4();
        for msg in [
            ClientMsg::Join {
                room: rooms::conversation(id),
                since_seq: Some(4),
            },
            ClientMsg::Join {
                room: "project:p1".into(),
                since_seq: None,
            },
            ClientMsg::Leave {
                room: "job:j1".into(),
            },
            ClientMsg::SendMessage {
                conversation_id: id,
                content: "How is config parsed?".into(),
                client_msg_id: "c-1".into(),
                provider: Some("offline".into()),
                model: Some("extractive".into()),
                temperature: Some(0.5),
                include_history: Some(false),
                deep_research: Some(true),
                project_id: Some("p1".into()),
                file_path: Some("src/lib.rs".into()),
            },
            ClientMsg::Stop {
                conversation_id: id,
            },
            ClientMsg::Regenerate {
                conversation_id: id,
                message_id: Uuid::new_v4(),
            },
            ClientMsg::EditMessage {
                conversation_id: id,
                message_id: Uuid::new_v4(),
                content: "And how is it saved?".into(),
                client_msg_id: "c-2".into(),
                provider: None,
                model: Some("m".into()),
            },
            ClientMsg::ShowVersion {
                conversation_id: id,
                message_id: Uuid::new_v4(),
            },
            ClientMsg::Typing {
                conversation_id: id,
                is_typing: true,
            },
            ClientMsg::Ping {
                t: 1_700_000_000_000,
            },
        ] {
            round_trip_client(msg);
        }
    }

    #[test]
    fn every_server_variant_round_trips() {
        let conversation_id = Uuid::new_v4();
        let message_id = Uuid::new_v4();
        let message = ChatMessage {
            id: message_id,
            conversation_id,
            role: Role::User,
            content: "hi".into(),
            sources: vec![sample_source()],
            metadata: Some(sample_metadata()),
            client_msg_id: Some("c-1".into()),
            created_at: 1,
            versions: vec![Uuid::new_v4(), message_id],
        };
        let events = [
            ServerMsg::Welcome {
                connection_id: Uuid::new_v4(),
                server_time: 2,
            },
            ServerMsg::Joined { last_seq: 7 },
            ServerMsg::Left {},
            ServerMsg::Snapshot {
                conversation_id,
                messages: vec![message.clone()],
                in_progress: Some(InProgress {
                    message_id,
                    content: "Hel".into(),
                }),
                last_seq: 9,
            },
            ServerMsg::Presence { connections: 3 },
            ServerMsg::MessageReceived {
                conversation_id,
                message: message.clone(),
            },
            ServerMsg::MessageSources {
                conversation_id,
                message_id,
                sources: vec![sample_source()],
            },
            ServerMsg::MessageToken {
                conversation_id,
                message_id,
                token: "Hello ".into(),
            },
            ServerMsg::MessageWaiting {
                conversation_id,
                message_id,
                reason: "rate_limited".into(),
                retry_in_ms: 2000,
            },
            ServerMsg::ResearchIteration {
                conversation_id,
                message_id,
                n: 1,
                total: 5,
                query: "config loading".into(),
            },
            ServerMsg::MessageComplete {
                conversation_id,
                message_id,
                content: "Hello".into(),
                metadata: sample_metadata(),
            },
            ServerMsg::MessageError {
                conversation_id,
                message_id,
                code: "timeout".into(),
                message: "the provider stopped answering".into(),
                content: "Hel".into(),
            },
            ServerMsg::MessageReplaced {
                conversation_id,
                old_message_id: message_id,
                new_message_id: Uuid::new_v4(),
            },
            ServerMsg::BranchShown {
                conversation_id,
                messages: vec![message.clone()],
            },
            ServerMsg::ConversationDeleted { conversation_id },
            ServerMsg::Typing {
                conversation_id,
                connection_id: Uuid::new_v4(),
                is_typing: false,
            },
            ServerMsg::Pong {
                t: 1,
                server_time: 2,
            },
            ServerMsg::JobProgress(JobProgress {
                job_id: "job_123".into(),
                status: JobStatus::Running,
                current_phase: 2,
                progress_percent: 35.0,
                message: "Generating authentication page".into(),
                page_id: Some("page_456".into()),
                page_title: Some("Authentication".into()),
                total_pages: 20,
                completed_pages: 7,
                failed_pages: 1,
            }),
            ServerMsg::ProcessingStatus {
                status: "processing".into(),
                progress_percent: Some(40.0),
                message: None,
            },
            ServerMsg::Error {
                code: ErrorCode::InvalidFrame,
                message: "expected value".into(),
                reference: Some("c-1".into()),
            },
        ];
        for msg in events {
            round_trip_server(ServerFrame::direct(msg.clone()));
            round_trip_server(ServerFrame {
                msg,
                room: Some(rooms::conversation(conversation_id)),
                seq: Some(42),
            });
        }
    }

    #[test]
    fn frames_use_the_documented_wire_shape() {
        let ping: ClientMsg =
            serde_json::from_value(json!({"type": "ping", "t": 1_700_000_000_000u64}))
                .expect("ping parses");
        assert_eq!(
            ping,
            ClientMsg::Ping {
                t: 1_700_000_000_000
            }
        );

        let id = Uuid::nil();
        let frame = ServerFrame {
            msg: ServerMsg::MessageToken {
                conversation_id: id,
                message_id: id,
                token: "x".into(),
            },
            room: Some(rooms::conversation(id)),
            seq: Some(3),
        };
        assert_eq!(
            serde_json::to_value(&frame).expect("serialise"),
            json!({
                "type": "message_token",
                "conversation_id": id,
                "message_id": id,
                "token": "x",
                "room": format!("conversation:{id}"),
                "seq": 3,
            })
        );
    }

    #[test]
    fn send_message_needs_only_its_required_fields() {
        let id = Uuid::new_v4();
        let msg: ClientMsg = serde_json::from_value(json!({
            "type": "send_message", "conversation_id": id, "content": "q", "client_msg_id": "a"
        }))
        .expect("minimal send_message parses");
        assert!(matches!(msg, ClientMsg::SendMessage { provider: None, .. }));
    }
}
