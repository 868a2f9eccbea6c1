//! The application socket end to end: a real server, a real WebSocket client.

use crate::common;

use app::protocol::{ClientMsg, ErrorCode, FinishReason, Role, ServerMsg, rooms};
use common::{TestServer, ask, is_turn_end, streamed_text};
use uuid::Uuid;

#[tokio::test]
async fn ping_is_answered_with_pong() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client.send(&ClientMsg::Ping { t: 1234 }).await;
    match client.recv().await.msg {
        ServerMsg::Pong { t, server_time } => {
            assert_eq!(t, 1234);
            assert!(server_time > 1_600_000_000_000);
        }
        other => panic!("expected pong, got {other:?}"),
    }
}

#[tokio::test]
async fn a_chat_turn_streams_in_order_and_stores_both_messages() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    let conversation_id = Uuid::new_v4();
    client
        .send(&ask(conversation_id, "What does this repository do?"))
        .await;

    let frames = client.recv_until(is_turn_end).await;
    let room = rooms::conversation(conversation_id);
    let events: Vec<_> = frames.iter().filter(|f| f.seq.is_some()).collect();
    // Every room event carries the room and consecutive sequence numbers.
    assert!(
        events
            .iter()
            .all(|f| f.room.as_deref() == Some(room.as_str()))
    );
    let seqs: Vec<u64> = events.iter().filter_map(|f| f.seq).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");

    assert!(
        matches!(&events[0].msg, ServerMsg::MessageReceived { message, .. }
        if message.role == Role::User && message.content == "What does this repository do?")
    );
    assert!(matches!(events[1].msg, ServerMsg::MessageSources { .. }));
    assert!(matches!(events[2].msg, ServerMsg::MessageToken { .. }));
    let ServerMsg::MessageComplete {
        content,
        metadata,
        message_id,
        ..
    } = &events.last().expect("end").msg
    else {
        panic!("turn did not complete: {:?}", events.last());
    };
    assert_eq!(&streamed_text(&frames), content);
    assert!(content.contains("offline provider"));
    assert_eq!(metadata.provider, "offline");
    assert_eq!(metadata.finish_reason, FinishReason::Completed);
    assert!(metadata.time_to_first_token_ms.is_some());

    let stored = server
        .store()
        .await
        .messages(conversation_id)
        .await
        .expect("read");
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].role, Role::User);
    assert_eq!(stored[1].role, Role::Assistant);
    assert_eq!(&stored[1].id, message_id);
    assert_eq!(&stored[1].content, content);
    assert_eq!(
        stored[1].metadata.as_ref().map(|m| m.finish_reason),
        Some(FinishReason::Completed)
    );
    let conversation = server
        .store()
        .await
        .conversation(conversation_id)
        .await
        .expect("read")
        .expect("conversation created by its first message");
    assert_eq!(conversation.title, "What does this repository do?");
}

#[tokio::test]
async fn bad_frames_get_error_events_and_the_socket_stays_usable() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    let cases = [
        ("{not json", ErrorCode::InvalidFrame),
        (r#"{"type":"teleport"}"#, ErrorCode::UnknownType),
        (
            r#"{"type":"send_message","content":"hi"}"#,
            ErrorCode::InvalidField,
        ),
        (r#"{"type":"join","room":"lobby"}"#, ErrorCode::InvalidField),
    ];
    for (text, expected) in cases {
        client.send_text(text).await;
        match client.recv().await.msg {
            ServerMsg::Error { code, message, .. } => {
                assert_eq!(code, expected, "{text}: {message}");
                assert!(!message.is_empty());
            }
            other => panic!("{text}: expected an error event, got {other:?}"),
        }
    }
    let mut empty = ask(Uuid::new_v4(), "   ");
    if let ClientMsg::SendMessage { client_msg_id, .. } = &mut empty {
        *client_msg_id = "empty-1".into();
    }
    client.send(&empty).await;
    let frames = client
        .recv_until(|m| matches!(m, ServerMsg::Error { .. }))
        .await;
    assert!(matches!(&frames.last().expect("error").msg,
        ServerMsg::Error { code: ErrorCode::InvalidField, reference: Some(r), .. } if r == "empty-1"));

    client.send(&ClientMsg::Ping { t: 7 }).await;
    assert!(matches!(
        client.recv().await.msg,
        ServerMsg::Pong { t: 7, .. }
    ));
}

#[tokio::test]
async fn an_oversized_frame_closes_the_socket_with_1009() {
    let server = TestServer::start_with(|c| c.max_frame_bytes = 1024).await;
    let mut client = server.connect().await;
    client
        .send_text(&format!(
            r#"{{"type":"ping","t":1,"pad":"{}"}}"#,
            "x".repeat(2048)
        ))
        .await;
    let close = client.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1009);

    // Nothing else is affected.
    let mut other = server.connect().await;
    other.send(&ClientMsg::Ping { t: 1 }).await;
    assert!(matches!(other.recv().await.msg, ServerMsg::Pong { .. }));
}

