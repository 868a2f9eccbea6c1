//! Editing a question and browsing versions, over `/ws` and REST, seen live by every
//! client in the room, and stored alike on every database.

use crate::common;
use crate::storage::every_backend;

use app::protocol::{ChatMessage, ClientMsg, Role, ServerMsg, rooms};
use common::{TestServer, ask, is_turn_end};
use uuid::Uuid;

fn shown_ids(messages: &[ChatMessage]) -> Vec<Uuid> {
    messages.iter().map(|m| m.id).collect()
}

/// The answer that ended the turn in `frames`.
fn answer_of(frames: &[app::protocol::ServerFrame]) -> Uuid {
    match frames.last().map(|f| &f.msg) {
        Some(ServerMsg::MessageComplete { message_id, .. }) => *message_id,
        other => panic!("expected a completed answer, got {other:?}"),
    }
}

fn question_of(frames: &[app::protocol::ServerFrame]) -> Uuid {
    frames
        .iter()
        .find_map(|f| match &f.msg {
            ServerMsg::MessageReceived { message, .. } => Some(message.id),
            _ => None,
        })
        .expect("the question was echoed")
}

fn branch_shown(frames: &[app::protocol::ServerFrame]) -> Vec<ChatMessage> {
    frames
        .iter()
        .find_map(|f| match &f.msg {
            ServerMsg::BranchShown { messages, .. } => Some(messages.clone()),
            _ => None,
        })
        .expect("branch_shown was published")
}

#[tokio::test]
async fn an_edited_question_starts_a_branch_that_every_client_sees_and_versions_switch_back() {
    let server = TestServer::start().await;
    let mut asker = server.connect().await;
    let mut watcher = server.connect().await;
    let id = Uuid::new_v4();
    asker.send(&ask(id, "What is the hub?")).await;
    let first = asker.recv_until(is_turn_end).await;
    let (q1, a1) = (question_of(&first), answer_of(&first));
    asker.send(&ask(id, "How are rooms named?")).await;
    let second = asker.recv_until(is_turn_end).await;
    let (q2, a2) = (question_of(&second), answer_of(&second));

    watcher
        .send(&ClientMsg::Join {
            room: rooms::conversation(id),
            since_seq: None,
        })
        .await;
    watcher
        .recv_until(|m| matches!(m, ServerMsg::Joined { .. }))
        .await;

    asker
        .send(&ClientMsg::EditMessage {
            conversation_id: id,
            message_id: q2,
            content: "How are rooms joined?".into(),
            client_msg_id: "edit-1".into(),
            provider: None,
            model: None,
        })
        .await;
    let edited = asker.recv_until(is_turn_end).await;
    let seen = watcher.recv_until(is_turn_end).await;
    let shown = branch_shown(&seen);
    assert_eq!(
        shown,
        branch_shown(&edited),
        "both clients see the same branch"
    );
    assert_eq!(
        shown.len(),
        3,
        "the old question and its answer left the view"
    );
    assert_eq!(shown_ids(&shown[..2]), vec![q1, a1]);
    let q2_edited = shown[2].id;
    assert_eq!(shown[2].content, "How are rooms joined?");
    assert_eq!(shown[2].versions, vec![q2, q2_edited]);
    let a3 = answer_of(&seen);

    let store = server.store().await;
    let stored = store.shown_messages(id).await.expect("read");
    assert_eq!(shown_ids(&stored), vec![q1, a1, q2_edited, a3]);

    // Back to the first version: its branch, with its own answer, is shown again.
    watcher
        .send(&ClientMsg::ShowVersion {
            conversation_id: id,
            message_id: q2,
        })
        .await;
    let switched = asker
        .recv_until(|m| matches!(m, ServerMsg::BranchShown { .. }))
        .await;
    let shown = branch_shown(&switched);
    assert_eq!(shown_ids(&shown), vec![q1, a1, q2, a2]);
    assert_eq!(shown[2].versions, vec![q2, q2_edited]);
    assert!(shown[3].versions.is_empty());
    let stored = store.shown_messages(id).await.expect("read");
    assert_eq!(shown_ids(&stored), vec![q1, a1, q2, a2]);

    // The prompt follows the branch shown: a new question continues from a2.
    asker.send(&ask(id, "And leaving?")).await;
    let third = asker.recv_until(is_turn_end).await;
    let stored = store.shown_messages(id).await.expect("read");
    assert_eq!(
        shown_ids(&stored),
        vec![q1, a1, q2, a2, question_of(&third), answer_of(&third)]
    );
}

