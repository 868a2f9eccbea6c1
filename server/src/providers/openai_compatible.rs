//! Chat for every provider that speaks OpenAI's chat-completions protocol: OpenAI,
//! OpenRouter, DeepSeek, Azure OpenAI and Dashscope's compatible mode. They differ only
//! in base URL, authentication header and how usage is requested; the stream is SSE
//! `data: {chunk}` records ending with `data: [DONE]`.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::Stream;
use serde::Deserialize;
use serde_json::{Value, json};

use super::config::ProviderSettings;
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
    let url = match (settings.id, &settings.api_version) {
        ("azure", Some(version)) => {
            format!("{base}/openai/deployments/{model}/{operation}?api-version={version}")
        }
        _ => format!("{base}/{operation}"),
    };
    let request = client.post(url);
    let Some(key) = &settings.api_key else {
        return request;
    };
    match settings.id {
        "azure" => request.header("api-key", key),
        // OpenRouter ranks apps by these; harmless, and it identifies us in their logs.
        "openrouter" => request
            .bearer_auth(key)
            .header("HTTP-Referer", "https://github.com/repowiki/repowiki")
            .header("X-Title", "RepoWiki"),
        _ => request.bearer_auth(key),
    }
}

/// The conversation as `{role, content}` messages, the shape OpenAI and Ollama share.
pub(crate) fn role_content_messages(request: &ChatRequest) -> Vec<Value> {
    request
        .messages
        .iter()
        .map(|m| json!({ "role": m.role.as_str(), "content": m.content }))
        .collect()
}

/// Streams a chat completion; usage is asked for so that the last record carries it.
pub(crate) fn stream_chat(
    settings: &Arc<ProviderSettings>,
    transport: &Transport,
    request: &ChatRequest,
    resolved: Resolved,
) -> EventStream {
    let settings = Arc::clone(settings);
    let model = resolved.model;
    let mut body = json!({ "messages": role_content_messages(request), "stream": true });
    // Azure takes the model from the deployment in the URL.
    if settings.id != "azure" {
        body["model"] = json!(model);
    }
    if let Some(t) = resolved.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(p) = resolved.top_p {
        body["top_p"] = json!(p);
    }
    // Without asking, streams carry no usage; OpenRouter has its own switch for it.
    if settings.id == "openrouter" {
        body["usage"] = json!({ "include": true });
    } else {
        body["stream_options"] = json!({ "include_usage": true });
    }
    let url_model = model.clone();
    let decoder_model = model.clone();
    transport.stream(
        model,
        move |client| post(&settings, client, &url_model, "chat/completions").json(&body),
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
