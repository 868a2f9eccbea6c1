//! What a hostile page or client could do with a browser or a raw socket, and what the
//! server answers: foreign `Host` names (DNS rebinding), cross-site requests without a
//! preflight, pages and rooms of data the requester may not see, oversized input, and
//! axum's own refusals in the API's error shape.

use crate::common;

use app::protocol::{ClientMsg, ErrorCode, ServerMsg, rooms};
use common::{TestServer, ask};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use uuid::Uuid;

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// Asks one question over `/ws` and waits for the answer to be stored.
async fn conversation_with_answer(url: &str, secret: &str) -> Uuid {
    let id = Uuid::new_v4();
    let mut client = common::Client::connect(url).await;
    client
        .send(&ClientMsg::Join {
            room: rooms::conversation(id),
            since_seq: None,
        })
        .await;
    client.send(&ask(id, secret)).await;
    client.recv_until(common::is_turn_end).await;
    id
}

#[tokio::test]
async fn pages_render_no_stored_data_without_a_key_and_none_once_deleted() {
    let server = TestServer::start_with(|c| {
        c.auth_enabled = true;
        c.api_keys = vec!["sesame".into()];
    })
    .await;
    let ws = format!("ws://{}/ws?api_key=sesame", server.addr);
    let id = conversation_with_answer(&ws, "the launch code is swordfish").await;
    let page = |query: &'static str| {
        let url = server.url(&format!("/chat/{id}{query}"));
        async move { http().get(url).send().await.unwrap().text().await.unwrap() }
    };
    assert!(page("?api_key=sesame").await.contains("swordfish"));
    let anonymous = page("").await;
    assert!(
        !anonymous.contains("swordfish"),
        "stored text served without a key"
    );
    assert!(!page("?api_key=wrong").await.contains("swordfish"));

    // Deleted through REST: gone from the page, and from a resuming socket.
    let deleted = http()
        .delete(server.url(&format!("/api/chat/conversations/{id}")))
        .bearer_auth("sesame")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 204);
    assert!(!page("?api_key=sesame").await.contains("swordfish"));
    let mut client = common::Client::connect(&ws).await;
    client
        .send(&ClientMsg::Join {
            room: rooms::conversation(id),
            since_seq: Some(0),
        })
        .await;
    match client.recv().await.msg {
        ServerMsg::Error { code, .. } => assert_eq!(code, ErrorCode::NotFound),
        other => panic!("a deleted conversation's room was joined: {other:?}"),
    }
}

#[tokio::test]
async fn a_foreign_host_name_is_refused_everywhere_but_the_probes() {
    let server = TestServer::start().await;
    let with_host =
        |path: &str, host: &'static str| http().get(server.url(path)).header("host", host).send();
    for path in ["/", "/api/chat/conversations", "/api/openapi.json"] {
        let r = with_host(path, "evil.example:3000").await.unwrap();
        assert_eq!(r.status().as_u16(), 403, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "forbidden");
        let ours = with_host(path, "localhost:3000").await.unwrap();
        assert_eq!(ours.status().as_u16(), 200, "{path}");
    }
    assert_eq!(
        with_host("/health", "lb.internal")
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );

    let mut request = format!("ws://{}/ws", server.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("host", HeaderValue::from_static("evil.example"));
    request
        .headers_mut()
        .insert("origin", HeaderValue::from_static("http://evil.example"));
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 403);
        }
        other => panic!("a rebinding page opened a socket: {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn cross_site_requests_without_a_preflight_are_refused() {
    let server = TestServer::start().await;
    let (status, project) = {
        let r = http()
            .post(server.url("/api/projects"))
            .json(&json!({"name": "Docs"}))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(status, 201, "{project}");
    let id = project["id"].as_str().unwrap().to_owned();

    // A form post as `text/plain`, a multipart upload, and an `<img>` asking a question.
    let reindex = http()
        .post(server.url(&format!("/api/projects/{id}/reindex")))
        .header("origin", "http://evil.example")
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(reindex.status().as_u16(), 403);
    let body: Value = reindex.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    let (content_type, body) = crate::project_support::multipart(&[("planted.md", b"# Planted\n")]);
    let upload = http()
        .post(server.url(&format!("/api/projects/{id}/documents")))
        .header("origin", "null")
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status().as_u16(), 403);
    let question = Uuid::new_v4();
    let img = http()
        .get(server.url(&format!(
            "/api/chat/stream/{question}?message=spend%20tokens"
        )))
        .header("sec-fetch-site", "cross-site")
        .header("sec-fetch-dest", "image")
        .send()
        .await
        .unwrap();
    assert_eq!(img.status().as_u16(), 403);
    // Same site or not, markup cannot ask: an image or a link is refused.
    for mode in ["no-cors", "navigate"] {
        let markup = http()
            .get(server.url(&format!(
                "/api/chat/stream/{question}?message=spend%20tokens"
            )))
            .header("sec-fetch-site", "same-origin")
            .header("sec-fetch-mode", mode)
            .send()
            .await
            .unwrap();
        assert_eq!(markup.status().as_u16(), 403, "{mode}");
    }
    let stored = http()
        .get(server.url(&format!("/api/chat/conversations/{question}")))
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status().as_u16(), 404, "the question was asked");

    // The app's own page and non-browser clients are unaffected.
    let own = http()
        .post(server.url(&format!("/api/projects/{id}/reindex")))
        .header("origin", format!("http://{}", server.addr))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_ne!(own.status().as_u16(), 403);
}

