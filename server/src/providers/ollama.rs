//! Ollama chat: `POST {host}/api/chat` answers newline-delimited JSON, one record per
//! token, ending with a `done: true` record that carries `prompt_eval_count` and
//! `eval_count`.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::ProviderSettings;
use super::framing::{Decoder, body_bytes, decode, json_record, ndjson_records};
use super::http_chat::Resolved;
use super::openai_compatible::{RoleContent, role_content_messages};
use super::transport::Transport;
use super::{ChatRequest, EventStream, ProviderError, ProviderEvent, http_errors};

/// An `/api/chat` request.
#[derive(Serialize)]
struct ChatBody<'a> {
    messages: Vec<RoleContent<'a>>,
    model: &'a str,
    /// Always sent, empty when nothing is set.
    options: Options,
    stream: bool,
}

#[derive(Serialize)]
struct Options {
    /// Ollama silently truncates prompts to num_ctx (2048 by default); say how much fits.
    #[serde(skip_serializing_if = "Option::is_none")]
    num_ctx: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
}

impl<'a> ChatBody<'a> {
    fn new(request: &'a ChatRequest, resolved: &'a Resolved) -> Self {
        Self {
            messages: role_content_messages(request),
            model: &resolved.model,
            options: Options {
                num_ctx: resolved.context_window,
                temperature: resolved.temperature,
                top_p: resolved.top_p,
            },
            stream: true,
        }
    }
}

/// Streams `/api/chat` as newline-delimited JSON.
pub(crate) fn stream_chat(
    settings: &Arc<ProviderSettings>,
    transport: &Transport,
    request: ChatRequest,
    resolved: Resolved,
) -> EventStream {
    let model = resolved.model.clone();
    let url = format!("{}/api/chat", settings.base_url);
    let decoder = RecordDecoder {
        model: model.clone(),
    };
    transport.stream(
        model,
        move |client| client.post(&url).json(&ChatBody::new(&request, &resolved)),
        move |response| decode(ndjson_records(body_bytes(response)), decoder),
    )
}

#[derive(Deserialize)]
struct Record {
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    done: bool,
    #[serde(default)]
    prompt_eval_count: Option<u32>,
    #[serde(default)]
    eval_count: Option<u32>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: String,
}

struct RecordDecoder {
    model: String,
}

impl Decoder for RecordDecoder {
    fn record(
        &mut self,
        text: &str,
        out: &mut VecDeque<ProviderEvent>,
    ) -> Result<bool, ProviderError> {
        let record: Record = json_record(text)?;
        if let Some(error) = &record.error {
            return Err(http_errors::in_stream(error, &self.model));
        }
        if let Some(message) = record.message
            && !message.content.is_empty()
        {
            out.push_back(ProviderEvent::Token(message.content));
        }
        if record.done
            && let (Some(prompt_tokens), Some(completion_tokens)) =
                (record.prompt_eval_count, record.eval_count)
        {
            out.push_back(ProviderEvent::Usage {
                prompt_tokens,
                completion_tokens,
            });
        }
        Ok(record.done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::{PromptMessage, PromptRole};

    #[test]
    fn options_are_sent_even_when_empty() {
        let request = ChatRequest {
            messages: vec![PromptMessage {
                role: PromptRole::System,
                content: "Be brief.".into(),
            }],
            model: None,
            temperature: None,
        };
        let mut resolved = Resolved {
            model: "llama3.2".into(),
            temperature: None,
            top_p: None,
            context_window: None,
        };
        let json = |r: &Resolved| serde_json::to_string(&ChatBody::new(&request, r)).unwrap();
        assert_eq!(
            json(&resolved),
            r#"{"messages":[{"content":"Be brief.","role":"system"}],"model":"llama3.2","options":{},"stream":true}"#
        );
        resolved.context_window = Some(8192);
        resolved.top_p = Some(0.5);
        assert!(json(&resolved).contains(r#""options":{"num_ctx":8192,"top_p":0.5}"#));
    }
}
