//! The storage layer on every database it supports: SQLite always, PostgreSQL as well
//! when `DATABASE_URL` names one (CI sets it).

use app::protocol::{ChatMessage, FinishReason, MessageMetadata, Role, Source};
use server::storage::{Backend, Checkpoint, Existence, Store, TurnWrite, TurnWritten};
use uuid::Uuid;

/// A fresh SQLite store, and the PostgreSQL at `DATABASE_URL` when one is named there;
/// the temp dir keeps the SQLite file alive.
pub async fn every_backend() -> Vec<(Store, Option<tempfile::TempDir>)> {
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

/// The answers in `conversations` that have a checkpoint (PostgreSQL's database is
/// shared by the tests running beside this one).
async fn checkpointed(store: &Store, conversations: &[Uuid]) -> Vec<Uuid> {
    let saved = store.checkpoints().await.expect("read checkpoints");
    saved
        .iter()
        .filter(|c| conversations.contains(&c.conversation_id))
        .map(|c| c.message_id)
        .collect()
}

/// One write in a transaction of its own.
async fn write(store: &Store, write: TurnWrite) -> TurnWritten {
    let written = store.write_turns(&[write]).await.expect("write");
    written.into_iter().next().expect("its outcome")
}

/// `question` asked (its content is the conversation's title), with its answer's first
/// checkpoint.
fn ask(question: &ChatMessage, project_id: Option<&str>, answer: Checkpoint) -> TurnWrite {
    TurnWrite::Question {
        question: question.clone(),
        project_id: project_id.map(str::to_owned),
        title: question.content.clone(),
        answer: Box::new(answer),
    }
}

/// The first checkpoint of `answer`, as a question stores it.
fn started(answer: &ChatMessage) -> Checkpoint {
    Checkpoint::started(
        answer.id,
        answer.conversation_id,
        "test".into(),
        "offline".into(),
        "extractive".into(),
        answer.created_at,
    )
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
        versions: Vec::new(),
    }
}

