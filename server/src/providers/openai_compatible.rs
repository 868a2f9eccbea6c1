//! Chat for every provider that speaks OpenAI's chat-completions protocol: OpenAI,
//! OpenRouter, DeepSeek, Azure OpenAI and Dashscope's compatible mode. They differ only
//! in base URL, authentication header and how usage is requested; the stream is SSE
//! `data: {chunk}` records ending with `data: [DONE]`.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::Stream;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::ProviderSettings;
use super::dialect::Dialect;
use super::framing::{Decoder, body_bytes, decode, json_record, sse_records};
use super::http_chat::Resolved;
use super::transport::Transport;
use super::{ChatRequest, EventStream, ProviderError, ProviderEvent, http_errors};

/// A POST to one of the provider's operations (`chat/completions`, `embeddings`), with
/// its authentication. Azure addresses a deployment, not a model.
pub(crate) fn post(
    settings: &ProviderSettings,
    client: &reqwest::Client,
    model: &str,
    operation: &str,
) -> reqwest::RequestBuilder {
    let base = &settings.base_url;
    let url = match (settings.dialect, &settings.api_version) {
        (Dialect::Azure, Some(version)) => {
            format!("{base}/openai/deployments/{model}/{operation}?api-version={version}")
        }
        _ => format!("{base}/{operation}"),
    };
    let request = client.post(url);
    let Some(key) = &settings.api_key else {
        return request;
    };
    match settings.dialect {
        Dialect::Azure => request.header("api-key", key),
        // OpenRouter ranks apps by these; harmless, and it identifies us in their logs.
        Dialect::OpenRouter => request
            .bearer_auth(key)
            .header("HTTP-Referer", "https://github.com/repowiki/repowiki")
            .header("X-Title", "RepoWiki"),
        _ => request.bearer_auth(key),
    }
}

/// A message as `{role, content}`, the shape OpenAI and Ollama share.
#[derive(Serialize)]
pub(crate) struct RoleContent<'a> {
    content: &'a str,
    role: &'static str,
}

/// The conversation as the messages OpenAI and Ollama take.
pub(crate) fn role_content_messages(request: &ChatRequest) -> Vec<RoleContent<'_>> {
    request
        .messages
        .iter()
        .map(|m| RoleContent {
            content: &m.content,
            role: m.role.as_str(),
        })
        .collect()
}

/// A `chat/completions` request.
#[derive(Serialize)]
struct ChatBody<'a> {
    messages: Vec<RoleContent<'a>>,
    /// Absent for Azure, which takes the model from the deployment in the URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a str>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    /// OpenRouter's own switch for usage, instead of `stream_options`.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<UsageSwitch>,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Serialize)]
struct UsageSwitch {
    include: bool,
}

impl<'a> ChatBody<'a> {
    fn new(dialect: Dialect, request: &'a ChatRequest, resolved: &'a Resolved) -> Self {
        // Without asking, streams carry no usage; OpenRouter has its own switch for it.
        let (stream_options, usage) = match dialect {
            Dialect::OpenRouter => (None, Some(UsageSwitch { include: true })),
            _ => (
                Some(StreamOptions {
                    include_usage: true,
                }),
                None,
            ),
        };
        Self {
            messages: role_content_messages(request),
            model: (dialect != Dialect::Azure).then_some(resolved.model.as_str()),
            stream: true,
            stream_options,
            temperature: resolved.temperature,
            top_p: resolved.top_p,
            usage,
        }
    }
}

/// Streams a chat completion; usage is asked for so that the last record carries it.
pub(crate) fn stream_chat(
    settings: &Arc<ProviderSettings>,
    transport: &Transport,
    request: ChatRequest,
    resolved: Resolved,
) -> EventStream {
    let settings = Arc::clone(settings);
    let model = resolved.model.clone();
    let decoder_model = model.clone();
    transport.stream(
        model,
        move |client| {
            let body = ChatBody::new(settings.dialect, &request, &resolved);
            post(&settings, client, &resolved.model, "chat/completions").json(&body)
        },
        move |response| parse_sse_stream(body_bytes(response), decoder_model),
    )
}

/// Parses an OpenAI-compatible SSE body into events. Public so that the benchmark can
/// measure exactly this work on bytes held in memory.
pub fn parse_sse_stream<S, B>(bytes: S, model: String) -> EventStream
where
    S: Stream<Item = Result<B, ProviderError>> + Send + 'static,
    B: AsRef<[u8]> + Send + 'static,
{
    decode(sse_records(bytes), ChunkDecoder { model })
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Option<Delta>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
}

struct ChunkDecoder {
    model: String,
}

impl Decoder for ChunkDecoder {
    fn record(
        &mut self,
        text: &str,
        out: &mut VecDeque<ProviderEvent>,
    ) -> Result<bool, ProviderError> {
        if text.trim() == "[DONE]" {
            return Ok(true);
        }
        let chunk: Chunk = json_record(text)?;
        if let Some(error) = &chunk.error {
            return Err(http_errors::in_stream(error, &self.model));
        }
        for choice in chunk.choices {
            if let Some(content) = choice.delta.and_then(|d| d.content)
                && !content.is_empty()
            {
                out.push_back(ProviderEvent::Token(content));
            }
        }
        if let Some(usage) = chunk.usage {
            out.push_back(ProviderEvent::Usage {
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
            });
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::{PromptMessage, PromptRole};

    fn body(dialect: Dialect, temperature: Option<f64>) -> String {
        let request = ChatRequest {
            messages: vec![PromptMessage {
                role: PromptRole::User,
                content: "Hi?".into(),
            }],
            model: None,
            temperature: None,
        };
        let resolved = Resolved {
            model: "m".into(),
            temperature,
            top_p: None,
            context_window: None,
        };
        serde_json::to_string(&ChatBody::new(dialect, &request, &resolved)).unwrap()
    }

    #[test]
    fn bodies_differ_only_where_the_dialect_says() {
        assert_eq!(
            body(Dialect::OpenAi, Some(0.25)),
            r#"{"messages":[{"content":"Hi?","role":"user"}],"model":"m","stream":true,"stream_options":{"include_usage":true},"temperature":0.25}"#
        );
        assert_eq!(
            body(Dialect::Azure, None),
            r#"{"messages":[{"content":"Hi?","role":"user"}],"stream":true,"stream_options":{"include_usage":true}}"#
        );
        assert_eq!(
            body(Dialect::OpenRouter, None),
            r#"{"messages":[{"content":"Hi?","role":"user"}],"model":"m","stream":true,"usage":{"include":true}}"#
        );
    }
}
