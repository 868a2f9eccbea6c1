//! The seed systems' endpoints, exchanged exactly as their documents show
//! (shared/seeds/002 and 003 for the sockets and SSE, 001 for the broadcast REST).

use crate::common;

use app::protocol::ServerMsg;
use common::{PATIENCE, TestServer, ask, is_turn_end, streamed_text};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(server: &TestServer, path: &str) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}{path}", server.addr))
        .await
        .expect("connect");
    ws
}

enum Got {
    Text(String),
    Closed(u16, String),
}

async fn next(ws: &mut Ws) -> Got {
    loop {
        match tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("in time")
        {
            Some(Ok(Message::Text(t))) => return Got::Text(t.to_string()),
            Some(Ok(Message::Close(Some(f)))) => {
                return Got::Closed(f.code.into(), f.reason.to_string());
            }
            Some(Ok(Message::Close(None))) | None => return Got::Closed(1005, String::new()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("socket error {e}"),
        }
    }
}

async fn next_json(ws: &mut Ws) -> Value {
    match next(ws).await {
        Got::Text(t) => serde_json::from_str(&t).unwrap_or_else(|e| panic!("{t}: {e}")),
        Got::Closed(code, reason) => panic!("closed {code} {reason}"),
    }
}

async fn send_json(ws: &mut Ws, value: Value) {
    ws.send(Message::Text(value.to_string().into()))
        .await
        .expect("send");
}

#[tokio::test]
async fn ws_chat_streams_plain_text_and_closes_when_done() {
    // A local folder stands in for the repository: no network here. The request keeps
    // every seed field, including an absolute filePath (refused, nothing read).
    let root = tempfile::tempdir().expect("temp dir");
    let repo = root.path().join("repo");
    std::fs::create_dir_all(repo.join("src")).expect("folder");
    std::fs::write(repo.join("src/app.ts"), "export function main() {}\n").expect("file");
    let local_root = root.path().display().to_string();
    let server = TestServer::start_with(|c| c.local_roots = vec![local_root]).await;
    let mut ws = open(&server, "/ws/chat").await;
    send_json(
        &mut ws,
        json!({
            "repo_url": repo.display().to_string(),
            "messages": [
                {"role": "user", "content": "What is this repository about?"},
                {"role": "assistant", "content": "A wiki generator."},
                {"role": "user", "content": "[DEEP RESEARCH] Analyze the architecture"}
            ],
            "filePath": "/path/to/file.ts",
            "token": "github_pat_secret",
            "type": "local",
            "provider": "offline",
            "language": "en",
            "excluded_dirs": "node_modules,vendor",
            "included_files": "*.ts,*.tsx"
        }),
    )
    .await;
    let mut text = String::new();
    let mut frames = 0;
    let close = loop {
        match next(&mut ws).await {
            Got::Text(t) => {
                assert!(
                    serde_json::from_str::<Value>(&t).is_err() || t.trim().parse::<f64>().is_ok(),
                    "plain text, not JSON: {t}"
                );
                text.push_str(&t);
                frames += 1;
            }
            Got::Closed(code, reason) => break (code, reason),
        }
    };
    assert_eq!(close.0, 1000, "{}", close.1);
    assert!(frames > 5, "streamed in pieces");
    assert!(
        text.contains("You asked: \u{201c}Analyze the architecture\u{201d}"),
        "{text}"
    );
    assert!(!text.contains("github_pat_secret"));
}

#[tokio::test]
async fn ws_chat_refuses_a_malformed_request_with_a_reason() {
    let server = TestServer::start().await;
    let mut ws = open(&server, "/ws/chat").await;
    ws.send(Message::Text("{\"messages\": 5}".into()))
        .await
        .expect("send");
    match next(&mut ws).await {
        Got::Closed(code, reason) => {
            assert_eq!(code, 1003);
            assert!(reason.starts_with("invalid request"), "{reason}");
        }
        Got::Text(t) => panic!("unexpected {t}"),
    }
    let mut ws = open(&server, "/ws/chat").await;
    send_json(
        &mut ws,
        json!({"provider": "nobody", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    match next(&mut ws).await {
        Got::Closed(code, reason) => assert_eq!((code, reason.contains("nobody")), (1008, true)),
        Got::Text(t) => panic!("unexpected {t}"),
    }
}

#[tokio::test]
async fn ws_chat_tells_a_flooding_client_why_it_is_closed() {
    let root = tempfile::tempdir().expect("temp dir");
    let repo = root.path().join("repo");
    std::fs::create_dir_all(&repo).expect("folder");
    std::fs::write(repo.join("README.md"), "# A wiki generator\n").expect("file");
    let local_root = root.path().display().to_string();
    let server = TestServer::start_with(|c| {
        c.local_roots = vec![local_root];
        c.messages_per_sec = 5;
    })
    .await;
    let mut ws = open(&server, "/ws/chat").await;
    send_json(
        &mut ws,
        json!({
            "repo_url": repo.display().to_string(),
            "messages": [{"role": "user", "content": "What is this repository about?"}],
        }),
    )
    .await;
    // Sent at once, so most are still unread when the server gives up on the client:
    // its close frame must arrive all the same, not a reset connection.
    for n in 0..60 {
        send_json(&mut ws, json!({ "n": n })).await;
    }
    let close = loop {
        if let Got::Closed(code, reason) = next(&mut ws).await {
            break (code, reason);
        }
    };
    assert_eq!(close, (1008, "rate limit exceeded".to_owned()));
}

#[tokio::test]
async fn the_conversation_socket_tells_a_flooding_client_why_it_is_closed() {
    let server = TestServer::start_with(|c| c.messages_per_sec = 5).await;
    let mut ws = open(&server, &format!("/ws/chat/{}", Uuid::new_v4())).await;
    assert_eq!(next_json(&mut ws).await["type"], "connected");
    // As on /ws/chat: most are still unread when the server gives up on the client.
    for n in 0..60 {
        send_json(&mut ws, json!({"type": "ping", "timestamp": n})).await;
    }
    let close = loop {
        if let Got::Closed(code, reason) = next(&mut ws).await {
            break (code, reason);
        }
    };
    assert_eq!(close, (1008, "rate limit exceeded".to_owned()));
}

#[tokio::test]
async fn the_conversation_socket_broadcasts_to_every_client() {
    let server = TestServer::start().await;
    let id = Uuid::new_v4();
    let path = format!("/ws/chat/{id}");
    let mut a = open(&server, &path).await;
    let mut b = open(&server, &path).await;
    for ws in [&mut a, &mut b] {
        let hello = next_json(ws).await;
        assert_eq!(hello["type"], "connected");
        assert_eq!(hello["conversation_id"], id.to_string());
    }

    send_json(&mut a, json!({"type": "ping", "timestamp": 42})).await;
    assert_eq!(
        next_json(&mut a).await,
        json!({"type": "pong", "timestamp": 42})
    );

    send_json(&mut a, json!({"type": "typing", "is_typing": true})).await;
    let typing = next_json(&mut b).await;
    assert_eq!(
        (typing["type"].as_str(), typing["is_typing"].as_bool()),
        (Some("typing"), Some(true))
    );

    send_json(
        &mut a,
        json!({"type": "message", "content": "Who calls main?", "exclude_sender": true}),
    )
    .await;
    let mut first_b = next_json(&mut b).await;
    assert_eq!(first_b["type"], "message");
    assert_eq!(first_b["message"]["role"], "user");
    assert_eq!(first_b["message"]["content"], "Who calls main?");
    for ws in [&mut a, &mut b] {
        let mut streamed = String::new();
        loop {
            let frame = next_json(ws).await;
            match frame["type"].as_str() {
                Some("stream") => streamed.push_str(frame["content"].as_str().unwrap_or_default()),
                Some("message") if frame["message"]["role"] == "assistant" => {
                    assert_eq!(
                        frame["message"]["content"].as_str(),
                        Some(streamed.as_str())
                    );
                    break;
                }
                Some("message") => panic!("the sender asked not to get its own question back"),
                other => panic!("unexpected {other:?}: {frame}"),
            }
        }
        assert!(!streamed.is_empty());
    }
    first_b.take();

    send_json(&mut b, json!({"type": "dance"})).await;
    let error = next_json(&mut b).await;
    assert_eq!(error["type"], "error");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("invalid message")
    );
}

async fn post_status(server: &TestServer, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.url("/api/v1/websocket/status"))
        .json(&body)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn the_job_progress_socket_relays_status_heartbeats_and_the_final_state() {
    let server = TestServer::start_with(|c| c.ping_interval_secs = 1).await;
    let mut unknown = open(&server, "/api/wiki/jobs/nope/progress").await;
    match next(&mut unknown).await {
        Got::Closed(code, reason) => assert_eq!((code, reason.as_str()), (1008, "Job not found")),
        Got::Text(t) => panic!("unexpected {t}"),
    }

    let started = post_status(
        &server,
        json!({
            "room": "job:job_123", "status": "running", "current_phase": 1,
            "progress_percent": 15.5, "total_pages": 20, "completed_pages": 3, "failed_pages": 0
        }),
    )
    .await;
    assert_eq!(started.status(), 202);

    let mut ws = open(&server, "/api/wiki/jobs/job_123/progress").await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({
            "job_id": "job_123", "status": "running", "current_phase": 1, "progress_percent": 15.5,
            "message": "Status: running", "total_pages": 20, "completed_pages": 3, "failed_pages": 0
        })
    );
    post_status(&server, json!({
        "room": "job:job_123", "status": "running", "current_phase": 2, "progress_percent": 35.0,
        "message": "Generating authentication page", "page_id": "page_456", "page_title": "Authentication",
        "total_pages": 20, "completed_pages": 7, "failed_pages": 1
    })).await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({
            "job_id": "job_123", "status": "running", "current_phase": 2, "progress_percent": 35.0,
            "message": "Generating authentication page", "page_id": "page_456", "page_title": "Authentication",
            "total_pages": 20, "completed_pages": 7, "failed_pages": 1
        })
    );
    assert_eq!(next_json(&mut ws).await, json!({"heartbeat": true}));

    post_status(&server, json!({
        "room": "job:job_123", "status": "completed", "current_phase": 3, "progress_percent": 100.0,
        "message": "Wiki generation completed", "total_pages": 20, "completed_pages": 19, "failed_pages": 1
    })).await;
    let mut last = next_json(&mut ws).await;
    while last == json!({"heartbeat": true}) {
        last = next_json(&mut ws).await;
    }
    assert_eq!(last["status"], "completed");
    assert_eq!(last["progress_percent"], 100.0);
    assert!(matches!(next(&mut ws).await, Got::Closed(1000, _)));
}

#[tokio::test]
async fn broadcast_rest_publishes_to_rooms_and_counts_connections() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client
        .send(&app::protocol::ClientMsg::Join {
            room: "project:p1".into(),
            since_seq: None,
        })
        .await;
    client
        .recv_until(|m| matches!(m, ServerMsg::Joined { .. }))
        .await;

    let published = post_status(
        &server,
        json!({"room": "project:p1", "status": "processing", "progress_percent": 40.0}),
    )
    .await;
    assert_eq!(published.status(), 202);
    let frames = client
        .recv_until(|m| matches!(m, ServerMsg::ProcessingStatus { .. }))
        .await;
    let last = frames.last().expect("status");
    assert_eq!(last.room.as_deref(), Some("project:p1"));
    assert!(last.seq.is_some());

    let bad = post_status(&server, json!({"room": "lobby", "status": "x"})).await;
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.expect("json");
    assert_eq!(body["error"]["code"], "bad_request");

    let counts: Value = reqwest::get(server.url("/api/v1/websocket/connections"))
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(counts["active_connections"], 1);
    assert_eq!(
        counts["rooms"],
        json!([{"room": "project:p1", "connections": 1}])
    );
}

