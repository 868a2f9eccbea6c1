//! The network providers against scripted local servers that speak each provider's wire
//! format: streaming, usage, every error kind, cut streams, cancellation, rate limits,
//! embeddings batching, configuration and `GET /api/models`.

use crate::common;
use crate::scripted;

use std::collections::HashMap;

use futures::StreamExt;
use scripted::{Part, Reply, Scripted, ndjson_part, sse_part};
use server::providers::{
    ChatProvider, ChatRequest, EmbeddingProvider, Embeddings, EventStream, OfflineProvider,
    PromptMessage, PromptRole, ProviderError, ProviderEvent, Providers, ProvidersConfig,
};

/// Fast network settings for tests: millisecond backoff, a short read timeout.
const FAST: &str = "[http]\nread_timeout_ms = 3000\nbackoff_base_ms = 1\nmax_attempts = 3\n";

fn configure(env: &[(&str, &str)], file: &str) -> Providers {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config =
        ProvidersConfig::from_parts(|k| env.get(k).cloned(), Some(file)).expect("providers config");
    Providers::from_config(&config, OfflineProvider::new(1000.0)).expect("providers")
}

fn chat(providers: &Providers, id: &str) -> std::sync::Arc<dyn ChatProvider> {
    providers.get(Some(id)).expect("provider configured")
}

fn embedder(providers: &Providers, id: &str) -> std::sync::Arc<dyn EmbeddingProvider> {
    providers.embedder(Some(id)).expect("embedder configured")
}

fn question(model: Option<&str>) -> ChatRequest {
    ChatRequest {
        messages: vec![
            PromptMessage {
                role: PromptRole::System,
                content: "Answer briefly.".into(),
            },
            PromptMessage {
                role: PromptRole::User,
                content: "Hi?".into(),
            },
        ],
        model: model.map(str::to_owned),
        temperature: None,
    }
}

/// Whether an error is the one a case expects.
type Expect = fn(&ProviderError) -> bool;

type Events = Vec<Result<ProviderEvent, ProviderError>>;

async fn collect(stream: EventStream) -> Events {
    tokio::time::timeout(scripted::PATIENCE, stream.collect())
        .await
        .expect("the stream never ended")
}

fn text(events: &Events) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            Ok(ProviderEvent::Token(t)) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

fn usage(events: &Events) -> Option<(u32, u32)> {
    events.iter().find_map(|e| match e {
        Ok(ProviderEvent::Usage {
            prompt_tokens,
            completion_tokens,
        }) => Some((*prompt_tokens, *completion_tokens)),
        _ => None,
    })
}

fn error(events: &Events) -> &ProviderError {
    match events.last() {
        Some(Err(e)) => e,
        other => panic!("expected the stream to end with an error, got {other:?}"),
    }
}

// ---- OpenAI-compatible wire format --------------------------------------------------

fn openai_chunk(content: &str) -> String {
    serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000,
        "model": "gpt-4o-mini", "system_fingerprint": "fp_1",
        "choices": [{ "index": 0, "delta": { "content": content }, "logprobs": null, "finish_reason": null }],
        "usage": null
    })
    .to_string()
}

const OPENAI_ROLE: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}"#;
const OPENAI_STOP: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}"#;
const OPENAI_USAGE: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":2,"total_tokens":14,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}"#;

fn openai_answer() -> Reply {
    let hello = openai_chunk("Hello");
    let world = openai_chunk(" world");
    Reply::sse(&[
        OPENAI_ROLE,
        &hello,
        &world,
        OPENAI_STOP,
        OPENAI_USAGE,
        "[DONE]",
    ])
}

fn openai_at(server: &Scripted) -> Providers {
    let url = format!("{}/v1", server.url());
    configure(
        &[("OPENAI_API_KEY", "sk-test"), ("OPENAI_BASE_URL", &url)],
        FAST,
    )
}

