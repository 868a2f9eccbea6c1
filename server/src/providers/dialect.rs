//! Which provider a network provider's settings are for, as a type. The provider's id is
//! what users and the API see; its dialect is what decides the quirks (URLs, headers,
//! wire format, defaults), so that adding a provider makes the compiler point at every
//! place that has to decide something about it.

/// A network provider. `offline` has none: it makes no requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    OpenAi,
    OpenRouter,
    DeepSeek,
    /// Addresses deployments rather than models, authenticates with `api-key`.
    Azure,
    /// Qwen through Dashscope's OpenAI-compatible mode.
    Dashscope,
    Gemini,
    Ollama,
}

/// The protocol a provider's chat and embeddings requests follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    /// Chat completions as SSE, `/embeddings`.
    OpenAi,
    /// `streamGenerateContent` as SSE, `batchEmbedContents`.
    Gemini,
    /// `/api/chat` as NDJSON, `/api/embed`.
    Ollama,
}

impl Dialect {
    /// The dialect of a provider id from [`super::KNOWN_PROVIDERS`]; `None` for
    /// `offline` and for ids no provider has.
    pub(crate) fn from_id(id: &str) -> Option<Self> {
        Some(match id {
            "openai" => Self::OpenAi,
            "openrouter" => Self::OpenRouter,
            "deepseek" => Self::DeepSeek,
            "azure" => Self::Azure,
            "dashscope" => Self::Dashscope,
            "google" => Self::Gemini,
            "ollama" => Self::Ollama,
            _ => return None,
        })
    }

    pub(crate) fn wire(self) -> Wire {
        match self {
            Self::OpenAi | Self::OpenRouter | Self::DeepSeek | Self::Azure | Self::Dashscope => {
                Wire::OpenAi
            }
            Self::Gemini => Wire::Gemini,
            Self::Ollama => Wire::Ollama,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::KNOWN_PROVIDERS;

    #[test]
    fn every_known_network_provider_has_its_own_dialect() {
        let dialects: Vec<Dialect> = KNOWN_PROVIDERS
            .iter()
            .filter(|(id, _)| *id != "offline")
            .map(|(id, _)| Dialect::from_id(id).expect(id))
            .collect();
        let distinct: std::collections::HashSet<_> = dialects.iter().collect();
        assert_eq!(distinct.len(), dialects.len());
        assert_eq!(Dialect::from_id("offline"), None);
    }
}
