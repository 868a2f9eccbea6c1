//! The chat provider for every network provider. The wire format is chosen by the
//! provider's dialect: Gemini and Ollama have their own, all others speak OpenAI's.

use std::sync::Arc;

use super::config::ProviderSettings;
use super::dialect::Wire;
use super::transport::Transport;
use super::{ChatProvider, ChatRequest, EventStream, gemini, ollama, openai_compatible};

pub struct HttpChatProvider {
    settings: Arc<ProviderSettings>,
    transport: Transport,
}

impl HttpChatProvider {
    pub(crate) fn new(settings: Arc<ProviderSettings>, transport: Transport) -> Self {
        Self {
            settings,
            transport,
        }
    }
}

/// A request's model and sampling settings, with the configured model defaults filling in
/// what the request leaves out.
pub(crate) struct Resolved {
    pub model: String,
    /// The f64 the request body carries: the configured f32's exact value (`0.2` goes as
    /// `0.20000000298023224`), which providers round as they please.
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub context_window: Option<u32>,
}

fn resolve(settings: &ProviderSettings, request: &ChatRequest) -> Resolved {
    let model = request
        .model
        .clone()
        .unwrap_or_else(|| settings.default_model.clone());
    let defaults = settings.model(&model);
    Resolved {
        temperature: request
            .temperature
            .or(defaults.and_then(|d| d.temperature))
            .map(f64::from),
        top_p: defaults.and_then(|d| d.top_p).map(f64::from),
        context_window: defaults.and_then(|d| d.context_window),
        model,
    }
}

impl ChatProvider for HttpChatProvider {
    fn id(&self) -> &'static str {
        self.settings.id
    }

    fn default_model(&self) -> &str {
        &self.settings.default_model
    }

    fn stream_chat(&self, request: ChatRequest) -> EventStream {
        let resolved = resolve(&self.settings, &request);
        let (settings, transport) = (&self.settings, &self.transport);
        match settings.dialect.wire() {
            Wire::Gemini => gemini::stream_chat(settings, transport, request, resolved),
            Wire::Ollama => ollama::stream_chat(settings, transport, request, resolved),
            Wire::OpenAi => openai_compatible::stream_chat(settings, transport, request, resolved),
        }
    }
}
