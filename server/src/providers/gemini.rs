//! Google Gemini chat: `POST {base}/v1beta/models/{model}:streamGenerateContent?alt=sse`
//! with the key in `x-goog-api-key`. Each SSE record is a `GenerateContentResponse`
//! whose candidate parts carry the text; the record with a `finishReason` ends the answer
//! and carries the final `usageMetadata`.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use super::config::ProviderSettings;
use super::framing::{Decoder, body_bytes, decode, json_record, sse_records};
use super::http_chat::Resolved;
use super::transport::Transport;
use super::{ChatRequest, EventStream, PromptRole, ProviderError, ProviderEvent, http_errors};

/// A POST to `models/{model}:{method}` with the key header.
pub(crate) fn post(
    settings: &ProviderSettings,
    client: &reqwest::Client,
    model: &str,
    method: &str,
) -> reqwest::RequestBuilder {
    let model = model.trim_start_matches("models/");
    let request = client.post(format!(
        "{}/v1beta/models/{model}:{method}",
        settings.base_url
    ));
    match &settings.api_key {
        Some(key) => request.header("x-goog-api-key", key),
        None => request,
    }
}

/// Gemini's request: system messages go to `systemInstruction`, the assistant is `model`.
fn request_body(request: &ChatRequest, temperature: Option<f32>, top_p: Option<f32>) -> Value {
    let system: Vec<&str> = request
        .messages
        .iter()
        .filter(|m| m.role == PromptRole::System)
        .map(|m| m.content.as_str())
        .collect();
    let contents: Vec<Value> = request
        .messages
        .iter()
        .filter(|m| m.role != PromptRole::System)
        .map(|m| {
            let role = if m.role == PromptRole::Assistant {
                "model"
            } else {
                "user"
            };
            json!({ "role": role, "parts": [{ "text": m.content }] })
        })
        .collect();
    let mut body = json!({ "contents": contents });
    if !system.is_empty() {
        body["systemInstruction"] = json!({ "parts": [{ "text": system.join("\n\n") }] });
    }
    let mut config = serde_json::Map::new();
    if let Some(t) = temperature {
        config.insert("temperature".into(), json!(t));
    }
    if let Some(p) = top_p {
        config.insert("topP".into(), json!(p));
    }
    if !config.is_empty() {
        body["generationConfig"] = Value::Object(config);
    }
    body
}

/// Streams `streamGenerateContent` as server-sent events.
pub(crate) fn stream_chat(
    settings: &Arc<ProviderSettings>,
    transport: &Transport,
    request: &ChatRequest,
    resolved: Resolved,
) -> EventStream {
    let settings = Arc::clone(settings);
    let model = resolved.model;
    let body = request_body(request, resolved.temperature, resolved.top_p);
    let decoder = ChunkDecoder {
        model: model.clone(),
        usage: None,
    };
    let url_model = model.clone();
    transport.stream(
        model,
        move |client| {
            post(&settings, client, &url_model, "streamGenerateContent")
                .query(&[("alt", "sse")])
                .json(&body)
        },
        move |response| decode(sse_records(body_bytes(response)), decoder),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Chunk {
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(default)]
    usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    prompt_feedback: Option<PromptFeedback>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Deserialize)]
struct Part {
    #[serde(default)]
    text: Option<String>,
    /// A thinking model's reasoning summary: not part of the answer.
    #[serde(default)]
    thought: bool,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: u32,
    #[serde(default)]
    candidates_token_count: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    #[serde(default)]
    block_reason: Option<String>,
}

struct ChunkDecoder {
    model: String,
    usage: Option<UsageMetadata>,
}

/// Finish reasons that mean the answer was withheld rather than finished.
const BLOCKED: [&str; 5] = [
    "SAFETY",
    "RECITATION",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
];

impl Decoder for ChunkDecoder {
    fn record(
        &mut self,
        text: &str,
        out: &mut VecDeque<ProviderEvent>,
    ) -> Result<bool, ProviderError> {
        let chunk: Chunk = json_record(text)?;
        if let Some(error) = &chunk.error {
            return Err(http_errors::in_stream(error, &self.model));
        }
        if let Some(reason) = chunk.prompt_feedback.and_then(|f| f.block_reason) {
            return Err(ProviderError::Rejected(format!(
                "the prompt was blocked ({reason})"
            )));
        }
        self.usage = chunk.usage_metadata.or(self.usage);
        let mut finished = false;
        if let Some(candidate) = chunk.candidates.into_iter().next() {
            let text: String = candidate
                .content
                .into_iter()
                .flat_map(|c| c.parts)
                .filter(|p| !p.thought)
                .filter_map(|p| p.text)
                .collect();
            if !text.is_empty() {
                out.push_back(ProviderEvent::Token(text));
            }
            if let Some(reason) = candidate.finish_reason {
                if BLOCKED.contains(&reason.as_str()) {
                    return Err(ProviderError::Rejected(format!(
                        "the answer was blocked ({reason})"
                    )));
                }
                finished = true;
            }
        }
        if finished && let Some(usage) = self.usage {
            out.push_back(ProviderEvent::Usage {
                prompt_tokens: usage.prompt_token_count,
                completion_tokens: usage.candidates_token_count,
            });
        }
        Ok(finished)
    }
}