#[tokio::test]
async fn malformed_requests_are_answered_in_the_api_error_shape() {
    let server = TestServer::start().await;
    let bad_json = http()
        .post(server.url("/api/chat/conversations"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let wrong_type = http()
        .post(server.url("/api/chat/conversations"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    let bad_query = http()
        .get(server.url("/api/chat/conversations?limit=many"))
        .send()
        .await
        .unwrap();
    let wrong_method = http()
        .patch(server.url("/api/chat/conversations"))
        .send()
        .await
        .unwrap();
    let nowhere = http()
        .get(server.url("/api/no/such/thing"))
        .send()
        .await
        .unwrap();
    for (response, status) in [
        (bad_json, 400),
        (wrong_type, 415),
        (bad_query, 400),
        (wrong_method, 405),
        (nowhere, 404),
    ] {
        assert_eq!(response.status().as_u16(), status);
        let kind = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(kind.starts_with("application/json"), "{status}: {kind}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"]["code"].is_string(), "{body}");
        assert!(
            !body["error"]["message"].as_str().unwrap().is_empty(),
            "{body}"
        );
    }
}

#[tokio::test]
async fn broadcast_status_texts_are_bounded() {
    let server = TestServer::start().await;
    let post = |body: Value| {
        http()
            .post(server.url("/api/v1/websocket/status"))
            .json(&body)
            .send()
    };
    let long = post(json!({"room": "project:p", "status": "x", "message": "m".repeat(70_000)}))
        .await
        .unwrap();
    assert_eq!(long.status().as_u16(), 400);
    let body: Value = long.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("message")
    );
    let huge = post(json!({"room": "project:p", "status": "x", "message": "m".repeat(200 * 1024)}))
        .await
        .unwrap();
    assert_eq!(huge.status().as_u16(), 413);
    let fine = post(json!({"room": "project:p", "status": "x", "message": "ok"}))
        .await
        .unwrap();
    assert_eq!(fine.status().as_u16(), 202);
}

#[tokio::test]
async fn event_streams_count_toward_the_connection_cap() {
    let server = TestServer::start_with(|c| c.max_connections_per_client = 1).await;
    let first = http()
        .get(server.url(&format!("/api/chat/stream/{}", Uuid::new_v4())))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status().as_u16(), 200);
    let second = http()
        .get(server.url(&format!("/api/chat/stream/{}", Uuid::new_v4())))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status().as_u16(), 429);
    assert!(second.headers().contains_key("retry-after"));
    drop(first);
}

