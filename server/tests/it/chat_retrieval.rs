//! Chat answered from a project: a local folder is indexed through the REST API, then
//! questions over `/ws`, `POST /api/chat/message` and the seed-002 `/ws/chat` socket get
//! its passages as sources (with line ranges), cite them, and store them with the answer.

use crate::common;
use crate::project_support;

use app::protocol::{ClientMsg, ErrorCode, ServerMsg};
use common::{PATIENCE, TestServer, ask, is_turn_end};
use futures::{SinkExt, StreamExt};
use project_support::{wait_job, write};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

const CONFIG_RS: &str = "//! Settings.\n\n/// Reads the configuration from TOML text.\npub fn parse_config(input: &str) -> Config {\n    toml::from_str(input).unwrap_or_default()\n}\n\n#[derive(Default)]\npub struct Config {\n    pub port: u16,\n}\n";
const MAIN_RS: &str =
    "fn main() {\n    let config = parse_config(\"port = 80\");\n    serve(config.port);\n}\n";

/// A server whose local projects may live under a temporary folder holding a small
/// project; returns the server, the folder (kept alive) and the indexed project's id.
async fn server_with_project() -> (TestServer, tempfile::TempDir, String) {
    let root = tempfile::tempdir().expect("temp dir");
    let folder = root.path().join("demo");
    write(&folder, "src/config.rs", CONFIG_RS);
    write(&folder, "src/main.rs", MAIN_RS);
    write(&folder, "README.md", "# Demo\n\nA demo service.\n");
    let local_root = root.path().display().to_string();
    let server = TestServer::start_with(|c| c.local_roots = vec![local_root]).await;
    let created: Value = reqwest::Client::new()
        .post(server.url("/api/projects"))
        .json(&json!({"source": folder.display().to_string()}))
        .send()
        .await
        .expect("create project")
        .json()
        .await
        .expect("created body");
    let job = wait_job(server.addr, created["job_id"].as_str().expect("job id")).await;
    assert_eq!(
        job.last().map(|p| p.status),
        Some(app::protocol::JobStatus::Completed)
    );
    let id = created["id"].as_str().expect("project id").to_owned();
    (server, root, id)
}

fn ask_in(conversation_id: Uuid, content: &str, project_id: &str) -> ClientMsg {
    let mut msg = ask(conversation_id, content);
    if let ClientMsg::SendMessage { project_id: p, .. } = &mut msg {
        *p = Some(project_id.to_owned());
    }
    msg
}

#[tokio::test]
async fn answers_cite_the_projects_passages_and_store_them() {
    let (server, _root, project_id) = server_with_project().await;
    let mut client = server.connect().await;
    let conversation = Uuid::new_v4();
    client
        .send(&ask_in(
            conversation,
            "Where is parseConfig defined?",
            &project_id,
        ))
        .await;
    let frames = client.recv_until(is_turn_end).await;

    let sources = frames
        .iter()
        .find_map(|f| match &f.msg {
            ServerMsg::MessageSources { sources, .. } => Some(sources.clone()),
            _ => None,
        })
        .expect("message_sources");
    let first = sources.first().expect("at least one source");
    assert_eq!(first.path, "src/config.rs");
    assert_eq!(first.start_line, 1);
    assert!(first.end_line >= 6, "{first:?}");
    assert!(first.snippet.contains("parse_config"));
    // Sources come before the first token.
    let sources_at = frames
        .iter()
        .position(|f| matches!(f.msg, ServerMsg::MessageSources { .. }));
    let first_token_at = frames
        .iter()
        .position(|f| matches!(f.msg, ServerMsg::MessageToken { .. }));
    assert!(sources_at < first_token_at);

    let ServerMsg::MessageComplete {
        content, metadata, ..
    } = &frames.last().expect("end").msg
    else {
        panic!("expected message_complete, got {:?}", frames.last());
    };
    // The offline provider quotes the best source and cites it.
    assert!(
        content.contains("src/config.rs") && content.contains("[1]"),
        "{content}"
    );
    assert!(content.contains("pub fn parse_config"), "{content}");
    assert_eq!(metadata.sources_count as usize, sources.len());

    let stored = server
        .store()
        .await
        .messages(conversation)
        .await
        .expect("messages");
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1].sources, sources);
    let listed: Value =
        reqwest::get(server.url(&format!("/api/chat/conversations/{conversation}")))
            .await
            .expect("get conversation")
            .json()
            .await
            .expect("conversation body");
    assert_eq!(listed["project_id"], project_id.as_str());

    // A follow-up in the same conversation stays in the project without naming it again.
    client.send(&ask(conversation, "and main?")).await;
    let frames = client.recv_until(is_turn_end).await;
    let follow_up_sources = frames.iter().find_map(|f| match &f.msg {
        ServerMsg::MessageSources { sources, .. } => Some(sources.clone()),
        _ => None,
    });
    assert_eq!(
        follow_up_sources
            .and_then(|s| s.first().map(|s| s.path.clone()))
            .as_deref(),
        Some("src/main.rs")
    );
}

