//! Pages and probes over plain HTTP.

use crate::common;

use common::TestServer;

#[tokio::test]
async fn health_and_ready_answer() {
    let server = TestServer::start().await;
    let health: serde_json::Value = reqwest::get(server.url("/health"))
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(health["status"], "ok");
    let ready = reqwest::get(server.url("/ready")).await.expect("request");
    assert_eq!(ready.status(), 200);
}

// Leptos's streaming SSR can miss a wake-up on a one-thread runtime and hang the
// response for good (leptos-rs/leptos#4647); it was seen once in a CI run here. The
// server itself always runs on the multi-thread runtime, so the test does too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_page_is_rendered_on_the_server() {
    let server = TestServer::start().await;
    let page = reqwest::get(server.url("/"))
        .await
        .expect("request")
        .text()
        .await
        .expect("body");
    let page = without_hydration_markers(&page);
    assert!(page.contains("<textarea"), "{page}");
    assert!(page.contains(">Message</label>"), "{page}");
    assert!(page.contains("role=\"status\""), "{page}");
    assert!(page.contains("aria-live=\"polite\""), "{page}");
    assert!(page.contains(">Send</button>"), "{page}");
}

/// The page as a reader sees it: without the comments (`<!>`, `<!--…-->`) that Leptos
/// writes for hydration, whose placement depends on how the views were compiled.
fn without_hydration_markers(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find("<!") {
        out.push_str(&rest[..start]);
        let comment = &rest[start..];
        let end = if comment.starts_with("<!--") {
            comment.find("-->").map(|i| i + 3)
        } else if comment.starts_with("<!>") {
            Some(3)
        } else {
            // `<!DOCTYPE html>` and the like are content.
            out.push_str("<!");
            rest = &comment[2..];
            continue;
        };
        rest = &comment[end.unwrap_or(comment.len())..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn the_database_is_created_on_first_start() {
    let server = TestServer::start().await;
    assert!(server.data.path().join("repowiki.db").exists());
}

#[tokio::test]
async fn the_openapi_document_describes_every_rest_endpoint() {
    let server = TestServer::start().await;
    let doc: serde_json::Value = reqwest::get(server.url("/api/openapi.json"))
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert!(
        doc["openapi"]
            .as_str()
            .unwrap_or_default()
            .starts_with("3.")
    );
    let paths = doc["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/health", "get"),
        ("/ready", "get"),
        ("/api/models", "get"),
        ("/api/chat/message", "post"),
        ("/api/chat/conversations", "get"),
        ("/api/chat/conversations", "post"),
        ("/api/chat/conversations/{id}", "get"),
        ("/api/chat/conversations/{id}", "put"),
        ("/api/chat/conversations/{id}", "delete"),
        ("/api/chat/conversations/{id}/messages", "get"),
        ("/api/chat/conversations/{id}/cleanup", "post"),
        (
            "/api/chat/conversations/{id}/messages/{message_id}/edit",
            "post",
        ),
        (
            "/api/chat/conversations/{id}/messages/{message_id}/show",
            "post",
        ),
        ("/api/chat/stats", "get"),
        ("/api/chat/stream/{conversation_id}", "get"),
        ("/api/v1/websocket/status", "post"),
        ("/api/v1/websocket/connections", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is documented"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for name in [
        "Conversation",
        "ChatMessage",
        "SyncChatRequest",
        "ErrorBody",
    ] {
        assert!(schemas.contains_key(name), "{name}");
    }
}
