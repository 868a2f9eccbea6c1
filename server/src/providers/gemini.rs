//! Google Gemini chat: `POST {base}/v1beta/models/{model}:streamGenerateContent?alt=sse`
//! with the key in `x-goog-api-key`. Each SSE record is a `GenerateContentResponse`
//! whose candidate parts carry the text; the record with a `finishReason` ends the answer
//! and carries the final `usageMetadata`.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// A `streamGenerateContent` request.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerateBody<'a> {
    contents: Vec<TextContent<'a>>,
    /// Absent rather than empty when nothing is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    generation_config: Option<GenerationConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<TextContent<'a>>,
}

/// A `Content` of one text part. The role is absent for a system instruction and for an
/// embedding's input.
#[derive(Serialize)]
pub(crate) struct TextContent<'a> {
    parts: [TextPart<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
}

#[derive(Serialize)]
struct TextPart<'a> {
    text: Cow<'a, str>,
}

impl<'a> TextContent<'a> {
    pub(crate) fn new(text: impl Into<Cow<'a, str>>) -> Self {
        Self {
            parts: [TextPart { text: text.into() }],
            role: None,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
}

/// Gemini's request: system messages go to `systemInstruction`, the assistant is `model`.
fn request_body<'a>(request: &'a ChatRequest, resolved: &Resolved) -> GenerateBody<'a> {
    let system: Vec<&str> = request
        .messages
        .iter()
        .filter(|m| m.role == PromptRole::System)
        .map(|m| m.content.as_str())
        .collect();
    let contents = request
        .messages
        .iter()
        .filter(|m| m.role != PromptRole::System)
        .map(|m| {
            let role = if m.role == PromptRole::Assistant {
                "model"
            } else {
                "user"
            };
            TextContent {
                role: Some(role),
                ..TextContent::new(m.content.as_str())
            }
        })
        .collect();
    let (temperature, top_p) = (resolved.temperature, resolved.top_p);
    GenerateBody {
        contents,
        generation_config: (temperature.is_some() || top_p.is_some())
            .then_some(GenerationConfig { temperature, top_p }),
        system_instruction: (!system.is_empty()).then(|| TextContent::new(system.join("\n\n"))),
    }
}

/// Streams `streamGenerateContent` as server-sent events.
pub(crate) fn stream_chat(
    settings: &Arc<ProviderSettings>,
    transport: &Transport,
    request: ChatRequest,
    resolved: Resolved,
) -> EventStream {
    let settings = Arc::clone(settings);
    let model = resolved.model.clone();
    let decoder = ChunkDecoder {
        model: model.clone(),
        usage: None,
    };
    transport.stream(
        model,
        move |client| {
            post(&settings, client, &resolved.model, "streamGenerateContent")
                .query(&[("alt", "sse")])
                .json(&request_body(&request, &resolved))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::PromptMessage;

    #[test]
    fn system_messages_become_one_instruction() {
        let message = |role, content: &str| PromptMessage {
            role,
            content: content.into(),
        };
        let request = ChatRequest {
            messages: vec![
                message(PromptRole::System, "One."),
                message(PromptRole::System, "Two."),
                message(PromptRole::User, "Hi?"),
                message(PromptRole::Assistant, "Hello."),
            ],
            model: None,
            temperature: None,
        };
        let mut resolved = Resolved {
            model: "gemini-2.5-flash".into(),
            temperature: None,
            top_p: None,
            context_window: None,
        };
        let json = |r: &Resolved| serde_json::to_string(&request_body(&request, r)).unwrap();
        assert_eq!(
            json(&resolved),
            r#"{"contents":[{"parts":[{"text":"Hi?"}],"role":"user"},{"parts":[{"text":"Hello."}],"role":"model"}],"systemInstruction":{"parts":[{"text":"One.\n\nTwo."}]}}"#
        );
        resolved.top_p = Some(0.5);
        assert!(json(&resolved).contains(r#""generationConfig":{"topP":0.5}"#));
    }
}
