//! Language-model providers behind one trait. A provider turns a prompt into a stream
//! of [`ProviderEvent`]s; dropping the stream cancels the request, which is how a
//! stopped turn stops its upstream call.

mod config;
mod dialect;
mod embeddings;
mod framing;
mod gemini;
pub mod grounding;
mod http_chat;
mod http_errors;
mod offline;
mod ollama;
mod openai_compatible;
mod registry;
mod transport;

use futures::future::BoxFuture;
use futures::stream::BoxStream;

pub use config::{
    ConfigError, HttpSettings, KNOWN_PROVIDERS, ModelSettings, ProviderSettings, ProvidersConfig,
};
pub use dialect::Dialect;
pub use embeddings::{Embeddings, HttpEmbedder};
pub use http_chat::HttpChatProvider;
pub use offline::{OfflineProvider, estimate_tokens};
pub use openai_compatible::parse_sse_stream;
pub use registry::{ProviderInfo, Providers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptRole {
    System,
    User,
    Assistant,
}

impl PromptRole {
    /// The role's name in OpenAI's and Ollama's messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
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
    /// The provider asked us to slow down; the request is retried after this wait.
    /// Only ever sent before the first token.
    RateLimited {
        retry_in_ms: u64,
    },
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
    /// The provider refused the request for a reason of its own (its message says why).
    #[error("the provider rejected the request: {0}")]
    Rejected(String),
    /// The provider answered something we could not understand.
    #[error("the provider sent an unexpected response: {0}")]
    BadResponse(String),
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
            Self::Rejected(_) => "provider_rejected",
            Self::BadResponse(_) => "bad_provider_response",
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

/// Turns texts into vectors, in batches the provider accepts.
pub trait EmbeddingProvider: Send + Sync {
    fn id(&self) -> &'static str;
    fn model(&self) -> &str;
    /// One vector per input, in input order, all of the same dimension.
    fn embed<'a>(
        &'a self,
        inputs: &'a [String],
    ) -> BoxFuture<'a, Result<Embeddings, ProviderError>>;
}