#[tokio::test]
async fn openai_streams_tokens_then_usage() {
    let server = Scripted::start(vec![openai_answer()]).await;
    let providers = openai_at(&server);
    let events = collect(chat(&providers, "openai").stream_chat(question(None))).await;
    assert_eq!(text(&events), "Hello world");
    assert_eq!(usage(&events), Some((12, 2)));
    assert!(events.iter().all(Result::is_ok), "{events:?}");

    let [request] = server.requests().try_into().expect("one request");
    assert_eq!(request.method, "POST");
    assert_eq!(request.uri, "/v1/chat/completions");
    assert_eq!(request.header("authorization"), Some("Bearer sk-test"));
    assert_eq!(request.body["model"], "gpt-4o-mini");
    assert_eq!(request.body["stream"], true);
    assert_eq!(request.body["stream_options"]["include_usage"], true);
    assert_eq!(request.body["messages"][0]["role"], "system");
    assert_eq!(request.body["messages"][1]["content"], "Hi?");
}

#[tokio::test]
async fn azure_addresses_the_deployment_with_an_api_key_header() {
    let server = Scripted::start(vec![openai_answer()]).await;
    let providers = configure(
        &[
            ("AZURE_OPENAI_API_KEY", "az-key"),
            ("AZURE_OPENAI_ENDPOINT", &server.url()),
            ("AZURE_OPENAI_VERSION", "2024-10-21"),
        ],
        FAST,
    );
    let events = collect(chat(&providers, "azure").stream_chat(question(Some("my-gpt")))).await;
    assert_eq!(text(&events), "Hello world");
    let [request] = server.requests().try_into().expect("one request");
    assert_eq!(
        request.uri,
        "/openai/deployments/my-gpt/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(request.header("api-key"), Some("az-key"));
    assert_eq!(request.header("authorization"), None);
    assert!(request.body.get("model").is_none());
}

#[tokio::test]
async fn openrouter_deepseek_and_dashscope_share_the_openai_wire_format() {
    for (id, key_var, url_var, usage_switch) in [
        (
            "openrouter",
            "OPENROUTER_API_KEY",
            "OPENROUTER_BASE_URL",
            "usage",
        ),
        (
            "deepseek",
            "DEEPSEEK_API_KEY",
            "DEEPSEEK_BASE_URL",
            "stream_options",
        ),
        (
            "dashscope",
            "DASHSCOPE_API_KEY",
            "DASHSCOPE_BASE_URL",
            "stream_options",
        ),
    ] {
        // OpenRouter and DeepSeek interleave SSE comments (keep-alives) with the data.
        let hello = openai_chunk("Hi");
        let reply = Reply::sse_parts(vec![
            Part::Bytes(": OPENROUTER PROCESSING\n\n".into()),
            sse_part(&hello),
            Part::Bytes(": keep-alive\n\n".into()),
            sse_part(OPENAI_USAGE),
            sse_part("[DONE]"),
        ]);
        let server = Scripted::start(vec![reply]).await;
        let providers = configure(&[(key_var, "k"), (url_var, &server.url())], FAST);
        let events = collect(chat(&providers, id).stream_chat(question(None))).await;
        assert_eq!(text(&events), "Hi", "{id}");
        assert_eq!(usage(&events), Some((12, 2)), "{id}");
        let [request] = server.requests().try_into().expect("one request");
        assert_eq!(request.uri, "/chat/completions", "{id}");
        assert_eq!(request.header("authorization"), Some("Bearer k"), "{id}");
        assert!(request.body.get(usage_switch).is_some(), "{id}");
    }
}

async fn openai_error(reply: Reply) -> ProviderError {
    let server = Scripted::start(vec![reply]).await;
    let providers = openai_at(&server);
    let events = collect(chat(&providers, "openai").stream_chat(question(None))).await;
    assert_eq!(events.len(), 1, "{events:?}");
    error(&events).clone()
}

#[tokio::test]
async fn openai_error_statuses_become_typed_errors() {
    let invalid_key = r#"{"error":{"message":"Incorrect API key provided: sk-test. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
    let e = openai_error(Reply::json(401, invalid_key)).await;
    assert!(matches!(e, ProviderError::InvalidKey), "{e:?}");
    assert_eq!(e.code(), "invalid_api_key");

    let no_model = r#"{"error":{"message":"The model `gpt-9` does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}"#;
    let e = openai_error(Reply::json(404, no_model)).await;
    assert!(
        matches!(&e, ProviderError::UnknownModel(m) if m == "gpt-4o-mini"),
        "{e:?}"
    );

    let too_long = r#"{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
    let e = openai_error(Reply::json(400, too_long)).await;
    assert!(matches!(e, ProviderError::ContextTooLong), "{e:?}");

    let down = r#"{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}"#;
    let e = openai_error(Reply::json(503, down)).await;
    assert!(
        matches!(&e, ProviderError::Unavailable(m) if m.starts_with("The server had an error")),
        "{e:?}"
    );

    let quota = r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
    let e = openai_error(Reply::json(429, quota)).await;
    assert!(
        matches!(&e, ProviderError::Rejected(m) if m.starts_with("You exceeded your current quota")),
        "{e:?}"
    );

    let bad = r#"{"error":{"message":"Invalid value for 'temperature': must be between 0 and 2.","type":"invalid_request_error","param":"temperature","code":"invalid_value"}}"#;
    let e = openai_error(Reply::json(400, bad)).await;
    assert!(
        matches!(&e, ProviderError::Rejected(m) if m.contains("temperature")),
        "{e:?}"
    );
}

#[tokio::test]
async fn an_error_inside_the_stream_ends_it_after_the_tokens_sent() {
    // OpenRouter reports upstream failures mid-stream as an SSE record with `error`.
    let hello = openai_chunk("Hel");
    let failure = r#"{"id":"gen-1","object":"chat.completion.chunk","created":1700000000,"model":"openai/gpt-4o-mini","provider":"OpenAI","error":{"code":502,"message":"Provider returned error"},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}"#;
    let server = Scripted::start(vec![Reply::sse(&[&hello, failure])]).await;
    let providers = configure(
        &[
            ("OPENROUTER_API_KEY", "k"),
            ("OPENROUTER_BASE_URL", &server.url()),
        ],
        FAST,
    );
    let events = collect(chat(&providers, "openrouter").stream_chat(question(None))).await;
    assert_eq!(text(&events), "Hel");
    assert!(
        matches!(error(&events), ProviderError::Unavailable(m) if m == "Provider returned error"),
        "{events:?}"
    );
}

#[tokio::test]
async fn rate_limit_waits_as_told_then_streams() {
    let limited = r#"{"error":{"message":"Rate limit reached for gpt-4o-mini in organization org-1 on tokens per min (TPM): Limit 200000, Used 200000, Requested 50. Please try again in 15ms.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}"#;
    let server = Scripted::start(vec![
        Reply::json(429, limited).header("retry-after", "0"),
        openai_answer(),
    ])
    .await;
    let providers = openai_at(&server);
    let events = collect(chat(&providers, "openai").stream_chat(question(None))).await;
    assert!(
        matches!(events[0], Ok(ProviderEvent::RateLimited { retry_in_ms: 0 })),
        "{events:?}"
    );
    assert_eq!(text(&events), "Hello world");
    assert_eq!(usage(&events), Some((12, 2)));
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn rate_limit_backs_off_then_gives_up() {
    let limited = r#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
    let server = Scripted::start(vec![Reply::json(429, limited); 3]).await;
    let providers = openai_at(&server);
    let events = collect(chat(&providers, "openai").stream_chat(question(None))).await;
    // No Retry-After: 1 ms, then 2 ms (the configured base, doubled), then give up.
    let waits: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Ok(ProviderEvent::RateLimited { retry_in_ms }) => Some(*retry_in_ms),
            _ => None,
        })
        .collect();
    assert_eq!(waits, vec![1, 2]);
    assert!(matches!(error(&events), ProviderError::RateLimited));
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_stream_without_done_is_cut_and_keeps_its_tokens() {
    let hello = openai_chunk("Hello");
    let world = openai_chunk(" world");
    // Ends cleanly but early, then breaks the connection mid-body.
    for last in [None, Some(Part::Abort)] {
        let mut reply = Reply::sse(&[&hello, &world]);
        if let Some(part) = last.clone() {
            reply = reply.then(part);
        }
        let server = Scripted::start(vec![reply]).await;
        let providers = openai_at(&server);
        let events = collect(chat(&providers, "openai").stream_chat(question(None))).await;
        assert_eq!(text(&events), "Hello world", "{last:?}");
        assert!(
            matches!(error(&events), ProviderError::StreamCut),
            "{last:?}: {events:?}"
        );
        assert_eq!(error(&events).code(), "stream_cut");
    }
}

#[tokio::test]
async fn dropping_the_stream_aborts_the_upstream_request() {
    let hello = openai_chunk("Hello");
    let server = Scripted::start(vec![Reply::sse(&[&hello]).then(Part::Hold)]).await;
    let providers = openai_at(&server);
    let mut stream = chat(&providers, "openai").stream_chat(question(None));
    let first = tokio::time::timeout(scripted::PATIENCE, stream.next())
        .await
        .expect("first token");
    assert!(matches!(first, Some(Ok(ProviderEvent::Token(t))) if t == "Hello"));
    drop(stream);
    server.client_gone().await;
}

#[tokio::test]
async fn a_silent_provider_times_out() {
    let hello = openai_chunk("Hello");
    let server = Scripted::start(vec![Reply::sse(&[&hello]).then(Part::Hold)]).await;
    let url = format!("{}/v1", server.url());
    let providers = configure(
        &[("OPENAI_API_KEY", "k"), ("OPENAI_BASE_URL", &url)],
        "[http]\nread_timeout_ms = 150\n",
    );
    let events = collect(chat(&providers, "openai").stream_chat(question(None))).await;
    assert_eq!(text(&events), "Hello");
    assert!(
        matches!(error(&events), ProviderError::Timeout),
        "{events:?}"
    );
    server.client_gone().await;
}

#[tokio::test]
async fn an_unreachable_provider_is_unavailable() {
    // A port that was just free: nothing listens there.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let providers = configure(&[("OPENAI_API_KEY", "k"), ("OPENAI_BASE_URL", &url)], FAST);
    let events = collect(chat(&providers, "openai").stream_chat(question(None))).await;
    assert!(
        matches!(error(&events), ProviderError::Unavailable(_)),
        "{events:?}"
    );
}

// ---- Gemini ---------------------------------------------------------------------------

/// Gemini frames its SSE records with CRLF.
fn gemini_part(record: &str) -> Part {
    Part::Bytes(format!("data: {record}\r\n\r\n").into())
}

const GEMINI_FIRST: &str = r#"{"candidates": [{"content": {"parts": [{"text": "Hello"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 9,"totalTokenCount": 9,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 9}]},"modelVersion": "gemini-2.5-flash","responseId": "r1"}"#;
const GEMINI_LAST: &str = r#"{"candidates": [{"content": {"parts": [{"text": " world"}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 9,"candidatesTokenCount": 2,"totalTokenCount": 11,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 9}]},"modelVersion": "gemini-2.5-flash","responseId": "r1"}"#;

fn gemini_at(server: &Scripted) -> Providers {
    configure(
        &[
            ("GOOGLE_API_KEY", "g-key"),
            ("GEMINI_BASE_URL", &server.url()),
        ],
        FAST,
    )
}

#[tokio::test]
async fn gemini_streams_candidate_parts_and_usage() {
    let reply = Reply::sse_parts(vec![gemini_part(GEMINI_FIRST), gemini_part(GEMINI_LAST)]);
    let server = Scripted::start(vec![reply]).await;
    let providers = gemini_at(&server);
    let events = collect(chat(&providers, "google").stream_chat(question(None))).await;
    assert_eq!(text(&events), "Hello world");
    assert_eq!(usage(&events), Some((9, 2)));
    assert!(events.iter().all(Result::is_ok), "{events:?}");

    let [request] = server.requests().try_into().expect("one request");
    assert_eq!(
        request.uri,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    );
    assert_eq!(request.header("x-goog-api-key"), Some("g-key"));
    assert_eq!(
        request.body["systemInstruction"]["parts"][0]["text"],
        "Answer briefly."
    );
    assert_eq!(request.body["contents"][0]["role"], "user");
    assert_eq!(request.body["contents"][0]["parts"][0]["text"], "Hi?");
}

#[tokio::test]
async fn gemini_errors_and_cuts() {
    let cases: [(Reply, Expect); 4] = [
        (
            Reply::json(
                400,
                r#"{"error": {"code": 400,"message": "API key not valid. Please pass a valid API key.","status": "INVALID_ARGUMENT","details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo","reason": "API_KEY_INVALID","domain": "googleapis.com"}]}}"#,
            ),
            |e| matches!(e, ProviderError::InvalidKey),
        ),
        (
            Reply::json(
                404,
                r#"{"error": {"code": 404,"message": "models/gemini-9 is not found for API version v1beta, or is not supported for generateContent.","status": "NOT_FOUND"}}"#,
            ),
            |e| matches!(e, ProviderError::UnknownModel(_)),
        ),
        (
            Reply::json(
                400,
                r#"{"error": {"code": 400,"message": "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).","status": "INVALID_ARGUMENT"}}"#,
            ),
            |e| matches!(e, ProviderError::ContextTooLong),
        ),
        // No record with a finishReason: the answer was cut.
        (Reply::sse_parts(vec![gemini_part(GEMINI_FIRST)]), |e| {
            matches!(e, ProviderError::StreamCut)
        }),
    ];
    for (reply, expected) in cases {
        let server = Scripted::start(vec![reply]).await;
        let providers = gemini_at(&server);
        let events = collect(chat(&providers, "google").stream_chat(question(None))).await;
        assert!(expected(error(&events)), "{events:?}");
    }
}

#[tokio::test]
async fn gemini_rate_limit_waits_for_its_retry_delay() {
    // Gemini sends no Retry-After; the wait is in the body's RetryInfo.
    let limited = r#"{"error": {"code": 429,"message": "You exceeded your current quota, please check your plan and billing details.","status": "RESOURCE_EXHAUSTED","details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure","violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests","quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},{"@type": "type.googleapis.com/google.rpc.RetryInfo","retryDelay": "0.003s"}]}}"#;
    let answer = Reply::sse_parts(vec![gemini_part(GEMINI_FIRST), gemini_part(GEMINI_LAST)]);
    let server = Scripted::start(vec![Reply::json(429, limited), answer]).await;
    let providers = gemini_at(&server);
    let events = collect(chat(&providers, "google").stream_chat(question(None))).await;
    assert!(
        matches!(events[0], Ok(ProviderEvent::RateLimited { retry_in_ms: 3 })),
        "{events:?}"
    );
    assert_eq!(text(&events), "Hello world");
    assert_eq!(server.requests().len(), 2);
}

// ---- Ollama ---------------------------------------------------------------------------

fn ollama_token(content: &str) -> String {
    serde_json::json!({
        "model": "llama3.2", "created_at": "2025-01-01T00:00:00.000000Z",
        "message": { "role": "assistant", "content": content }, "done": false
    })
    .to_string()
}

const OLLAMA_DONE: &str = r#"{"model":"llama3.2","created_at":"2025-01-01T00:00:01.000000Z","message":{"role":"assistant","content":""},"done_reason":"stop","done":true,"total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":26,"prompt_eval_duration":342546000,"eval_count":2,"eval_duration":4535599000}"#;

fn ollama_at(server: &Scripted) -> Providers {
    // Written as Ollama itself accepts it: host and port, no scheme.
    let host = server.addr.to_string();
    configure(&[("OLLAMA_HOST", &host)], FAST)
}

#[tokio::test]
async fn ollama_streams_ndjson_and_reads_usage_from_the_done_record() {
    let hello = ollama_token("Hello");
    let world = ollama_token(" world");
    // Records split across chunks the way TCP may deliver them.
    let all = format!("{hello}\n{world}\n{OLLAMA_DONE}\n");
    let (a, b) = all.split_at(hello.len() / 2);
    let (b, c) = b.split_at(hello.len());
    let reply = Reply::ndjson_parts(vec![
        Part::Bytes(a.to_owned().into()),
        Part::Bytes(b.to_owned().into()),
        Part::Bytes(c.to_owned().into()),
    ]);
    let server = Scripted::start(vec![reply]).await;
    let providers = ollama_at(&server);
    let events = collect(chat(&providers, "ollama").stream_chat(question(None))).await;
    assert_eq!(text(&events), "Hello world");
    assert_eq!(usage(&events), Some((26, 2)));
    assert!(events.iter().all(Result::is_ok), "{events:?}");
    let [request] = server.requests().try_into().expect("one request");
    assert_eq!(request.uri, "/api/chat");
    assert_eq!(request.body["model"], "llama3.2");
    assert_eq!(request.body["stream"], true);
}

#[tokio::test]
async fn ollama_errors_and_cuts() {
    let hello = ollama_token("Hello");
    let cases: [(Reply, Expect); 3] = [
        (
            Reply::json(
                404,
                r#"{"error":"model \"llama9\" not found, try pulling it first"}"#,
            ),
            |e| matches!(e, ProviderError::UnknownModel(_)),
        ),
        // No `done: true` record.
        (Reply::ndjson(&[&hello]), |e| {
            matches!(e, ProviderError::StreamCut)
        }),
        // Cut in the middle of a record.
        (
            Reply::ndjson_parts(vec![
                ndjson_part(&hello),
                Part::Bytes("{\"model\":\"ll".into()),
            ]),
            |e| matches!(e, ProviderError::StreamCut),
        ),
    ];
    for (reply, expected) in cases {
        let server = Scripted::start(vec![reply]).await;
        let providers = ollama_at(&server);
        let events = collect(chat(&providers, "ollama").stream_chat(question(None))).await;
        assert!(expected(error(&events)), "{events:?}");
    }
}

// ---- Embeddings -----------------------------------------------------------------------

fn inputs(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("text {i}")).collect()
}