#[tokio::test]
async fn oversized_frames_on_the_seed_sockets_close_with_1009() {
    let server = TestServer::start().await;
    let huge = "x".repeat(300 * 1024);
    for path in [
        "/ws/chat".to_owned(),
        format!("/ws/chat/{}", Uuid::new_v4()),
    ] {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}{path}", server.addr))
            .await
            .expect("upgrade");
        ws.send(Message::Text(huge.clone().into())).await.unwrap();
        let close = loop {
            match tokio::time::timeout(common::PATIENCE, ws.next())
                .await
                .expect("closed in time")
            {
                Some(Ok(Message::Close(frame))) => break frame,
                Some(Ok(_)) => continue,
                other => panic!("{path}: no close frame: {other:?}"),
            }
        };
        let code = close.map(|f| u16::from(f.code));
        assert_eq!(code, Some(1009), "{path}");
    }
}

#[tokio::test]
async fn rest_requests_and_model_calls_are_limited_per_client() {
    let server = TestServer::start_with(|c| {
        c.rest_requests_per_sec = 1000;
        c.model_calls_per_min = 2;
    })
    .await;
    let ask = |text: &'static str| {
        http()
            .post(server.url("/api/chat/message"))
            .json(&json!({"message": text}))
            .send()
    };
    assert_eq!(ask("one").await.unwrap().status().as_u16(), 200);
    assert_eq!(ask("two").await.unwrap().status().as_u16(), 200);
    let third = ask("three").await.unwrap();
    assert_eq!(third.status().as_u16(), 429);
    let wait: u64 = third.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let body: Value = third.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("REPOWIKI_MODEL_CALLS_PER_MIN")
    );
    // Reading is not a model call.
    let list = http()
        .get(server.url("/api/chat/conversations"))
        .send()
        .await
        .unwrap();
    assert_eq!(list.status().as_u16(), 200);

    let server = TestServer::start_with(|c| c.rest_requests_per_sec = 3).await;
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let r = http()
            .get(server.url("/api/chat/conversations"))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(
        &statuses[..6],
        &[200; 6],
        "a burst of twice the rate passes"
    );
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[tokio::test]
async fn metrics_are_served_in_prometheus_format_behind_the_key() {
    let server = TestServer::start_with(|c| {
        c.auth_enabled = true;
        c.api_keys = vec!["sesame".into()];
    })
    .await;
    let ws = format!("ws://{}/ws?api_key=sesame", server.addr);
    let _socket = common::Client::connect(&ws).await;
    conversation_with_answer(&ws, "count me").await;
    let anonymous = http().get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let scrape = http()
        .get(server.url("/metrics"))
        .bearer_auth("sesame")
        .send()
        .await
        .unwrap();
    assert_eq!(scrape.status().as_u16(), 200);
    assert!(
        scrape.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = scrape.text().await.unwrap();
    for name in [
        "repowiki_http_requests_total",
        "repowiki_http_request_duration_seconds_bucket",
        "repowiki_open_sockets{endpoint=\"/ws\"}",
        "repowiki_rooms",
        "repowiki_events_published_total",
        "repowiki_turns_started_total{provider=\"offline\"}",
        "repowiki_turns_completed_total{provider=\"offline\"}",
        "repowiki_time_to_first_token_seconds_bucket",
        "repowiki_provider_request_duration_seconds_bucket",
        "repowiki_db_pool_connections{state=\"idle\"}",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
}

#[tokio::test]
async fn answers_over_a_clients_limit_wait_their_turn_and_a_full_line_refuses() {
    let server = TestServer::start_with(|c| {
        c.max_answers_per_client = 1;
        c.max_waiting_answers = 1;
        c.offline_tokens_per_sec = 200.0;
    })
    .await;
    let mut client = server.connect().await;
    let (first, second, third) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    for id in [first, second, third] {
        client
            .send(&ClientMsg::Join {
                room: rooms::conversation(id),
                since_seq: None,
            })
            .await;
        client
            .recv_until(|m| matches!(m, ServerMsg::Joined { .. }))
            .await;
    }
    client.send(&ask(first, "first question")).await;
    client
        .recv_until(|m| matches!(m, ServerMsg::MessageToken { .. }))
        .await;
    // The client's one place is taken: the second question waits, the line is then full.
    client.send(&ask(second, "second question")).await;
    let waited = client
        .recv_until(|m| matches!(m, ServerMsg::MessageWaiting { .. }))
        .await;
    assert!(
        matches!(&waited.last().unwrap().msg, ServerMsg::MessageWaiting { conversation_id, reason, .. }
            if *conversation_id == second && reason == "queued"),
        "{waited:?}"
    );
    client.send(&ask(third, "third question")).await;
    let mut order = Vec::new();
    let mut refused = false;
    while order.iter().filter(|(_, w)| w == "complete").count() < 2 {
        match client.recv().await.msg {
            ServerMsg::MessageToken {
                conversation_id, ..
            } => order.push((conversation_id, "token".to_owned())),
            ServerMsg::MessageComplete {
                conversation_id, ..
            } => order.push((conversation_id, "complete".to_owned())),
            ServerMsg::MessageReceived { message, .. } => {
                assert_ne!(
                    message.conversation_id, third,
                    "the third question was taken"
                );
            }
            ServerMsg::Error { code, .. } => {
                assert_eq!(code, ErrorCode::RateLimited);
                refused = true;
            }
            _ => {}
        }
    }
    assert!(refused, "a full line refuses");
    // The second answer's first token comes after the first answer's last one (its
    // place is given back when generation ends, just before the answer is stored).
    let first_last_token = order.iter().rposition(|(c, w)| *c == first && w == "token");
    let second_first_token = order.iter().position(|(c, w)| *c == second && w == "token");
    assert!(second_first_token.is_some(), "{order:?}");
    assert!(first_last_token < second_first_token, "{order:?}");
    assert!(!order.iter().any(|(c, _)| *c == third), "{order:?}");
}

#[tokio::test]
async fn pages_carry_a_nonce_policy_and_every_answer_the_security_headers() {
    let server = TestServer::start().await;
    let page = http().get(server.url("/")).send().await.unwrap();
    let headers = page.headers().clone();
    let html = page.text().await.unwrap();
    let policy = headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("no nonce in {policy}"));
    assert!(nonce.len() >= 16, "{nonce}");
    assert!(policy.contains("'wasm-unsafe-eval'") && policy.contains("frame-ancestors 'none'"));
    assert!(
        !policy.contains("'unsafe-eval'") && !policy.contains("script-src 'self' 'unsafe-inline'")
    );
    // Every inline script carries the nonce; none is allowed otherwise.
    for script in html.split("<script").skip(1) {
        let tag = script.split('>').next().unwrap_or("");
        assert!(
            tag.contains("src=") || tag.contains(&format!("nonce=\"{nonce}\"")),
            "<script{tag}>"
        );
    }
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers.contains_key("referrer-policy"));
    assert_eq!(headers["cache-control"], "no-cache");
    let second = http().get(server.url("/")).send().await.unwrap();
    assert!(
        !second.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains(nonce),
        "a nonce is never reused"
    );

    let api = http()
        .get(server.url("/api/projects"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.headers()["cache-control"], "no-store");
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
    let api_policy = api.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!api_policy.contains("nonce-"), "{api_policy}");
}

#[tokio::test]
async fn json_bodies_over_a_mebibyte_are_refused_and_uploads_keep_their_own_limit() {
    let server = TestServer::start_with(|c| c.max_upload_bytes = 4 * 1024 * 1024).await;
    let huge = json!({"title": "x".repeat(2 * 1024 * 1024)});
    let refused = http()
        .post(server.url("/api/chat/conversations"))
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 413);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_large");
    let created: Value = http()
        .post(server.url("/api/projects"))
        .json(&json!({"name": "Big uploads"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    crate::project_support::wait_job(server.addr, created["job_id"].as_str().unwrap()).await;
    let big = vec![b'a'; 2 * 1024 * 1024];
    let (content_type, form) = crate::project_support::multipart(&[("big.txt", &big)]);
    let uploaded = http()
        .post(server.url(&format!("/api/projects/{id}/documents")))
        .header("content-type", content_type)
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status().as_u16(), 201);
}