#[tokio::test]
async fn a_question_about_one_file_includes_it_and_bad_paths_read_nothing() {
    let (server, _root, project_id) = server_with_project().await;
    let mut client = server.connect().await;

    let conversation = Uuid::new_v4();
    let mut question = ask_in(conversation, "What does this file do?", &project_id);
    if let ClientMsg::SendMessage { file_path, .. } = &mut question {
        *file_path = Some("src/main.rs".into());
    }
    client.send(&question).await;
    let frames = client.recv_until(is_turn_end).await;
    let sources = frames
        .iter()
        .find_map(|f| match &f.msg {
            ServerMsg::MessageSources { sources, .. } => Some(sources.clone()),
            _ => None,
        })
        .expect("sources");
    assert_eq!(sources[0].path, "src/main.rs");
    assert_eq!((sources[0].start_line, sources[0].end_line), (1, 4));

    let conversation = Uuid::new_v4();
    let mut question = ask_in(conversation, "What is in here?", &project_id);
    if let ClientMsg::SendMessage { file_path, .. } = &mut question {
        *file_path = Some("../../etc/passwd".into());
    }
    client.send(&question).await;
    let frames = client.recv_until(is_turn_end).await;
    let all_paths: Vec<String> = frames
        .iter()
        .filter_map(|f| match &f.msg {
            ServerMsg::MessageSources { sources, .. } => {
                Some(sources.iter().map(|s| s.path.clone()).collect::<Vec<_>>())
            }
            _ => None,
        })
        .flatten()
        .collect();
    assert!(all_paths.iter().all(|p| !p.contains("..")), "{all_paths:?}");
}

#[tokio::test]
async fn an_unknown_project_is_refused_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    let conversation = Uuid::new_v4();
    client
        .send(&ask_in(conversation, "Hello?", "no-such-project"))
        .await;
    let error = client
        .recv_until(|m| matches!(m, ServerMsg::Error { .. }))
        .await;
    let ServerMsg::Error { code, message, .. } = &error.last().expect("error").msg else {
        unreachable!()
    };
    assert_eq!(*code, ErrorCode::NotFound);
    assert!(message.contains("no-such-project"), "{message}");
    let store = server.store().await;
    assert!(
        store
            .conversation(conversation)
            .await
            .expect("lookup")
            .is_none()
    );

    let response = reqwest::Client::new()
        .post(server.url("/api/chat/message"))
        .json(&json!({"message": "Hello?", "project_id": "no-such-project"}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 404);
}

#[tokio::test]
async fn the_sync_endpoint_returns_the_sources_with_the_answer() {
    let (server, _root, project_id) = server_with_project().await;
    let body: Value = reqwest::Client::new()
        .post(server.url("/api/chat/message"))
        .json(&json!({"message": "How is the configuration parsed?", "project_id": project_id}))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("body");
    let sources = body["message"]["sources"].as_array().expect("sources");
    assert!(!sources.is_empty(), "{body}");
    assert_eq!(sources[0]["path"], "src/config.rs");
    assert_eq!(
        body["message"]["metadata"]["sources_count"].as_u64(),
        Some(sources.len() as u64)
    );
}

#[tokio::test]
async fn the_seed_chat_socket_indexes_a_local_folder_before_answering() {
    let root = tempfile::tempdir().expect("temp dir");
    let folder = root.path().join("seeded");
    write(&folder, "src/config.rs", CONFIG_RS);
    let local_root = root.path().display().to_string();
    let server = TestServer::start_with(|c| c.local_roots = vec![local_root]).await;

    let ask_seed = || async {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws/chat", server.addr))
            .await
            .expect("connect");
        let request = json!({
            "repo_url": folder.display().to_string(),
            "type": "local",
            "messages": [{"role": "user", "content": "Where is parse_config?"}],
        });
        ws.send(Message::Text(request.to_string().into()))
            .await
            .expect("send");
        let mut answer = String::new();
        loop {
            match tokio::time::timeout(PATIENCE * 3, ws.next())
                .await
                .expect("answer in time")
            {
                Some(Ok(Message::Text(t))) => answer.push_str(&t),
                Some(Ok(Message::Close(frame))) => {
                    assert_eq!(frame.map(|f| u16::from(f.code)), Some(1000));
                    return answer;
                }
                Some(Ok(_)) => {}
                other => panic!("socket ended: {other:?}"),
            }
        }
    };
    let first = ask_seed().await;
    assert!(
        first.contains("src/config.rs") && first.contains("[1]"),
        "{first}"
    );
    // The second request reuses the project rather than creating another.
    let second = ask_seed().await;
    assert_eq!(first, second);
    let projects: Value = reqwest::get(server.url("/api/projects"))
        .await
        .expect("list")
        .json()
        .await
        .expect("list body");
    assert_eq!(projects["total"], 1);
}

#[tokio::test]
async fn the_seed_chat_socket_refuses_a_folder_outside_the_allowed_roots() {
    let allowed = tempfile::tempdir().expect("temp dir");
    let elsewhere = tempfile::tempdir().expect("temp dir");
    write(elsewhere.path(), "secret.rs", "fn secret() {}\n");
    let local_root = allowed.path().display().to_string();
    let server = TestServer::start_with(|c| c.local_roots = vec![local_root]).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws/chat", server.addr))
        .await
        .expect("connect");
    let request = json!({
        "repo_url": elsewhere.path().display().to_string(),
        "type": "local",
        "messages": [{"role": "user", "content": "What is secret?"}],
    });
    ws.send(Message::Text(request.to_string().into()))
        .await
        .expect("send");
    loop {
        match tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("close in time")
        {
            Some(Ok(Message::Text(t))) => panic!("answered from a refused folder: {t}"),
            Some(Ok(Message::Close(frame))) => {
                let frame = frame.expect("close frame");
                assert_eq!(u16::from(frame.code), 1008);
                break;
            }
            Some(Ok(_)) => {}
            other => panic!("socket ended: {other:?}"),
        }
    }
}