fn openai_embeddings(vectors: &[Vec<f32>]) -> Reply {
    // Listed in reverse: the client must order by `index`.
    let data: Vec<_> = vectors
        .iter()
        .enumerate()
        .rev()
        .map(|(i, v)| serde_json::json!({ "object": "embedding", "index": i, "embedding": v }))
        .collect();
    let body = serde_json::json!({
        "object": "list", "data": data, "model": "text-embedding-3-small",
        "usage": { "prompt_tokens": 4, "total_tokens": 4 }
    });
    Reply::json(200, &body.to_string())
}

const BATCH_OF_TWO: &str = "[providers.openai]\nembedding_batch_size = 2\n[providers.google]\nembedding_batch_size = 2\n[providers.ollama]\nembedding_batch_size = 2\n";

/// Embeds `n` texts with provider `id`, configured by `env`, two texts a request.
async fn embed_in_twos(
    env: &[(&str, &str)],
    id: &str,
    n: usize,
) -> Result<Embeddings, ProviderError> {
    let providers = configure(env, &format!("{FAST}{BATCH_OF_TWO}"));
    embedder(&providers, id).embed(&inputs(n)).await
}

#[tokio::test]
async fn openai_embeddings_are_batched_ordered_and_checked() {
    let server = Scripted::start(vec![
        openai_embeddings(&[vec![0.0, 0.1, 0.2], vec![1.0, 1.1, 1.2]]),
        openai_embeddings(&[vec![2.0, 2.1, 2.2], vec![3.0, 3.1, 3.2]]),
        openai_embeddings(&[vec![4.0, 4.1, 4.2]]),
    ])
    .await;
    let url = format!("{}/v1", server.url());
    let env = [("OPENAI_API_KEY", "k"), ("OPENAI_BASE_URL", url.as_str())];
    let embeddings = embed_in_twos(&env, "openai", 5).await.expect("embeddings");
    assert_eq!(embeddings.dimension, 3);
    let firsts: Vec<f32> = embeddings.vectors.iter().map(|v| v[0]).collect();
    assert_eq!(firsts, vec![0.0, 1.0, 2.0, 3.0, 4.0]);

    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| r.uri == "/v1/embeddings"));
    assert_eq!(
        requests[0].body["input"],
        serde_json::json!(["text 0", "text 1"])
    );
    assert_eq!(requests[2].body["input"], serde_json::json!(["text 4"]));
    assert_eq!(requests[0].body["model"], "text-embedding-3-small");
}

