//! Room events in seed 004's (and seed 001's) Socket.IO terms. Pure: the session owns
//! which chat id each conversation goes by, and fills in document ids afterwards.

use app::protocol::socket_io::{
    ClientId, CompleteMetadata, ProjectUpdateData, ServerEvent, SourceDocument, SourceMetadata,
};
use app::protocol::{DocumentState, ProjectChange, Role, ServerFrame, ServerMsg};
use uuid::Uuid;

/// The event a client should see for a room event, or None. `chat_id` names the chat a
/// conversation's events belong to, for the conversations this connection follows.
pub fn translate(
    frame: ServerFrame,
    chat_id: impl Fn(Uuid) -> Option<ClientId>,
) -> Option<ServerEvent> {
    match frame.msg {
        ServerMsg::MessageReceived {
            conversation_id,
            message,
        } if message.role == Role::User => Some(ServerEvent::MessageReceived {
            chat_id: chat_id(conversation_id)?,
            conversation_id,
            message_id: message.id,
        }),
        ServerMsg::MessageSources {
            conversation_id,
            sources,
            ..
        } => Some(ServerEvent::MessageSources {
            chat_id: chat_id(conversation_id)?,
            sources: sources
                .into_iter()
                .map(|source| SourceDocument {
                    // The path until the session has looked the document up.
                    metadata: SourceMetadata {
                        document_id: source.path.clone(),
                        path: source.path,
                        start_line: source.start_line,
                        end_line: source.end_line,
                    },
                    id: source.id,
                    content: source.snippet,
                    score: source.score,
                })
                .collect(),
        }),
        ServerMsg::MessageToken {
            conversation_id,
            token,
            ..
        } => Some(ServerEvent::MessageToken {
            chat_id: chat_id(conversation_id)?,
            token,
        }),
        ServerMsg::ResearchIteration {
            conversation_id,
            n,
            total,
            query,
            ..
        } => Some(ServerEvent::ResearchIteration {
            chat_id: chat_id(conversation_id)?,
            n,
            total,
            query,
        }),
        ServerMsg::MessageComplete {
            conversation_id,
            message_id,
            metadata,
            ..
        } => Some(ServerEvent::MessageComplete {
            chat_id: chat_id(conversation_id)?,
            message_id,
            metadata: CompleteMetadata {
                model: metadata.model,
                sources_count: metadata.sources_count,
                provider: metadata.provider,
                finish_reason: metadata.finish_reason,
            },
        }),
        ServerMsg::MessageError {
            conversation_id,
            code,
            message,
            ..
        } => Some(ServerEvent::Error {
            message,
            chat_id: Some(chat_id(conversation_id)?),
            code,
        }),
        ServerMsg::DocumentStatus {
            project_id,
            document_id,
            path,
            status,
            progress,
            error,
        } => Some(ServerEvent::DocumentStatus {
            document_id,
            status: match status {
                DocumentState::Processing => "processing",
                DocumentState::Indexed => "completed",
                DocumentState::Failed => "failed",
            },
            progress: Some(progress),
            project_id,
            filename: file_name(&path),
            path,
            error,
        }),
        ServerMsg::ProjectUpdate {
            project_id,
            update,
            document_id,
            path,
            status,
        } => Some(ServerEvent::ProjectUpdate {
            kind: match update {
                ProjectChange::DocumentAdded => "document_added",
                ProjectChange::DocumentDeleted => "document_deleted",
                ProjectChange::StatusChanged => "status_changed",
            },
            data: ProjectUpdateData {
                project_id,
                document_id,
                filename: path.as_deref().map(file_name),
                path,
                status,
            },
        }),
        ServerMsg::ProcessingStatus {
            status,
            progress_percent,
            message,
        } => Some(ServerEvent::ProcessingStatus {
            room: frame.room?,
            status,
            progress_percent,
            message,
        }),
        ServerMsg::JobProgress(progress) => Some(ServerEvent::JobProgress(progress)),
        _ => None,
    }
}

fn file_name(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::protocol::{FinishReason, MessageMetadata, Source};

    fn in_room(msg: ServerMsg) -> ServerFrame {
        ServerFrame {
            msg,
            room: Some("conversation:x".into()),
            seq: Some(1),
        }
    }

    #[test]
    fn a_turn_reads_as_seed_004s_events_with_the_clients_chat_id() {
        let conversation_id = Uuid::new_v4();
        let message_id = Uuid::new_v4();
        let chat = |id: Uuid| (id == conversation_id).then_some(ClientId::Number(5));
        let sources = translate(
            in_room(ServerMsg::MessageSources {
                conversation_id,
                message_id,
                sources: vec![Source {
                    id: "c1".into(),
                    path: "src/lib.rs".into(),
                    start_line: 3,
                    end_line: 9,
                    snippet: "fn main() {}".into(),
                    score: 0.5,
                }],
            }),
            chat,
        )
        .expect("sources");
        assert_eq!(
            serde_json::to_value(&sources).expect("json"),
            serde_json::json!({"chat_id": 5, "sources": [{"id": "c1", "content": "fn main() {}",
                "metadata": {"document_id": "src/lib.rs", "path": "src/lib.rs",
                "start_line": 3, "end_line": 9}, "score": 0.5}]})
        );
        let complete = translate(
            in_room(ServerMsg::MessageComplete {
                conversation_id,
                message_id,
                content: "Hi".into(),
                metadata: MessageMetadata {
                    provider: "offline".into(),
                    model: "m".into(),
                    finish_reason: FinishReason::Completed,
                    sources_count: 1,
                    prompt_tokens: None,
                    completion_tokens: None,
                    time_to_first_token_ms: None,
                    duration_ms: 1,
                    research_iterations: None,
                },
            }),
            chat,
        )
        .expect("complete");
        assert_eq!(complete.name(), "message_complete");
        let json = serde_json::to_value(&complete).expect("json");
        assert_eq!(json["metadata"]["model"], "m");
        assert_eq!(json["metadata"]["sources_count"], 1);
    }

    #[test]
    fn events_of_conversations_the_client_does_not_follow_are_dropped() {
        let token = ServerMsg::MessageToken {
            conversation_id: Uuid::new_v4(),
            message_id: Uuid::new_v4(),
            token: "x".into(),
        };
        assert_eq!(translate(in_room(token), |_| None), None);
    }

    #[test]
    fn document_states_use_seed_004s_words() {
        let event = translate(
            in_room(ServerMsg::DocumentStatus {
                project_id: "p".into(),
                document_id: "d".into(),
                path: "docs/guide.pdf".into(),
                status: DocumentState::Indexed,
                progress: 100.0,
                error: None,
            }),
            |_| None,
        )
        .expect("status");
        let json = serde_json::to_value(&event).expect("json");
        assert_eq!(json["status"], "completed");
        assert_eq!(json["filename"], "guide.pdf");
        assert_eq!(json["progress"], 100.0);
    }
}