#[tokio::test]
async fn a_second_question_while_answering_is_refused_as_busy() {
    let server = TestServer::start_with(|c| c.offline_tokens_per_sec = 20.0).await;
    let mut client = server.connect().await;
    let id = Uuid::new_v4();
    client.send(&ask(id, "first")).await;
    client
        .recv_until(|m| matches!(m, ServerMsg::MessageToken { .. }))
        .await;
    client.send(&ask(id, "second")).await;
    client
        .recv_until(|m| {
            matches!(
                m,
                ServerMsg::Error {
                    code: ErrorCode::Busy,
                    ..
                }
            )
        })
        .await;
    client
        .send(&ClientMsg::Stop {
            conversation_id: id,
        })
        .await;
    client.recv_until(is_turn_end).await;
}

#[tokio::test]
async fn stop_keeps_the_partial_answer_marked_stopped() {
    let server = TestServer::start_with(|c| c.offline_tokens_per_sec = 20.0).await;
    let mut client = server.connect().await;
    let id = Uuid::new_v4();
    client.send(&ask(id, "Tell me everything")).await;
    let mut frames = client
        .recv_until(|m| matches!(m, ServerMsg::MessageToken { .. }))
        .await;
    client
        .send(&ClientMsg::Stop {
            conversation_id: id,
        })
        .await;
    frames.extend(client.recv_until(is_turn_end).await);

    let ServerMsg::MessageComplete {
        content, metadata, ..
    } = &frames.last().expect("end").msg
    else {
        panic!("expected message_complete");
    };
    assert_eq!(metadata.finish_reason, FinishReason::Stopped);
    assert_eq!(content, &streamed_text(&frames));
    assert!(!content.is_empty());
    let stored = server.store().await.messages(id).await.expect("read");
    assert_eq!(stored[1].content, *content);
    assert_eq!(
        stored[1].metadata.as_ref().map(|m| m.finish_reason),
        Some(FinishReason::Stopped)
    );
}

#[tokio::test]
async fn a_client_that_drops_mid_answer_resumes_with_identical_text() {
    let server = TestServer::start_with(|c| c.offline_tokens_per_sec = 60.0).await;
    let id = Uuid::new_v4();
    let room = rooms::conversation(id);

    let mut watcher = server.connect().await;
    watcher
        .send(&ClientMsg::Join {
            room: room.clone(),
            since_seq: None,
        })
        .await;
    watcher
        .recv_until(|m| matches!(m, ServerMsg::Joined { .. }))
        .await;

    let mut dropper = server.connect().await;
    dropper.send(&ask(id, "Explain the architecture")).await;
    let before = dropper
        .recv_until(|m| matches!(m, ServerMsg::MessageToken { .. }))
        .await;
    let last_seen = before
        .iter()
        .filter_map(|f| f.seq)
        .max()
        .expect("sequenced");
    dropper.close().await;

    let mut resumed = server.connect().await;
    resumed
        .send(&ClientMsg::Join {
            room,
            since_seq: Some(last_seen),
        })
        .await;
    let after = resumed.recv_until(is_turn_end).await;
    assert!(
        after.iter().filter_map(|f| f.seq).all(|s| s > last_seen),
        "nothing seen before is sent again"
    );

    let watched = watcher.recv_until(is_turn_end).await;
    let resumed_text = streamed_text(&before) + &streamed_text(&after);
    assert_eq!(resumed_text, streamed_text(&watched));
    assert!(matches!(&watched.last().expect("end").msg,
        ServerMsg::MessageComplete { content, .. } if *content == resumed_text));
}