#[tokio::test]
async fn embeddings_of_different_dimensions_are_an_error() {
    let server = Scripted::start(vec![
        openai_embeddings(&[vec![0.0, 0.1, 0.2], vec![1.0, 1.1, 1.2]]),
        openai_embeddings(&[vec![2.0, 2.1]]),
    ])
    .await;
    let url = format!("{}/v1", server.url());
    let env = [("OPENAI_API_KEY", "k"), ("OPENAI_BASE_URL", url.as_str())];
    let e = embed_in_twos(&env, "openai", 3)
        .await
        .expect_err("mismatched dimensions");
    assert!(
        matches!(&e, ProviderError::BadResponse(m) if m.contains("3 and 2")),
        "{e:?}"
    );
}

#[tokio::test]
async fn gemini_and_ollama_embeddings_are_batched() {
    let gemini = |n: usize| {
        let embeddings: Vec<_> = (0..n)
            .map(|i| serde_json::json!({ "values": [i as f32, 0.5] }))
            .collect();
        Reply::json(
            200,
            &serde_json::json!({ "embeddings": embeddings }).to_string(),
        )
    };
    let server = Scripted::start(vec![gemini(2), gemini(1)]).await;
    let url = server.url();
    let env = [("GOOGLE_API_KEY", "g"), ("GEMINI_BASE_URL", url.as_str())];
    let embeddings = embed_in_twos(&env, "google", 3)
        .await
        .expect("gemini embeddings");
    assert_eq!((embeddings.vectors.len(), embeddings.dimension), (3, 2));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].uri,
        "/v1beta/models/text-embedding-004:batchEmbedContents"
    );
    assert_eq!(
        requests[0].body["requests"][1]["content"]["parts"][0]["text"],
        "text 1"
    );
    assert_eq!(
        requests[0].body["requests"][0]["model"],
        "models/text-embedding-004"
    );

    let ollama = |n: usize| {
        let embeddings: Vec<_> = (0..n).map(|i| vec![i as f32; 4]).collect();
        let body = serde_json::json!({ "model": "nomic-embed-text", "embeddings": embeddings });
        Reply::json(200, &body.to_string())
    };
    let server = Scripted::start(vec![ollama(2), ollama(2), ollama(1)]).await;
    let url = server.url();
    let embeddings = embed_in_twos(&[("OLLAMA_HOST", url.as_str())], "ollama", 5)
        .await
        .expect("ollama embeddings");
    assert_eq!((embeddings.vectors.len(), embeddings.dimension), (5, 4));
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| r.uri == "/api/embed"));
}

