//! The storage layer on every database it supports: SQLite always, PostgreSQL as well
//! when `DATABASE_URL` names one (CI sets it).

use app::protocol::{ChatMessage, FinishReason, MessageMetadata, Role, Source};
use server::storage::{Backend, Store};
use uuid::Uuid;

async fn every_backend() -> Vec<(Store, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = Store::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("t.db").display()
    ))
    .await
    .expect("sqlite");
    let mut stores = vec![(sqlite, Some(dir))];
    if let Ok(url) = std::env::var("DATABASE_URL")
        && url.starts_with("postgres")
    {
        let pg = Store::connect(&url)
            .await
            .expect("DATABASE_URL is set but unreachable");
        assert_eq!(pg.backend(), Backend::Postgres);
        stores.push((pg, None));
    }
    stores
}

fn message(conversation_id: Uuid, role: Role, content: &str, at: u64) -> ChatMessage {
    ChatMessage {
        id: Uuid::new_v4(),
        conversation_id,
        role,
        content: content.into(),
        sources: vec![],
        metadata: None,
        client_msg_id: None,
        created_at: at,
    }
}

#[tokio::test]
async fn conversations_and_messages_round_trip() {
    for (store, _dir) in every_backend().await {
        let backend = store.backend();
        let id = Uuid::new_v4();
        assert!(
            store
                .ensure_conversation(id, "First question", 10)
                .await
                .expect("create")
        );
        assert!(
            !store
                .ensure_conversation(id, "ignored", 11)
                .await
                .expect("again"),
            "{backend:?}"
        );

        let question = ChatMessage {
            client_msg_id: Some("c-1".into()),
            ..message(id, Role::User, "Where is main?", 10)
        };
        // Same millisecond: order must still be the order of writing.
        let answer = ChatMessage {
            sources: vec![Source {
                id: "s1".into(),
                path: "src/main.rs".into(),
                start_line: 1,
                end_line: 4,
                snippet: "fn main()".into(),
                score: 0.9,
            }],
            metadata: Some(MessageMetadata {
                provider: "offline".into(),
                model: "extractive".into(),
                finish_reason: FinishReason::Stopped,
                sources_count: 1,
                prompt_tokens: Some(3),
                completion_tokens: None,
                time_to_first_token_ms: Some(2),
                duration_ms: 40,
                research_iterations: None,
            }),
            ..message(id, Role::Assistant, "In src/main.rs [1]", 10)
        };
        store
            .insert_message(&question)
            .await
            .expect("insert question");
        store.insert_message(&answer).await.expect("insert answer");

        let stored = store.messages(id).await.expect("read");
        assert_eq!(stored, vec![question, answer], "{backend:?}");
        let conversation = store.conversation(id).await.expect("read").expect("exists");
        assert_eq!(conversation.title, "First question");
        assert_eq!(conversation.updated_at, 10);
        assert!(
            store
                .messages(Uuid::new_v4())
                .await
                .expect("read")
                .is_empty()
        );
        store.ping().await.expect("ping");
    }
}

#[tokio::test]
async fn a_message_for_an_unknown_conversation_is_refused() {
    for (store, _dir) in every_backend().await {
        let orphan = message(Uuid::new_v4(), Role::User, "lost", 1);
        assert!(
            store.insert_message(&orphan).await.is_err(),
            "{:?}",
            store.backend()
        );
    }
}
