//! Ollama chat: `POST {host}/api/chat` answers newline-delimited JSON, one record per
//! token, ending with a `done: true` record that carries `prompt_eval_count` and
//! `eval_count`.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use super::config::ProviderSettings;
use super::framing::{Decoder, body_bytes, decode, json_record, ndjson_records};
use super::http_chat::Resolved;
use super::openai_compatible::role_content_messages;
use super::transport::Transport;
use super::{ChatRequest, EventStream, ProviderError, ProviderEvent, http_errors};

/// Streams `/api/chat` as newline-delimited JSON.
pub(crate) fn stream_chat(
    settings: &Arc<ProviderSettings>,
    transport: &Transport,
    request: &ChatRequest,
    resolved: Resolved,
) -> EventStream {
    let model = resolved.model;
    let mut options = serde_json::Map::new();
    if let Some(t) = resolved.temperature {
        options.insert("temperature".into(), json!(t));
    }
    if let Some(p) = resolved.top_p {
        options.insert("top_p".into(), json!(p));
    }
    // Ollama silently truncates prompts to num_ctx (2048 by default); say how much fits.
    if let Some(n) = resolved.context_window {
        options.insert("num_ctx".into(), json!(n));
    }
    let body = json!({
        "model": model,
        "messages": role_content_messages(request),
        "stream": true,
        "options": options,
    });
    let url = format!("{}/api/chat", settings.base_url);
    let decoder = RecordDecoder {
        model: model.clone(),
    };
    transport.stream(
        model,
        move |client| client.post(&url).json(&body),
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
