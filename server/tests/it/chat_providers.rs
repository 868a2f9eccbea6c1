//! Whole chat turns against a scripted OpenAI-compatible server speaking the real wire
//! format: history in the prompt, the context-too-long retry, and a provider failing
//! mid-answer.

use crate::common;
use crate::scripted;

use app::protocol::{FinishReason, ServerMsg};
use common::{TestServer, ask, is_turn_end, streamed_text};
use scripted::{Part, Reply, Scripted};
use serde_json::{Value, json};
use uuid::Uuid;

fn chunk(content: &str) -> String {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000,
        "model": "gpt-4o-mini",
        "choices": [{ "index": 0, "delta": { "content": content }, "finish_reason": null }]
    })
    .to_string()
}

fn finished() -> String {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000,
        "model": "gpt-4o-mini",
        "choices": [{ "index": 0, "delta": {}, "finish_reason": "stop" }]
    })
    .to_string()
}

fn answer(words: &[&str]) -> Reply {
    let mut records: Vec<String> = words.iter().map(|w| chunk(w)).collect();
    records.push(finished());
    records.push("[DONE]".into());
    let refs: Vec<&str> = records.iter().map(String::as_str).collect();
    Reply::sse(&refs)
}

async fn openai_server(replies: Vec<Reply>) -> (Scripted, TestServer) {
    let upstream = Scripted::start(replies).await;
    let server = TestServer::start_with_env(&[
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", &upstream.url()),
    ])
    .await;
    (upstream, server)
}