// ---- Configuration --------------------------------------------------------------------

#[test]
fn the_default_provider_is_the_first_configured_else_offline() {
    let none = configure(&[], "");
    assert_eq!(none.default_id(), "offline");
    assert!(none.get(None).is_some());
    assert!(none.get(Some("openai")).is_none());
    assert!(none.embedder(None).is_none());

    let some = configure(&[("GOOGLE_API_KEY", "g"), ("DEEPSEEK_API_KEY", "d")], "");
    assert_eq!(some.default_id(), "deepseek");
    assert_eq!(some.get(None).expect("default").id(), "deepseek");
    assert!(some.get(Some("offline")).is_some());
    // DeepSeek has no embeddings; Google's are used.
    assert_eq!(some.embedder(None).expect("embedder").id(), "google");

    let chosen = configure(
        &[("GOOGLE_API_KEY", "g"), ("DEEPSEEK_API_KEY", "d")],
        "default_provider = \"google\"\n",
    );
    assert_eq!(chosen.default_id(), "google");

    let catalog: Vec<_> = some
        .catalog()
        .iter()
        .map(|p| (p.id, p.configured))
        .collect();
    assert_eq!(
        catalog,
        vec![
            ("openai", false),
            ("openrouter", false),
            ("deepseek", true),
            ("azure", false),
            ("dashscope", false),
            ("google", true),
            ("ollama", false),
            ("offline", true),
        ]
    );
}