/// Reads SSE events (id, event, data) until `stop` says so.
async fn read_sse(
    response: reqwest::Response,
    stop: impl Fn(&str) -> bool,
) -> Vec<(Option<u64>, String, Value)> {
    let mut events = Vec::new();
    let mut stream = eventsource_stream::Eventsource::eventsource(response.bytes_stream());
    while let Some(event) = tokio::time::timeout(PATIENCE, stream.next())
        .await
        .expect("in time")
    {
        let event = event.expect("well-formed SSE");
        let data: Value = serde_json::from_str(&event.data).expect("json data");
        let done = stop(&event.event);
        events.push((event.id.parse().ok(), event.event, data));
        if done {
            break;
        }
    }
    events
}

#[tokio::test]
async fn sse_streams_a_turn_and_resumes_from_last_event_id() {
    let server = TestServer::start_with(|c| c.offline_tokens_per_sec = 80.0).await;
    let id = Uuid::new_v4();
    let response =
        reqwest::get(server.url(&format!("/api/chat/stream/{id}?message=Hello%20there")))
            .await
            .expect("request");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/event-stream")
    );
    let events = read_sse(response, |_| false).await;
    assert_eq!(events.first().map(|(_, k, _)| k.as_str()), Some("joined"));
    let kinds: Vec<&str> = events
        .iter()
        .filter(|(id, _, _)| id.is_some())
        .map(|(_, k, _)| k.as_str())
        .collect();
    assert_eq!(kinds.first(), Some(&"message_received"));
    assert_eq!(kinds.last(), Some(&"message_complete"));
    let ids: Vec<u64> = events.iter().filter_map(|(id, _, _)| *id).collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1));
    let tokens: String = events
        .iter()
        .filter(|(_, k, _)| k == "message_token")
        .map(|(_, _, d)| d["token"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        events.last().map(|(_, _, d)| d["content"].clone()),
        Some(Value::String(tokens))
    );

    // Resume mid-answer: a second turn is followed by a socket client, an SSE client
    // picks up from the event id the socket client saw first.
    let mut watcher = server.connect().await;
    watcher.send(&ask(id, "And again")).await;
    let early = watcher
        .recv_until(|m| matches!(m, ServerMsg::MessageToken { .. }))
        .await;
    let resume_from = early.iter().filter_map(|f| f.seq).max().expect("seq");
    let resumed = reqwest::Client::new()
        .get(server.url(&format!("/api/chat/stream/{id}")))
        .header("Last-Event-ID", resume_from.to_string())
        .send()
        .await
        .expect("request");
    let rest = read_sse(resumed, |kind| kind == "message_complete").await;
    assert!(
        rest.iter()
            .filter_map(|(id, _, _)| *id)
            .all(|i| i > resume_from)
    );
    let rest_text: String = rest
        .iter()
        .filter(|(_, k, _)| k == "message_token")
        .map(|(_, _, d)| d["token"].as_str().unwrap_or_default())
        .collect();
    let full = watcher.recv_until(is_turn_end).await;
    let ServerMsg::MessageComplete { content, .. } = &full.last().expect("end").msg else {
        panic!("expected completion");
    };
    assert_eq!(streamed_text(&early) + &rest_text, *content);
}