fn sent_messages(request: &scripted::Recorded) -> Vec<Value> {
    request.body["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn history_is_sent_and_a_too_long_prompt_is_retried_with_the_question_alone() {
    let too_long = r#"{"error":{"message":"This model's maximum context length is 128000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
    let (upstream, server) = openai_server(vec![
        answer(&["First", " answer"]),
        Reply::json(400, too_long),
        answer(&["Short", " answer"]),
    ])
    .await;
    let mut client = server.connect().await;
    let id = Uuid::new_v4();
    client.send(&ask(id, "first question")).await;
    let first = client.recv_until(is_turn_end).await;
    assert_eq!(streamed_text(&first), "First answer");

    client.send(&ask(id, "second question")).await;
    let second = client.recv_until(is_turn_end).await;
    let ServerMsg::MessageComplete {
        content, metadata, ..
    } = &second.last().expect("end").msg
    else {
        panic!("expected completion, got {:?}", second.last());
    };
    assert_eq!(content, "Short answer");
    assert_eq!(metadata.provider, "openai");
    assert_eq!(metadata.finish_reason, FinishReason::Completed);

    let requests = upstream.requests();
    assert_eq!(requests.len(), 3);
    // The grounding instructions first (this conversation has no project, so they say
    // no sources were retrieved), then the conversation.
    let full = sent_messages(&requests[1]);
    assert_eq!(full[0]["role"], "system");
    assert!(
        full[0]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("No sources")
    );
    let contents: Vec<_> = full[1..].iter().map(|m| m["content"].clone()).collect();
    assert_eq!(
        contents,
        vec![
            json!("first question"),
            json!("First answer"),
            json!("second question")
        ]
    );
    let retried = sent_messages(&requests[2]);
    assert_eq!(retried.len(), 2);
    assert_eq!(retried[0]["role"], "system");
    assert_eq!(retried[1]["content"], "second question");
}

#[tokio::test]
async fn a_provider_that_fails_mid_answer_gives_message_error_and_keeps_the_partial_text() {
    let reply = Reply::sse_parts(vec![
        scripted::sse_part(&chunk("Partial")),
        scripted::sse_part(&chunk(" text")),
        Part::Abort,
    ]);
    let (_upstream, server) = openai_server(vec![reply]).await;
    let mut client = server.connect().await;
    let id = Uuid::new_v4();
    client.send(&ask(id, "Will this break?")).await;
    let frames = client.recv_until(is_turn_end).await;
    let ServerMsg::MessageError { code, content, .. } = &frames.last().expect("end").msg else {
        panic!("expected message_error, got {:?}", frames.last());
    };
    assert_eq!(content, "Partial text");
    assert!(
        code == "stream_cut" || code == "provider_unavailable",
        "{code}"
    );
    assert!(
        !streamed_text(&frames).contains("error"),
        "errors never appear as answer text"
    );

    let stored = server.store().await.messages(id).await.expect("read");
    assert_eq!(stored[1].content, "Partial text");
    // The provider sent no usage: the prompt ("Will this break?", 16 characters) is estimated.
    assert_eq!(
        stored[1].metadata.as_ref().and_then(|m| m.prompt_tokens),
        Some(4)
    );
    assert_eq!(
        stored[1].metadata.as_ref().map(|m| m.finish_reason),
        Some(FinishReason::Error)
    );
}

#[tokio::test]
async fn deep_research_with_a_real_provider_plans_its_own_queries() {
    // Five iterations: a visible answer for each, a hidden planning call before each
    // iteration after the first, and the conclusion.
    let mut replies = vec![answer(&["Finding", " one."])];
    for n in 2..=5 {
        replies.push(answer(&[
            &format!("planned query {n}\n"),
            "ignored second line",
        ]));
        replies.push(answer(&[&format!("Finding {n}.")]));
    }
    replies.push(answer(&["All", " together."]));
    let (upstream, server) = openai_server(replies).await;
    let mut client = server.connect().await;
    let id = Uuid::new_v4();
    let mut question = ask(id, "How does resume work?");
    if let app::protocol::ClientMsg::SendMessage { deep_research, .. } = &mut question {
        *deep_research = Some(true);
    }
    client.send(&question).await;
    let frames = client.recv_until(is_turn_end).await;
    let queries: Vec<String> = frames
        .iter()
        .filter_map(|f| match &f.msg {
            ServerMsg::ResearchIteration {
                query, total: 5, ..
            } => Some(query.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        queries,
        vec![
            "How does resume work?".to_owned(),
            "planned query 2".into(),
            "planned query 3".into(),
            "planned query 4".into(),
            "planned query 5".into(),
        ]
    );
    let ServerMsg::MessageComplete {
        content, metadata, ..
    } = &frames.last().expect("end").msg
    else {
        panic!("expected completion, got {:?}", frames.last());
    };
    assert_eq!(metadata.research_iterations, Some(5));
    assert!(
        content.contains("Finding one.")
            && content.contains("Finding 5.")
            && content.ends_with("All together.")
    );
    assert!(content.contains("### Research step 2 of 5: planned query 2\n\n"));
    assert!(
        !content.contains("ignored second line"),
        "planning stays hidden"
    );
    // The conclusion's prompt carries every step's findings.
    let requests = upstream.requests();
    assert_eq!(requests.len(), 10);
    let conclusion = requests[9].body["messages"].to_string();
    assert!(conclusion.contains("Finding one.") && conclusion.contains("Finding 5."));
}

#[tokio::test]
async fn a_deepwiki_language_reaches_the_model_as_an_instruction() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let (upstream, server) = openai_server(vec![answer(&["Bonjour", " !"])]).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws/chat", server.addr))
        .await
        .expect("connect");
    let request = json!({
        "provider": "openai",
        "language": "fr",
        "messages": [{"role": "user", "content": "Say hello"}]
    });
    ws.send(Message::Text(request.to_string().into()))
        .await
        .expect("send");
    let mut text = String::new();
    loop {
        match tokio::time::timeout(common::PATIENCE, ws.next())
            .await
            .expect("an answer in time")
        {
            Some(Ok(Message::Text(t))) => text.push_str(&t),
            Some(Ok(Message::Close(frame))) => {
                assert_eq!(frame.map(|f| u16::from(f.code)), Some(1000));
                break;
            }
            Some(Ok(_)) => continue,
            other => panic!("socket ended: {other:?}"),
        }
    }
    assert_eq!(text, "Bonjour !");
    let sent = sent_messages(&upstream.requests()[0]);
    assert!(
        sent.iter()
            .any(|m| m["role"] == "system"
                && m["content"].as_str().unwrap_or("").contains("in French")),
        "{sent:?}"
    );
    assert_eq!(sent.last().unwrap()["content"], "Say hello");
}