#[test]
fn a_bad_providers_file_is_an_error() {
    let unknown = ProvidersConfig::from_parts(|_| None, Some("[providers.nope]\n"));
    assert!(unknown.is_err());
    let malformed = ProvidersConfig::from_parts(|_| None, Some("default_provider = \n"));
    assert!(malformed.is_err());
}

#[tokio::test]
async fn model_defaults_from_the_file_are_sent() {
    let server = Scripted::start(vec![openai_answer()]).await;
    let url = format!("{}/v1", server.url());
    let file = format!(
        "{FAST}[providers.openai]\ndefault_model = \"gpt-4.1\"\n\
         [[providers.openai.models]]\nname = \"gpt-4.1\"\ntemperature = 0.25\ntop_p = 0.5\ncontext_window = 1000000\n"
    );
    let providers = configure(&[("OPENAI_API_KEY", "k"), ("OPENAI_BASE_URL", &url)], &file);
    let openai = chat(&providers, "openai");
    assert_eq!(openai.default_model(), "gpt-4.1");
    collect(openai.stream_chat(question(None))).await;
    let [request] = server.requests().try_into().expect("one request");
    assert_eq!(request.body["model"], "gpt-4.1");
    assert_eq!(request.body["temperature"], 0.25);
    assert_eq!(request.body["top_p"], 0.5);
}

#[tokio::test]
async fn api_models_lists_every_provider() {
    let server = common::TestServer::start().await;
    let body: serde_json::Value = reqwest::get(server.url("/api/models"))
        .await
        .expect("GET /api/models")
        .json()
        .await
        .expect("json");
    let providers = body["providers"].as_array().expect("providers");
    assert_eq!(providers.len(), 8, "{body}");
    let offline = providers
        .iter()
        .find(|p| p["id"] == "offline")
        .expect("offline listed");
    assert_eq!(offline["configured"], true);
    assert_eq!(offline["default_model"], "extractive");
    assert!(body["default_provider"].is_string());
    let openai = providers
        .iter()
        .find(|p| p["id"] == "openai")
        .expect("openai");
    assert!(openai["models"].as_array().is_some_and(|m| !m.is_empty()));
    server.stop().await;
}