async fn get_json(server: &TestServer, path: &str) -> Value {
    reqwest::get(server.url(path))
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON")
}

/// Runs one seed-002 request to its close and returns the streamed text.
async fn ask_ws_chat(server: &TestServer, request: Value) -> String {
    let mut ws = open(server, "/ws/chat").await;
    send_json(&mut ws, request).await;
    let mut text = String::new();
    loop {
        match next(&mut ws).await {
            Got::Text(t) => text.push_str(&t),
            Got::Closed(code, reason) => {
                assert_eq!(code, 1000, "{reason}");
                return text;
            }
        }
    }
}

#[tokio::test]
async fn ws_chat_filters_choose_the_project_and_excluded_folders_are_never_sources() {
    let root = tempfile::tempdir().expect("temp dir");
    let repo = root.path().join("repo");
    for (path, text) in [
        (
            "src/config.rs",
            "/// Loads the configuration from the environment.\npub fn load_configuration() {}\n",
        ),
        (
            "vendor/config.rs",
            "/// Loads the configuration from a vendored file.\npub fn load_configuration() {}\n",
        ),
    ] {
        let file = repo.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).expect("folder");
        std::fs::write(file, text).expect("file");
    }
    let local_root = root.path().display().to_string();
    let server = TestServer::start_with(|c| c.local_roots = vec![local_root]).await;
    let request = |excluded: &str| {
        json!({
            "repo_url": repo.display().to_string(),
            "type": "local",
            "provider": "offline",
            "excluded_dirs": excluded,
            "messages": [{"role": "user", "content": "How is the configuration loaded?"}]
        })
    };
    ask_ws_chat(&server, request("vendor\n")).await;

    let projects = get_json(&server, "/api/projects").await;
    let items = projects["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{projects}");
    assert_eq!(items[0]["filters"]["excluded_dirs"], json!(["vendor"]));
    let conversations = get_json(&server, "/api/chat/conversations").await;
    let id = conversations["items"][0]["id"].as_str().unwrap();
    let messages = get_json(&server, &format!("/api/chat/conversations/{id}/messages")).await;
    let sources: Vec<String> = messages["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["sources"].as_array().cloned().unwrap_or_default())
        .map(|s| s["path"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(sources.iter().any(|p| p == "src/config.rs"), "{sources:?}");
    assert!(
        !sources.iter().any(|p| p.starts_with("vendor/")),
        "{sources:?}"
    );

    // The same filters reuse the project (written as DeepWiki's URLs do); none makes another.
    ask_ws_chat(&server, request("vendor,")).await;
    ask_ws_chat(&server, request("")).await;
    let projects = get_json(&server, "/api/projects").await;
    assert_eq!(projects["items"].as_array().unwrap().len(), 2, "{projects}");
}
