//! The chat REST API (seed 003 shapes): the synchronous turn, conversations with
//! pagination edges, messages, soft delete with its socket notification, stats, cleanup.

use crate::common;

use app::protocol::{ClientMsg, ServerMsg, rooms};
use common::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn new(server: &TestServer) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: server.url(""),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
}

#[tokio::test]
async fn the_synchronous_turn_answers_and_stores_it() {
    let server = TestServer::start().await;
    let api = Api::new(&server);
    let (status, body) = api
        .post("/api/chat/message", json!({"message": "What is RepoWiki?"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["conversation_id"]
        .as_str()
        .expect("conversation id")
        .to_owned();
    assert_eq!(body["message"]["role"], "assistant");
    assert!(
        body["message"]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("What is RepoWiki?")
    );
    assert_eq!(body["message"]["metadata"]["finish_reason"], "completed");
    assert_eq!(body["message"]["sources"], json!([]));

    // A follow-up in the same conversation.
    let (status, _) = api
        .post(
            "/api/chat/message",
            json!({"message": "And then?", "conversation_id": id, "include_history": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, messages) = api
        .get(&format!("/api/chat/conversations/{id}/messages"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(messages["total"], 4);
    let roles: Vec<_> = messages["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| m["role"].clone())
        .collect();
    assert_eq!(roles, vec!["user", "assistant", "user", "assistant"]);
}

#[tokio::test]
async fn bad_chat_requests_are_clear_errors() {
    let server = TestServer::start().await;
    let api = Api::new(&server);
    let (status, body) = api
        .post("/api/chat/message", json!({"message": "   "}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    let (status, body) = api
        .post(
            "/api/chat/message",
            json!({"message": "hi", "conversation_id": Uuid::new_v4()}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, body) = api
        .post(
            "/api/chat/message",
            json!({"message": "hi", "provider": "nobody"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = api
        .post("/api/chat/message", json!({"text": "wrong field"}))
        .await;
    assert!(status.is_client_error());
    let (status, _) = api.get("/api/chat/conversations/not-a-uuid").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn conversations_are_created_listed_paged_renamed_and_deleted() {
    let server = TestServer::start().await;
    let api = Api::new(&server);
    let project = Uuid::new_v4().to_string();
    let mut ids = Vec::new();
    for title in ["Alpha", "Beta", "Gamma"] {
        let (status, created) = api
            .post(
                "/api/chat/conversations",
                json!({"title": title, "project_id": project}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(created["title"], title);
        assert_eq!(created["message_count"], 0);
        ids.push(created["id"].as_str().expect("id").to_owned());
    }
    let (_, page) = api
        .get(&format!(
            "/api/chat/conversations?project_id={project}&limit=2&offset=0"
        ))
        .await;
    assert_eq!(
        (
            page["total"].clone(),
            page["items"].as_array().map(Vec::len)
        ),
        (json!(3), Some(2))
    );
    let (_, last) = api
        .get(&format!(
            "/api/chat/conversations?project_id={project}&limit=2&offset=2"
        ))
        .await;
    assert_eq!(last["items"].as_array().map(Vec::len), Some(1));
    let (_, beyond) = api
        .get(&format!(
            "/api/chat/conversations?project_id={project}&offset=50"
        ))
        .await;
    assert_eq!(
        (beyond["total"].clone(), beyond["items"].clone()),
        (json!(3), json!([]))
    );
    let (_, found) = api
        .get(&format!(
            "/api/chat/conversations?project_id={project}&q=gam"
        ))
        .await;
    assert_eq!(found["items"][0]["title"], "Gamma");

    let (status, renamed) = api
        .call(
            reqwest::Method::PUT,
            &format!("/api/chat/conversations/{}", ids[0]),
            Some(json!({"title": "Alpha 2"})),
        )
        .await;
    assert_eq!(
        (status, renamed["title"].as_str()),
        (StatusCode::OK, Some("Alpha 2"))
    );
    let (status, _) = api
        .call(
            reqwest::Method::PUT,
            &format!("/api/chat/conversations/{}", ids[0]),
            Some(json!({"title": ""})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A socket in the room hears about the delete.
    let mut client = server.connect().await;
    let room_id: Uuid = ids[1].parse().expect("uuid");
    client
        .send(&ClientMsg::Join {
            room: rooms::conversation(room_id),
            since_seq: None,
        })
        .await;
    client
        .recv_until(|m| matches!(m, ServerMsg::Joined { .. }))
        .await;
    let (status, _) = api
        .call(
            reqwest::Method::DELETE,
            &format!("/api/chat/conversations/{}", ids[1]),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    client.recv_until(|m| matches!(m, ServerMsg::ConversationDeleted { conversation_id } if *conversation_id == room_id)).await;
    let (status, _) = api
        .get(&format!("/api/chat/conversations/{}", ids[1]))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api
        .call(
            reqwest::Method::DELETE,
            &format!("/api/chat/conversations/{}", ids[1]),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, after) = api
        .get(&format!("/api/chat/conversations?project_id={project}"))
        .await;
    assert_eq!(after["total"], 2);

    // Asking in a deleted conversation is refused, over the socket too.
    let (status, _) = api
        .post(
            "/api/chat/message",
            json!({"message": "hello?", "conversation_id": ids[1]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    client.send(&common::ask(room_id, "still there?")).await;
    client
        .recv_until(|m| {
            matches!(
                m,
                ServerMsg::Error {
                    code: app::protocol::ErrorCode::NotFound,
                    ..
                }
            )
        })
        .await;
}

#[tokio::test]
async fn stats_and_cleanup() {
    let server = TestServer::start().await;
    let api = Api::new(&server);
    let (_, first) = api
        .post("/api/chat/message", json!({"message": "one"}))
        .await;
    let id = first["conversation_id"].as_str().expect("id").to_owned();
    for question in ["two", "three"] {
        api.post(
            "/api/chat/message",
            json!({"message": question, "conversation_id": id}),
        )
        .await;
    }
    let (status, stats) = api.get("/api/chat/stats").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stats["conversations"], 1);
    assert_eq!(
        (
            stats["user_messages"].clone(),
            stats["assistant_messages"].clone()
        ),
        (json!(3), json!(3))
    );
    assert!(stats["completion_tokens"].as_u64().unwrap_or(0) > 0);
    assert!(stats["avg_duration_ms"].as_f64().is_some());

    // The largest count a client can send keeps everything (it once wrapped to -1).
    let (status, result) = api
        .post(
            &format!("/api/chat/conversations/{id}/cleanup"),
            json!({"keep_last": u64::MAX}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(result, json!({"removed": 0, "kept": 6}));

    let (status, result) = api
        .post(
            &format!("/api/chat/conversations/{id}/cleanup"),
            json!({"keep_last": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(result, json!({"removed": 4, "kept": 2}));
    let (_, messages) = api
        .get(&format!("/api/chat/conversations/{id}/messages"))
        .await;
    assert_eq!(messages["items"][0]["content"], "three");
    let (status, beyond) = api
        .get(&format!(
            "/api/chat/conversations/{id}/messages?offset={}",
            u64::MAX
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(beyond["items"], json!([]));
}
