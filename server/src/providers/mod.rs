//! Language-model providers behind one trait. A provider turns a prompt into a stream
//! of [`ProviderEvent`]s; dropping the stream cancels the request, which is how a
//! stopped turn stops its upstream call.

mod offline;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::stream::BoxStream;

pub use offline::OfflineProvider;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptRole {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PromptMessage {
    pub role: PromptRole,
    pub content: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<PromptMessage>,
    /// None: the provider's default model.
    pub model: Option<String>,
    pub temperature: Option<f32>,
}

impl ChatRequest {
    /// The newest user message: what is being asked.
    pub fn question(&self) -> &str {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == PromptRole::User)
            .map(|m| m.content.as_str())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ProviderEvent {
    Token(String),
    /// Token counts as the provider reports them, at the end of a stream.
    Usage {
        prompt_tokens: u32,
        completion_tokens: u32,
    },
}

/// Why a provider could not answer; each becomes a `message_error` with its code.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    #[error("the provider rejected the API key")]
    InvalidKey,
    #[error("the provider does not know the model {0}")]
    UnknownModel(String),
    #[error("the provider is rate limiting requests")]
    RateLimited,
    #[error("the provider did not answer in time")]
    Timeout,
    #[error("the prompt is longer than the model's context window")]
    ContextTooLong,
    #[error("the provider's stream ended before the answer was complete")]
    StreamCut,
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
}

impl ProviderError {
    /// The code clients see in `message_error`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidKey => "invalid_api_key",
            Self::UnknownModel(_) => "unknown_model",
            Self::RateLimited => "rate_limited",
            Self::Timeout => "timeout",
            Self::ContextTooLong => "context_too_long",
            Self::StreamCut => "stream_cut",
            Self::Unavailable(_) => "provider_unavailable",
        }
    }
}

pub type EventStream = BoxStream<'static, Result<ProviderEvent, ProviderError>>;

pub trait ChatProvider: Send + Sync {
    /// The id clients name in `provider` (`openai`, `ollama`, `offline`, …).
    fn id(&self) -> &'static str;
    fn default_model(&self) -> &str;
    fn stream_chat(&self, request: ChatRequest) -> EventStream;
}

/// The configured providers; the default is the first configured, else the offline one.
#[derive(Clone)]
pub struct Providers {
    by_id: BTreeMap<&'static str, Arc<dyn ChatProvider>>,
    default_id: &'static str,
}

impl Providers {
    pub fn new(default: Arc<dyn ChatProvider>) -> Self {
        let default_id = default.id();
        Self {
            by_id: BTreeMap::from([(default_id, default)]),
            default_id,
        }
    }

    /// The named provider, or the default one for `None`.
    pub fn get(&self, id: Option<&str>) -> Option<Arc<dyn ChatProvider>> {
        self.by_id.get(id.unwrap_or(self.default_id)).cloned()
    }
}
