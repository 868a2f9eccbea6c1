//! Wire formats of the systems RepoWiki replaces, kept so their clients work unchanged
//! (see shared/seeds/). Only the server speaks these; the browser uses [`super`].

use serde::{Deserialize, Serialize};

use super::ChatMessage;

/// Seed 002, `GET /ws/chat`: the one request a client sends after connecting. The
/// answer comes back as plain-text frames and the socket closes when it is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WsChatRequest {
    #[serde(default)]
    pub repo_url: Option<String>,
    pub messages: Vec<WsChatMessage>,
    #[serde(default, rename = "filePath")]
    pub file_path: Option<String>,
    /// Access token for a private repository; never logged or echoed.
    #[serde(default)]
    pub token: Option<String>,
    /// `github`, `gitlab`, `bitbucket` or `local`.
    #[serde(default, rename = "type")]
    pub repo_type: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub excluded_dirs: Option<String>,
    #[serde(default)]
    pub excluded_files: Option<String>,
    #[serde(default)]
    pub included_dirs: Option<String>,
    #[serde(default)]
    pub included_files: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WsChatMessage {
    pub role: String,
    pub content: String,
}

/// The prefix that turns on deep research in seed 002's last user message.
pub const DEEP_RESEARCH_PREFIX: &str = "[DEEP RESEARCH]";

/// Seed 002's job-progress socket also sends this every 30 s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub heartbeat: bool,
}

/// Seed 003, `GET /ws/chat/{conversation_id}`: what a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConversationClientMsg {
    Message {
        content: String,
        /// Leave the sender out of the broadcast of its own message.
        #[serde(default)]
        exclude_sender: bool,
    },
    Ping {
        #[serde(default)]
        timestamp: Option<u64>,
    },
    Typing {
        is_typing: bool,
    },
}

/// Seed 003: what the server broadcasts to every client of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConversationServerMsg {
    Connected {
        client_id: String,
        conversation_id: String,
    },
    /// A stored message: the question when asked, the answer when complete.
    Message {
        message: ChatMessage,
    },
    /// A piece of the answer being generated.
    Stream {
        message_id: String,
        content: String,
    },
    Pong {
        timestamp: u64,
    },
    Typing {
        client_id: String,
        is_typing: bool,
    },
    Error {
        message: String,
    },
}