#[tokio::test]
async fn conversations_and_messages_round_trip() {
    for (store, _dir) in every_backend().await {
        let backend = store.backend();
        let id = Uuid::new_v4();
        assert_eq!(
            store
                .ensure_conversation(id, Some("p1"), "First question", 10)
                .await
                .expect("create"),
            Existence::Created
        );
        assert_eq!(
            store
                .ensure_conversation(id, None, "ignored", 11)
                .await
                .expect("again"),
            Existence::Existing,
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
        assert_eq!(conversation.project_id.as_deref(), Some("p1"));
        assert_eq!(conversation.message_count, 2);
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
async fn a_question_and_its_answer_are_each_stored_in_one_step() {
    for (store, _dir) in every_backend().await {
        let backend = store.backend();
        let id = Uuid::new_v4();
        let question = message(id, Role::User, "Where is main?", 20);
        let first = message(id, Role::Assistant, "In src/main.rs", 21);
        assert_eq!(
            write(&store, ask(&question, Some("p1"), started(&first))).await,
            TurnWritten::Question(Existence::Created),
            "{backend:?}"
        );
        let conversation = store
            .conversation(id)
            .await
            .expect("read")
            .expect("created");
        assert_eq!(
            (conversation.title.as_str(), conversation.message_count),
            ("Where is main?", 1)
        );

        // The question's commit holds its answer's first checkpoint.
        assert_eq!(
            checkpointed(&store, &[id]).await,
            vec![first.id],
            "{backend:?}"
        );

        // The first answer, then a regenerated one that replaces it; each drops its own
        // checkpoint and no other.
        let again = message(id, Role::Assistant, "In src/main.rs, line 1", 22);
        let checkpoint = |answer: &ChatMessage| Checkpoint {
            content: "In src".into(),
            ..started(answer)
        };
        store
            .write_turns(&[
                TurnWrite::Checkpoint(checkpoint(&first)),
                TurnWrite::Checkpoint(checkpoint(&again)),
            ])
            .await
            .expect("checkpoints");
        let answered = |answer: &ChatMessage, replaces| TurnWrite::Answer {
            answer: answer.clone(),
            replaces,
        };
        write(&store, answered(&first, None)).await;
        assert_eq!(
            checkpointed(&store, &[id]).await,
            vec![again.id],
            "{backend:?}"
        );
        write(&store, answered(&again, Some(first.id))).await;
        assert!(checkpointed(&store, &[id]).await.is_empty(), "{backend:?}");
        let shown: Vec<Uuid> = store
            .messages(id)
            .await
            .expect("read")
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(shown, vec![question.id, again.id], "{backend:?}");
        let touched = store.conversation(id).await.expect("read").expect("exists");
        assert_eq!(touched.updated_at, 22, "{backend:?}");

        // A deleted conversation takes no question.
        assert!(store.delete_conversation(id, 30).await.expect("delete"));
        let late = message(id, Role::User, "Still there?", 31);
        let unanswered = message(id, Role::Assistant, "", 31);
        assert_eq!(
            write(&store, ask(&late, None, started(&unanswered))).await,
            TurnWritten::Question(Existence::Deleted),
            "{backend:?}"
        );
        assert!(checkpointed(&store, &[id]).await.is_empty(), "{backend:?}");
        assert!(
            !store
                .messages(id)
                .await
                .expect("read")
                .iter()
                .any(|m| m.id == late.id),
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn turn_writes_share_one_commit_and_fail_together() {
    for (store, _dir) in every_backend().await {
        let backend = store.backend();
        let id = Uuid::new_v4();
        let question = message(id, Role::User, "Where is main?", 40);
        let answer = message(id, Role::Assistant, "In src/main.rs", 41);
        let written = store
            .write_turns(&[
                ask(&question, None, started(&answer)),
                TurnWrite::Checkpoint(Checkpoint {
                    content: "In src".into(),
                    ..started(&answer)
                }),
                TurnWrite::Answer {
                    answer: answer.clone(),
                    replaces: None,
                },
            ])
            .await
            .expect("one batch");
        assert_eq!(
            written,
            vec![
                TurnWritten::Question(Existence::Created),
                TurnWritten::Checkpoint,
                TurnWritten::Answer
            ],
            "{backend:?}"
        );
        assert_eq!(
            store.messages(id).await.expect("read"),
            vec![question, answer],
            "{backend:?}"
        );
        assert!(checkpointed(&store, &[id]).await.is_empty(), "{backend:?}");

        // An answer in a conversation that does not exist fails the batch: the question
        // before it is not stored either.
        let other = Uuid::new_v4();
        let unasked = message(other, Role::User, "Lost?", 42);
        let orphan_conversation = Uuid::new_v4();
        let orphan = message(orphan_conversation, Role::Assistant, "nowhere", 43);
        let failed = store
            .write_turns(&[
                ask(&unasked, None, started(&orphan)),
                TurnWrite::Answer {
                    answer: orphan,
                    replaces: None,
                },
            ])
            .await;
        assert!(failed.is_err(), "{backend:?}");
        assert!(
            store.conversation(other).await.expect("read").is_none(),
            "{backend:?}"
        );
        let orphaned = [other, orphan_conversation];
        assert!(
            checkpointed(&store, &orphaned).await.is_empty(),
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn a_burst_of_turns_keeps_each_answers_last_checkpoint_until_its_answer() {
    for (store, _dir) in every_backend().await {
        let backend = store.backend();
        // More answers than one statement saves, as when a hundred questions arrive at once.
        let turns: Vec<(ChatMessage, ChatMessage)> = (0..100)
            .map(|n| {
                let id = Uuid::new_v4();
                let question = message(id, Role::User, &format!("question {n}"), 50 + n);
                let answer = message(id, Role::Assistant, &format!("answer {n}"), 51 + n);
                (question, answer)
            })
            .collect();
        let asked: Vec<TurnWrite> = turns
            .iter()
            .map(|(question, answer)| ask(question, None, started(answer)))
            .collect();
        store.write_turns(&asked).await.expect("questions");

        // Every answer saves; the first one twice in the same batch, the later text last.
        let so_far = |answer: &ChatMessage, text: &str| {
            TurnWrite::Checkpoint(Checkpoint {
                content: text.into(),
                updated_at: answer.created_at + 1,
                ..started(answer)
            })
        };
        let mut saves: Vec<TurnWrite> = turns
            .iter()
            .map(|(_, answer)| so_far(answer, &format!("{} so far", answer.content)))
            .collect();
        saves.push(so_far(&turns[0].1, "answer 0 further"));
        let written = store.write_turns(&saves).await.expect("checkpoints");
        assert_eq!(written.len(), 101, "{backend:?}");
        let conversations: Vec<Uuid> = turns.iter().map(|(q, _)| q.conversation_id).collect();
        let ours = |saved: Vec<Checkpoint>| -> Vec<Checkpoint> {
            saved
                .into_iter()
                .filter(|c| conversations.contains(&c.conversation_id))
                .collect()
        };
        let saved = ours(store.checkpoints().await.expect("read"));
        assert_eq!(saved.len(), 100, "{backend:?}");
        for (_, answer) in &turns {
            let checkpoint = saved
                .iter()
                .find(|c| c.message_id == answer.id)
                .expect("each answer's checkpoint");
            let expected = if answer.id == turns[0].1.id {
                "answer 0 further".to_owned()
            } else {
                format!("{} so far", answer.content)
            };
            assert_eq!(checkpoint.content, expected, "{backend:?}");
            assert_eq!(checkpoint.started_at, answer.created_at, "{backend:?}");
        }

        // Half the answers end, in a batch with the others' next checkpoints.
        let ends: Vec<TurnWrite> = turns
            .iter()
            .enumerate()
            .map(|(n, (_, answer))| match n % 2 {
                0 => TurnWrite::Answer {
                    answer: answer.clone(),
                    replaces: None,
                },
                _ => so_far(answer, "still going"),
            })
            .collect();
        store.write_turns(&ends).await.expect("answers");
        let saved = ours(store.checkpoints().await.expect("read"));
        assert_eq!(saved.len(), 50, "{backend:?}");
        assert!(
            saved.iter().all(|c| c.content == "still going"),
            "{backend:?}"
        );
        for (n, (question, answer)) in turns.iter().enumerate() {
            let stored = store
                .messages(question.conversation_id)
                .await
                .expect("read");
            let expected = match n % 2 {
                0 => vec![question.clone(), answer.clone()],
                _ => vec![question.clone()],
            };
            assert_eq!(stored, expected, "{backend:?}");
        }

        // The rest end too: no checkpoint is left for another test's server to recover.
        let rest: Vec<TurnWrite> = turns
            .iter()
            .skip(1)
            .step_by(2)
            .map(|(_, answer)| TurnWrite::Answer {
                answer: answer.clone(),
                replaces: None,
            })
            .collect();
        store.write_turns(&rest).await.expect("answers");
        assert!(
            checkpointed(&store, &conversations).await.is_empty(),
            "{backend:?}"
        );
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

#[tokio::test]
async fn conversations_list_filter_page_rename_delete_and_trim() {
    for (store, _dir) in every_backend().await {
        let backend = store.backend();
        // A project id of its own keeps this run apart from others on a shared database.
        let project = Uuid::new_v4().to_string();
        let mut ids = Vec::new();
        for (n, title) in [
            "Parsing config",
            "Build 100% green",
            "parsing_flags",
            "Deploy",
        ]
        .iter()
        .enumerate()
        {
            let id = Uuid::new_v4();
            store
                .ensure_conversation(id, Some(&project), title, 100 + n as u64)
                .await
                .expect("create");
            ids.push(id);
        }
        let all = store
            .conversations(Some(&project), None, 10, 0)
            .await
            .expect("list");
        assert_eq!(all.total, 4, "{backend:?}");
        assert_eq!(all.items[0].title, "Deploy", "newest first");
        let parsing = store
            .conversations(Some(&project), Some("PARSING"), 10, 0)
            .await
            .expect("search");
        assert_eq!(parsing.total, 2, "{backend:?}");
        let literal = store
            .conversations(Some(&project), Some("100%"), 10, 0)
            .await
            .expect("search");
        assert_eq!(literal.total, 1, "% is literal ({backend:?})");
        let underscore = store
            .conversations(Some(&project), Some("g_f"), 10, 0)
            .await
            .expect("search");
        assert_eq!(underscore.total, 1, "_ is literal ({backend:?})");
        let page = store
            .conversations(Some(&project), None, 2, 3)
            .await
            .expect("page");
        assert_eq!((page.total, page.items.len()), (4, 1));
        assert!(
            store
                .conversations(Some(&project), None, 2, 10)
                .await
                .expect("past the end")
                .items
                .is_empty()
        );

        assert!(
            store
                .rename_conversation(ids[0], "Renamed", 200)
                .await
                .expect("rename")
        );
        assert!(
            store
                .delete_conversation(ids[1], 201)
                .await
                .expect("delete")
        );
        assert!(!store.delete_conversation(ids[1], 202).await.expect("twice"));
        assert!(
            !store
                .rename_conversation(ids[1], "x", 203)
                .await
                .expect("deleted")
        );
        assert!(store.conversation(ids[1]).await.expect("get").is_none());
        assert_eq!(
            store
                .ensure_conversation(ids[1], None, "again", 204)
                .await
                .expect("ensure"),
            Existence::Deleted
        );
        let after = store
            .conversations(Some(&project), None, 10, 0)
            .await
            .expect("list");
        assert_eq!(after.total, 3);
        assert_eq!(after.items[0].title, "Renamed");

        for n in 0..5 {
            store
                .insert_message(&message(ids[2], Role::User, &format!("m{n}"), 300 + n))
                .await
                .expect("insert");
        }
        let page = store.messages_page(ids[2], 2, 1).await.expect("page");
        assert_eq!(page.total, 5);
        assert_eq!(
            page.items
                .iter()
                .map(|m| m.content.as_str())
                .collect::<Vec<_>>(),
            vec!["m1", "m2"]
        );
        assert_eq!(store.trim_messages(ids[2], 2).await.expect("trim"), (3, 2));
        let left: Vec<_> = store
            .messages(ids[2])
            .await
            .expect("read")
            .into_iter()
            .map(|m| m.content)
            .collect();
        assert_eq!(left, vec!["m3", "m4"]);
        let stats = store.chat_stats().await.expect("stats");
        assert!(
            stats.conversations >= 3 && stats.user_messages >= 2,
            "{stats:?}"
        );
    }
}

#[tokio::test]
async fn sqlites_log_reaches_the_database_file_without_a_commit_waiting_for_it() {
    use sqlx::Connection;

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("t.db");
    let store = Store::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .expect("sqlite");
    let id = Uuid::new_v4();
    let question = message(id, Role::User, "Where is main?", 60);
    let answer = message(id, Role::Assistant, "", 61);
    write(&store, ask(&question, None, started(&answer))).await;

    // The file alone, as if the log were gone: the question is there once the store's
    // background checkpoint has copied it (about a second).
    let file_alone = format!("sqlite://{}?immutable=true", path.display());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut file = sqlx::AnyConnection::connect(&file_alone)
            .await
            .expect("open the file alone");
        // Before the first checkpoint the file holds not even the tables.
        let found: Result<(i64,), _> =
            sqlx::query_as("SELECT COUNT(*) FROM messages WHERE id = $1")
                .bind(question.id.to_string())
                .fetch_one(&mut file)
                .await;
        if matches!(found, Ok((1,))) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the log was never checkpointed: {found:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    store.close().await;
}
