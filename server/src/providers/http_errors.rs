//! Providers' error answers turned into [`ProviderError`]s: the HTTP status says what
//! kind of failure it is, and the JSON body (each provider has its own shape) says why.

use reqwest::StatusCode;
use serde_json::Value;

use super::ProviderError;

/// What an error body says, whatever the provider's shape:
/// OpenAI-compatible and Gemini `{"error": {"message", "code", "type"/"status", …}}`,
/// Ollama `{"error": "…"}`.
#[derive(Debug, Default)]
struct ErrorBody {
    message: String,
    /// `code`, `type`, `status` and any `details[].reason`, for matching.
    codes: Vec<String>,
    /// A numeric `code`, which in-stream errors carry instead of an HTTP status.
    status: Option<u16>,
}

fn parse_body(body: &str) -> ErrorBody {
    let Ok(json) = serde_json::from_str::<Value>(body) else {
        return ErrorBody {
            message: body.trim().chars().take(300).collect(),
            ..ErrorBody::default()
        };
    };
    parse_json(&json)
}

fn parse_json(json: &Value) -> ErrorBody {
    let error = json.get("error").unwrap_or(json);
    if let Some(text) = error.as_str() {
        return ErrorBody {
            message: text.to_owned(),
            ..ErrorBody::default()
        };
    }
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let mut codes: Vec<String> = ["code", "type", "status"]
        .iter()
        .filter_map(|k| error.get(*k).and_then(text))
        .collect();
    if let Some(details) = error.get("details").and_then(Value::as_array) {
        codes.extend(
            details
                .iter()
                .filter_map(|d| d.get("reason").and_then(Value::as_str).map(str::to_owned)),
        );
    }
    ErrorBody {
        message: error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        codes,
        status: error
            .get("code")
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok()),
    }
}

/// Gemini says how long to wait in the body, not in `Retry-After`:
/// `details: [{"@type": "….RetryInfo", "retryDelay": "37s"}]`.
pub(crate) fn retry_delay(body: &str) -> Option<std::time::Duration> {
    let json: Value = serde_json::from_str(body).ok()?;
    json.get("error")?
        .get("details")?
        .as_array()?
        .iter()
        .filter_map(|d| d.get("retryDelay").and_then(Value::as_str))
        .find_map(|delay| super::transport::seconds(delay.strip_suffix('s')?))
}

/// A failed HTTP answer as an error.
pub(crate) fn classify(status: StatusCode, body: &str, model: &str) -> ProviderError {
    from_parts(status.as_u16(), parse_body(body), model)
}

/// The `error` member of a record inside an otherwise successful stream (OpenRouter,
/// Ollama and Gemini send them), whose numeric `code`, if any, stands for the status.
pub(crate) fn in_stream(error: &Value, model: &str) -> ProviderError {
    let body = parse_json(error);
    let status = body.status.unwrap_or(0);
    from_parts(status, body, model)
}

fn from_parts(status: u16, body: ErrorBody, model: &str) -> ProviderError {
    let has_code = |c: &str| body.codes.iter().any(|x| x.eq_ignore_ascii_case(c));
    if has_code("context_length_exceeded") || says_context_too_long(&body.message) {
        return ProviderError::ContextTooLong;
    }
    // Gemini answers a bad key with 400 INVALID_ARGUMENT and reason API_KEY_INVALID.
    if matches!(status, 401 | 403)
        || has_code("API_KEY_INVALID")
        || has_code("invalid_api_key")
        || body.message.contains("API key not valid")
    {
        return ProviderError::InvalidKey;
    }
    let message = if body.message.is_empty() {
        format!("HTTP {status}")
    } else {
        body.message
    };
    // OpenAI answers an exhausted quota with 429 too, but waiting will not help.
    if has_code("insufficient_quota") {
        return ProviderError::Rejected(message);
    }
    match status {
        404 => ProviderError::UnknownModel(model.to_owned()),
        429 => ProviderError::RateLimited,
        408 => ProviderError::Timeout,
        500..=599 => ProviderError::Unavailable(message),
        _ => ProviderError::Rejected(message),
    }
}

/// The phrasing each provider uses when the prompt does not fit.
fn says_context_too_long(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "maximum context length",               // OpenAI, DeepSeek, OpenRouter
        "context length exceeded",              // Azure variants
        "exceeds the maximum number of tokens", // Gemini
        "exceeds the context length",           // Ollama
        "input length exceeds",                 // Ollama embeddings
        "range of input length should be",      // Dashscope
        "prompt is too long",                   // Anthropic via OpenRouter
    ]
    .iter()
    .any(|phrase| m.contains(phrase))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_providers_error_shape() {
        let openai = r#"{"error":{"message":"This model's maximum context length is 128000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, openai, "m"),
            ProviderError::ContextTooLong
        ));
        let gemini_key = r#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}"#;
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, gemini_key, "m"),
            ProviderError::InvalidKey
        ));
        let ollama = r#"{"error":"model \"nope\" not found, try pulling it first"}"#;
        assert!(matches!(
            classify(StatusCode::NOT_FOUND, ollama, "nope"),
            ProviderError::UnknownModel(m) if m == "nope"
        ));
        let other = classify(
            StatusCode::BAD_REQUEST,
            r#"{"error":{"message":"bad temperature"}}"#,
            "m",
        );
        assert_eq!(
            other.to_string(),
            "the provider rejected the request: bad temperature"
        );
        assert!(matches!(
            classify(StatusCode::BAD_GATEWAY, "<html>oops</html>", "m"),
            ProviderError::Unavailable(m) if m == "<html>oops</html>"
        ));
    }
}