#[tokio::test]
async fn rest_edits_and_switches_versions_and_refuses_what_it_cannot() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    let id = Uuid::new_v4();
    client.send(&ask(id, "What is the hub?")).await;
    let first = client.recv_until(is_turn_end).await;
    let (q1, a1) = (question_of(&first), answer_of(&first));
    let http = reqwest::Client::new();
    let edit_url = |message: Uuid| {
        server.url(&format!(
            "/api/chat/conversations/{id}/messages/{message}/edit"
        ))
    };
    let show_url = |message: Uuid| {
        server.url(&format!(
            "/api/chat/conversations/{id}/messages/{message}/show"
        ))
    };

    // An answer is not a question; an empty edit is not a question either.
    let response = http
        .post(edit_url(a1))
        .json(&serde_json::json!({"content": "x"}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 400);
    let response = http
        .post(edit_url(q1))
        .json(&serde_json::json!({"content": "  "}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 400);

    let response = http
        .post(edit_url(q1))
        .json(&serde_json::json!({"content": "What is a room?"}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 202);
    let question: ChatMessage = response.json().await.expect("the stored question");
    assert_eq!(question.role, Role::User);
    assert_eq!(question.versions, vec![q1, question.id]);
    // The socket, a member of the room, sees the new branch answered.
    client.recv_until(is_turn_end).await;

    let response = http.post(show_url(q1)).send().await.expect("send");
    assert_eq!(response.status(), 200);
    let shown: Vec<ChatMessage> = response.json().await.expect("shown");
    assert_eq!(shown_ids(&shown), vec![q1, a1]);

    let listed: serde_json::Value = http
        .get(server.url(&format!("/api/chat/conversations/{id}/messages")))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        listed["items"][0]["versions"],
        serde_json::json!([q1, question.id]),
        "listed messages carry their versions"
    );

    let response = http
        .post(show_url(Uuid::new_v4()))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 404);
    let response = http
        .post(server.url(&format!(
            "/api/chat/conversations/{id}/messages/not-a-uuid/show"
        )))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn branches_are_stored_alike_on_every_database() {
    for (store, _dir) in every_backend().await {
        let backend = store.backend();
        let id = Uuid::new_v4();
        store
            .ensure_conversation(id, None, "Branches", 1)
            .await
            .expect("create");
        let message = |role: Role, content: &str| ChatMessage {
            id: Uuid::new_v4(),
            conversation_id: id,
            role,
            content: content.into(),
            sources: vec![],
            metadata: None,
            client_msg_id: None,
            created_at: 2,
            versions: Vec::new(),
        };
        let q1 = message(Role::User, "Q1");
        let a1 = message(Role::Assistant, "A1");
        for m in [&q1, &a1] {
            store.insert_message(m).await.expect("insert");
        }
        // A regenerated answer is stored while the old one is still shown.
        let a1_again = message(Role::Assistant, "A1 again");
        store.insert_message(&a1_again).await.expect("insert");
        store
            .supersede_message(a1.id, a1_again.id)
            .await
            .expect("supersede");
        let q2 = message(Role::User, "Q2");
        store.insert_message(&q2).await.expect("insert");

        let shown = store.shown_messages(id).await.expect("read");
        assert_eq!(
            shown_ids(&shown),
            vec![q1.id, a1_again.id, q2.id],
            "{backend:?}"
        );
        assert_eq!(shown[1].versions, vec![a1.id, a1_again.id], "{backend:?}");

        let q2_edited = message(Role::User, "Q2 edited");
        assert!(
            !store
                .insert_edited_question(&q2_edited, a1_again.id)
                .await
                .expect("edit"),
            "an answer cannot be edited ({backend:?})"
        );
        assert!(
            store
                .insert_edited_question(&q2_edited, q2.id)
                .await
                .expect("edit")
        );
        let shown = store.shown_messages(id).await.expect("read");
        assert_eq!(
            shown_ids(&shown),
            vec![q1.id, a1_again.id, q2_edited.id],
            "{backend:?}"
        );
        assert_eq!(shown[2].versions, vec![q2.id, q2_edited.id], "{backend:?}");

        // The first answer's branch ends where it did: no question followed it.
        assert!(store.show_version(id, a1.id).await.expect("show"));
        let shown = store.shown_messages(id).await.expect("read");
        assert_eq!(shown_ids(&shown), vec![q1.id, a1.id], "{backend:?}");
        assert!(store.show_version(id, q2.id).await.expect("show"));
        let shown = store.shown_messages(id).await.expect("read");
        assert_eq!(
            shown_ids(&shown),
            vec![q1.id, a1_again.id, q2.id],
            "{backend:?}"
        );
        assert!(!store.show_version(id, Uuid::new_v4()).await.expect("show"));
    }
}