#[tokio::test]
async fn a_fresh_join_mid_answer_gets_a_snapshot_then_the_rest_live() {
    let server = TestServer::start_with(|c| c.offline_tokens_per_sec = 60.0).await;
    let id = Uuid::new_v4();
    let mut asker = server.connect().await;
    asker.send(&ask(id, "Walk me through main")).await;
    asker
        .recv_until(|m| matches!(m, ServerMsg::MessageToken { .. }))
        .await;
    asker
        .recv_until(|m| matches!(m, ServerMsg::MessageToken { .. }))
        .await;

    let mut late = server.connect().await;
    late.send(&ClientMsg::Join {
        room: rooms::conversation(id),
        since_seq: Some(0),
    })
    .await;
    let frames = late.recv_until(is_turn_end).await;
    let snapshot = frames
        .iter()
        .find_map(|f| match &f.msg {
            ServerMsg::Snapshot {
                messages,
                in_progress,
                last_seq,
                ..
            } => Some((messages.clone(), in_progress.clone(), *last_seq)),
            _ => None,
        })
        .expect("a snapshot");
    let (messages, in_progress, last_seq) = snapshot;
    assert_eq!(messages.len(), 1, "the question is stored");
    assert!(frames.iter().filter_map(|f| f.seq).all(|s| s > last_seq));
    let so_far = in_progress.map(|p| p.content).unwrap_or_default();
    let ServerMsg::MessageComplete { content, .. } = &frames.last().expect("end").msg else {
        panic!("expected completion");
    };
    assert_eq!(so_far + &streamed_text(&frames), *content);
}

#[tokio::test]
async fn shutdown_closes_sockets_with_going_away() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    server.shutdown.cancel();
    let close = client.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1001);
}

#[tokio::test]
async fn regenerate_replaces_the_last_answer_and_keeps_the_old_one_as_a_version() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    let id = Uuid::new_v4();
    client.send(&ask(id, "Explain the hub")).await;
    let first = client.recv_until(is_turn_end).await;
    let ServerMsg::MessageComplete {
        message_id: old, ..
    } = first.last().expect("end").msg
    else {
        panic!("expected completion");
    };

    // Only the last answer can be regenerated.
    client
        .send(&ClientMsg::Regenerate {
            conversation_id: id,
            message_id: Uuid::new_v4(),
        })
        .await;
    client
        .recv_until(|m| {
            matches!(
                m,
                ServerMsg::Error {
                    code: ErrorCode::InvalidField,
                    ..
                }
            )
        })
        .await;

    client
        .send(&ClientMsg::Regenerate {
            conversation_id: id,
            message_id: old,
        })
        .await;
    let second = client.recv_until(is_turn_end).await;
    let replaced = second.iter().find_map(|f| match f.msg {
        ServerMsg::MessageReplaced {
            old_message_id,
            new_message_id,
            ..
        } => Some((old_message_id, new_message_id)),
        _ => None,
    });
    let ServerMsg::MessageComplete {
        message_id: new,
        ref content,
        ..
    } = second.last().expect("end").msg
    else {
        panic!("expected completion");
    };
    assert_eq!(replaced, Some((old, new)));
    assert_ne!(old, new);

    let store = server.store().await;
    let shown = store.shown_messages(id).await.expect("read");
    assert_eq!(shown.len(), 2, "question and the new answer");
    assert_eq!(shown[1].id, new);
    assert_eq!(&shown[1].content, content);
    assert_eq!(
        shown[1].versions,
        vec![old, new],
        "the old answer is kept as a version"
    );
}

fn deep(conversation_id: Uuid, content: &str) -> ClientMsg {
    let mut msg = ask(conversation_id, content);
    if let ClientMsg::SendMessage { deep_research, .. } = &mut msg {
        *deep_research = Some(true);
    }
    msg
}

