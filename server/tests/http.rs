//! Pages and probes over plain HTTP.

mod common;

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

#[tokio::test]
async fn the_chat_page_is_rendered_on_the_server() {
    let server = TestServer::start().await;
    let page = reqwest::get(server.url("/"))
        .await
        .expect("request")
        .text()
        .await
        .expect("body");
    assert!(page.contains("<textarea"), "{page}");
    assert!(page.contains(">Message</label>"));
    assert!(page.contains("role=\"status\""));
    assert!(page.contains("aria-live=\"polite\""));
    assert!(page.contains(">Send</button>"));
}

#[tokio::test]
async fn the_database_is_created_on_first_start() {
    let server = TestServer::start().await;
    assert!(server.data.path().join("repowiki.db").exists());
}
