//! Authentication, origin checks and limits on the sockets and the REST API.

use crate::common;

use app::protocol::{ClientMsg, ErrorCode, ServerMsg, rooms};
use common::{TestServer, ask};
use futures::StreamExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use uuid::Uuid;

async fn secured() -> TestServer {
    TestServer::start_with(|c| {
        c.auth_enabled = true;
        c.api_keys = vec!["sesame".into(), "other".into()];
    })
    .await
}

/// Connects and returns the close frame the server sends straight away.
async fn refused_with(url: &str) -> (u16, String) {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgrade");
    loop {
        match tokio::time::timeout(common::PATIENCE, ws.next())
            .await
            .expect("close in time")
        {
            Some(Ok(Message::Close(Some(frame)))) => {
                return (u16::from(frame.code), frame.reason.to_string());
            }
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn sockets_without_a_valid_key_are_closed_with_1008() {
    let server = secured().await;
    for path in [
        "/ws",
        "/ws/chat",
        &format!("/ws/chat/{}", Uuid::new_v4()),
        "/api/wiki/jobs/j1/progress",
    ] {
        let base = format!("ws://{}{path}", server.addr);
        assert_eq!(
            refused_with(&base).await,
            (1008, "Missing API key".into()),
            "{path}"
        );
        assert_eq!(
            refused_with(&format!("{base}?api_key=wrong")).await,
            (1008, "Invalid API key".into()),
            "{path}"
        );
    }
    let mut client =
        common::Client::connect(&format!("ws://{}/ws?api_key=sesame", server.addr)).await;
    client.send(&ClientMsg::Ping { t: 1 }).await;
    assert!(matches!(client.recv().await.msg, ServerMsg::Pong { .. }));
}

#[tokio::test]
async fn rest_without_a_valid_key_is_401_and_keys_work_in_every_place() {
    let server = secured().await;
    let http = reqwest::Client::new();
    let url = server.url("/api/v1/websocket/connections");
    let missing = http.get(&url).send().await.expect("request");
    assert_eq!(missing.status(), 401);
    let body: serde_json::Value = missing.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unauthorized");
    assert_eq!(body["error"]["message"], "Missing API key");
    assert_eq!(
        http.get(&url)
            .bearer_auth("nope")
            .send()
            .await
            .expect("r")
            .status(),
        401
    );
    assert_eq!(
        http.get(&url)
            .bearer_auth("sesame")
            .send()
            .await
            .expect("r")
            .status(),
        200
    );
    assert_eq!(
        http.get(&url)
            .header("X-API-Key", "other")
            .send()
            .await
            .expect("r")
            .status(),
        200
    );
    assert_eq!(
        http.get(format!("{url}?api_key=sesame"))
            .send()
            .await
            .expect("r")
            .status(),
        200
    );
    // Liveness stays open for probes.
    assert_eq!(
        http.get(server.url("/health"))
            .send()
            .await
            .expect("r")
            .status(),
        200
    );
}

#[tokio::test]
async fn a_foreign_origin_cannot_open_a_socket() {
    let server = TestServer::start().await;
    let mut request = format!("ws://{}/ws", server.addr)
        .into_client_request()
        .expect("request");
    request
        .headers_mut()
        .insert("origin", HeaderValue::from_static("http://evil.example"));
    match tokio_tungstenite::connect_async(request).await {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| ())),
    }
    let mut same = format!("ws://{}/ws", server.addr)
        .into_client_request()
        .expect("request");
    let origin = format!("http://{}", server.addr);
    same.headers_mut()
        .insert("origin", HeaderValue::from_str(&origin).expect("origin"));
    tokio_tungstenite::connect_async(same)
        .await
        .expect("same origin is allowed");
}

#[tokio::test]
async fn a_flood_is_rate_limited_then_disconnected() {
    let server = TestServer::start_with(|c| c.messages_per_sec = 5).await;
    let mut client = server.connect().await;
    for t in 0..40 {
        client.send(&ClientMsg::Ping { t }).await;
    }
    let frames = client
        .recv_until(|m| {
            matches!(
                m,
                ServerMsg::Error {
                    code: ErrorCode::RateLimited,
                    ..
                }
            )
        })
        .await;
    assert!(
        frames
            .iter()
            .filter(|f| matches!(f.msg, ServerMsg::Pong { .. }))
            .count()
            >= 10
    );
    let close = client.closed().await.expect("closed for flooding");
    assert_eq!(u16::from(close.code), 1008);
}

#[tokio::test]
async fn connections_and_rooms_per_client_are_capped() {
    let server = TestServer::start_with(|c| {
        c.max_connections_per_client = 2;
        c.max_rooms_per_connection = 2;
    })
    .await;
    let mut first = server.connect().await;
    let _second = server.connect().await;
    let url = format!("ws://{}/ws", server.addr);
    assert_eq!(refused_with(&url).await.0, 1013);

    for n in 0..2 {
        first
            .send(&ClientMsg::Join {
                room: format!("job:{n}"),
                since_seq: None,
            })
            .await;
        first
            .recv_until(|m| matches!(m, ServerMsg::Joined { .. }))
            .await;
    }
    first
        .send(&ClientMsg::Join {
            room: "job:overflow".into(),
            since_seq: None,
        })
        .await;
    first
        .recv_until(|m| {
            matches!(
                m,
                ServerMsg::Error {
                    code: ErrorCode::LimitExceeded,
                    ..
                }
            )
        })
        .await;
    first.send(&ask(Uuid::new_v4(), "one more room")).await;
    first
        .recv_until(|m| {
            matches!(
                m,
                ServerMsg::Error {
                    code: ErrorCode::LimitExceeded,
                    ..
                }
            )
        })
        .await;
    // Leaving frees a slot.
    first
        .send(&ClientMsg::Leave {
            room: "job:0".into(),
        })
        .await;
    first
        .recv_until(|m| matches!(m, ServerMsg::Left { .. }))
        .await;
    first
        .send(&ClientMsg::Join {
            room: rooms::conversation(Uuid::new_v4()),
            since_seq: None,
        })
        .await;
    first
        .recv_until(|m| matches!(m, ServerMsg::Joined { .. }))
        .await;
}

#[tokio::test]
async fn an_abandoned_answer_stops_when_so_configured() {
    let server = TestServer::start_with(|c| {
        c.stop_when_abandoned = true;
        c.offline_tokens_per_sec = 20.0;
    })
    .await;
    let id = Uuid::new_v4();
    let mut client = server.connect().await;
    client.send(&ask(id, "Long answer please")).await;
    client
        .recv_until(|m| matches!(m, ServerMsg::MessageToken { .. }))
        .await;
    client.close().await;

    let store = server.store().await;
    // Nobody is left to receive an event, so the database is watched instead.
    let stored = tokio::time::timeout(common::PATIENCE, async {
        loop {
            let messages = store.messages(id).await.expect("read");
            if messages.len() == 2 {
                break messages;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the stopped answer is stored");
    let metadata = stored[1].metadata.as_ref().expect("metadata");
    assert_eq!(metadata.finish_reason, app::protocol::FinishReason::Stopped);
}

#[tokio::test]
async fn the_room_fan_out_typing_and_presence_reach_the_right_clients() {
    let server = TestServer::start().await;
    let id = Uuid::new_v4();
    let room = rooms::conversation(id);
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    a.send(&ClientMsg::Join {
        room: room.clone(),
        since_seq: None,
    })
    .await;
    a.recv_until(|m| matches!(m, ServerMsg::Presence { connections: 1 }))
        .await;
    b.send(&ClientMsg::Join {
        room: room.clone(),
        since_seq: None,
    })
    .await;
    a.recv_until(|m| matches!(m, ServerMsg::Presence { connections: 2 }))
        .await;

    b.send(&ClientMsg::Typing {
        conversation_id: id,
        is_typing: true,
    })
    .await;
    let seen = a
        .recv_until(|m| matches!(m, ServerMsg::Typing { .. }))
        .await;
    assert!(
        matches!(seen.last().map(|f| &f.msg), Some(ServerMsg::Typing { connection_id, is_typing: true, .. }) if *connection_id == b.connection_id)
    );

    // Both see one identical stream; the sender, already a member, gets no event twice.
    b.send(&ask(id, "Same for everyone?")).await;
    let from_a = a.recv_until(common::is_turn_end).await;
    let from_b = b.recv_until(common::is_turn_end).await;
    let seqs = |frames: &[app::protocol::ServerFrame]| {
        frames.iter().filter_map(|f| f.seq).collect::<Vec<_>>()
    };
    assert_eq!(seqs(&from_a), seqs(&from_b));
    assert!(!seqs(&from_b).is_empty());
    assert!(
        !from_b
            .iter()
            .any(|f| matches!(f.msg, ServerMsg::Typing { .. })),
        "typing never echoes to its sender"
    );
}

#[tokio::test]
async fn cors_follows_the_allowed_origins() {
    let server =
        TestServer::start_with(|c| c.allowed_origins = vec!["https://wiki.example.com".into()])
            .await;
    let http = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        http.request(
            reqwest::Method::OPTIONS,
            server.url("/api/v1/websocket/connections"),
        )
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "GET")
        .send()
    };
    let allowed = preflight("https://wiki.example.com")
        .await
        .expect("preflight");
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://wiki.example.com")
    );
    let foreign = preflight("https://evil.example").await.expect("preflight");
    assert!(
        foreign
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn a_slow_reader_is_disconnected_and_a_fast_one_gets_everything() {
    const EVENTS: usize = 300;
    let server = TestServer::start_with(|c| c.outgoing_queue = 16).await;
    let room = "project:firehose";
    let mut fast = server.connect().await;
    let mut slow = server.connect().await;
    for client in [&mut fast, &mut slow] {
        client
            .send(&ClientMsg::Join {
                room: room.into(),
                since_seq: None,
            })
            .await;
        client
            .recv_until(|m| matches!(m, ServerMsg::Joined { .. }))
            .await;
    }
    // Large events fill the slow reader's socket buffers, then its queue.
    let http = reqwest::Client::new();
    let big = "x".repeat(60 * 1024);
    let reader = tokio::spawn(async move {
        let mut seen = 0;
        while seen < EVENTS {
            if matches!(fast.recv().await.msg, ServerMsg::ProcessingStatus { .. }) {
                seen += 1;
            }
        }
        (seen, fast)
    });
    for _ in 0..EVENTS {
        let response = http
            .post(server.url("/api/v1/websocket/status"))
            .json(&serde_json::json!({"room": room, "status": "tick", "message": big}))
            .send()
            .await
            .expect("publish");
        assert_eq!(response.status(), 202);
    }
    let (seen, _fast) = reader.await.expect("fast reader");
    assert_eq!(seen, EVENTS);

    // The slow one was dropped from the room at once, and its socket ends.
    let counts: serde_json::Value = reqwest::get(server.url("/api/v1/websocket/connections"))
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(
        counts["rooms"],
        serde_json::json!([{"room": room, "connections": 1}])
    );
    let ended = tokio::time::timeout(common::PATIENCE, async {
        loop {
            match slow.next_raw().await {
                Some(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Some(_) => continue,
                None => return None,
            }
        }
    })
    .await
    .expect("the slow socket ends");
    assert!(matches!(ended, Some(1013) | None), "{ended:?}");
}