fn iterations(frames: &[app::protocol::ServerFrame]) -> Vec<(u32, u32, String)> {
    frames
        .iter()
        .filter_map(|f| match &f.msg {
            ServerMsg::ResearchIteration {
                n, total, query, ..
            } => Some((*n, *total, query.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn deep_research_runs_announced_iterations_and_concludes() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    let id = Uuid::new_v4();
    client.send(&deep(id, "How are rooms cleaned up?")).await;
    let frames = client.recv_until(is_turn_end).await;
    let steps = iterations(&frames);
    assert_eq!(
        steps.iter().map(|(n, t, _)| (*n, *t)).collect::<Vec<_>>(),
        vec![(1, 2), (2, 2)]
    );
    assert_eq!(steps[0].2, "How are rooms cleaned up?");
    let ServerMsg::MessageComplete {
        content, metadata, ..
    } = &frames.last().expect("end").msg
    else {
        panic!("expected completion");
    };
    assert_eq!(metadata.research_iterations, Some(2));
    assert!(content.contains("### Research step 1 of 2: How are rooms cleaned up?"));
    assert!(content.contains("### Research step 2 of 2"));
    assert!(content.contains("## Conclusion"));
    assert_eq!(&streamed_text(&frames), content);

    // A follow-up researches the new question, not the first one.
    client
        .send(&deep(id, "And who removes idle sockets?"))
        .await;
    let follow_up = client.recv_until(is_turn_end).await;
    assert_eq!(iterations(&follow_up)[0].2, "And who removes idle sockets?");
}

#[tokio::test]
async fn stopping_deep_research_keeps_what_was_produced() {
    let server = TestServer::start_with(|c| c.offline_tokens_per_sec = 40.0).await;
    let mut client = server.connect().await;
    let id = Uuid::new_v4();
    client.send(&deep(id, "Trace a message end to end")).await;
    let mut frames = client
        .recv_until(|m| matches!(m, ServerMsg::ResearchIteration { n: 1, .. }))
        .await;
    frames.extend(
        client
            .recv_until(|m| matches!(m, ServerMsg::MessageToken { .. }))
            .await,
    );
    client
        .send(&ClientMsg::Stop {
            conversation_id: id,
        })
        .await;
    frames.extend(client.recv_until(is_turn_end).await);
    let ServerMsg::MessageComplete {
        content, metadata, ..
    } = &frames.last().expect("end").msg
    else {
        panic!("expected completion");
    };
    assert_eq!(metadata.finish_reason, FinishReason::Stopped);
    assert!(content.starts_with("### Research step 1 of 2"));
    assert!(!content.contains("## Conclusion"));
    let stored = server.store().await.messages(id).await.expect("read");
    assert_eq!(&stored[1].content, content);
}

#[tokio::test]
async fn a_question_whose_history_cannot_be_read_leaves_nothing_behind() {
    use sqlx::Connection;

    let server = TestServer::start().await;
    let mut client = server.connect().await;
    let id = Uuid::new_v4();
    client.send(&ask(id, "What does this repository do?")).await;
    client.recv_until(is_turn_end).await;

    // The stored answer made unreadable, as a damaged database would have it.
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&server.config.database_url())
        .await
        .expect("open the database");
    sqlx::query("UPDATE messages SET sources = 'not json' WHERE conversation_id = $1 AND role = 'assistant'")
        .bind(id.to_string())
        .execute(&mut db)
        .await
        .expect("damage the answer");

    client.send(&ask(id, "And then?")).await;
    let frames = client
        .recv_until(|m| {
            matches!(
                m,
                ServerMsg::Error { .. } | ServerMsg::MessageReceived { .. }
            )
        })
        .await;
    assert!(
        matches!(frames.last().map(|f| &f.msg), Some(ServerMsg::Error { .. })),
        "the question is refused before it is stored: {frames:?}"
    );
    // Neither the question nor its answer's checkpoint, which the next start would
    // have turned into an interrupted answer.
    let (messages,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM messages WHERE conversation_id = $1")
            .bind(id.to_string())
            .fetch_one(&mut db)
            .await
            .expect("count messages");
    assert_eq!(messages, 2);
    let (checkpoints,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM answer_checkpoints")
        .fetch_one(&mut db)
        .await
        .expect("count checkpoints");
    assert_eq!(checkpoints, 0);
}
