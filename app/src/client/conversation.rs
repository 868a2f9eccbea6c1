//! The open conversation as the browser holds it, built from room events.
//!
//! Each message's text is a signal of its own, so a streamed token re-renders one message
//! and not the list.

use leptos::prelude::*;
use uuid::Uuid;

use crate::protocol::{ChatMessage, Role, ServerMsg};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageState {
    Streaming,
    Done,
    Stopped,
    Failed,
}

#[derive(Debug, Clone)]
pub struct UiMessage {
    pub id: Uuid,
    pub role: Role,
    pub content: ArcRwSignal<String>,
    pub state: ArcRwSignal<MessageState>,
    pub error: ArcRwSignal<Option<String>>,
}

impl UiMessage {
    fn new(id: Uuid, role: Role, content: String, state: MessageState) -> Self {
        Self {
            id,
            role,
            content: ArcRwSignal::new(content),
            state: ArcRwSignal::new(state),
            error: ArcRwSignal::new(None),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ConversationView {
    pub id: Option<Uuid>,
    pub messages: Vec<UiMessage>,
}

impl ConversationView {
    pub fn new(id: Uuid) -> Self {
        Self {
            id: Some(id),
            messages: Vec::new(),
        }
    }

    /// True while an answer is being generated.
    pub fn is_streaming(&self) -> bool {
        self.messages
            .last()
            .is_some_and(|m| m.state.get() == MessageState::Streaming)
    }

    pub fn apply(&mut self, msg: &ServerMsg) {
        match msg {
            ServerMsg::MessageReceived {
                conversation_id,
                message,
            } if self.id == Some(*conversation_id) => self.upsert_stored(message),
            ServerMsg::Snapshot {
                conversation_id,
                messages,
                in_progress,
                ..
            } if self.id == Some(*conversation_id) => {
                self.messages.clear();
                for message in messages {
                    self.upsert_stored(message);
                }
                if let Some(p) = in_progress
                    && self.find(p.message_id).is_none()
                {
                    self.messages.push(UiMessage::new(
                        p.message_id,
                        Role::Assistant,
                        p.content.clone(),
                        MessageState::Streaming,
                    ));
                }
            }
            ServerMsg::MessageReplaced {
                conversation_id,
                old_message_id,
                ..
            } if self.id == Some(*conversation_id) => {
                self.messages.retain(|m| m.id != *old_message_id);
            }
            ServerMsg::MessageToken {
                conversation_id,
                message_id,
                token,
            } if self.id == Some(*conversation_id) => {
                match self.find(*message_id) {
                    // A finished message already holds its stored text.
                    Some(m) if m.state.get_untracked() != MessageState::Streaming => {}
                    Some(m) => m.content.update(|c| c.push_str(token)),
                    None => self.messages.push(UiMessage::new(
                        *message_id,
                        Role::Assistant,
                        token.clone(),
                        MessageState::Streaming,
                    )),
                }
            }
            ServerMsg::MessageComplete {
                conversation_id,
                message_id,
                content,
                metadata,
            } if self.id == Some(*conversation_id) => {
                let state = match metadata.finish_reason {
                    crate::protocol::FinishReason::Completed => MessageState::Done,
                    crate::protocol::FinishReason::Stopped => MessageState::Stopped,
                    crate::protocol::FinishReason::Error => MessageState::Failed,
                };
                self.finish(*message_id, content, state, None);
            }
            ServerMsg::MessageError {
                conversation_id,
                message_id,
                message,
                content,
                ..
            } if self.id == Some(*conversation_id) => {
                self.finish(*message_id, content, MessageState::Failed, Some(message));
            }
            _ => {}
        }
    }

    fn upsert_stored(&mut self, message: &ChatMessage) {
        let state = match message.metadata.as_ref().map(|m| m.finish_reason) {
            Some(crate::protocol::FinishReason::Stopped) => MessageState::Stopped,
            Some(crate::protocol::FinishReason::Error) => MessageState::Failed,
            _ => MessageState::Done,
        };
        match self.find(message.id) {
            Some(m) => m.content.set(message.content.clone()),
            None => self.messages.push(UiMessage::new(
                message.id,
                message.role,
                message.content.clone(),
                state,
            )),
        }
    }

    fn finish(&mut self, id: Uuid, content: &str, state: MessageState, error: Option<&String>) {
        let message = match self.find(id) {
            Some(m) => m.clone(),
            None => {
                let m = UiMessage::new(id, Role::Assistant, String::new(), state);
                self.messages.push(m.clone());
                m
            }
        };
        // The stored text is authoritative: it heals any token this tab missed.
        if message.content.with_untracked(|c| c != content) {
            message.content.set(content.to_owned());
        }
        message.state.set(state);
        message.error.set(error.cloned());
    }

    fn find(&self, id: Uuid) -> Option<&UiMessage> {
        self.messages.iter().find(|m| m.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{FinishReason, MessageMetadata};

    fn token(conversation_id: Uuid, message_id: Uuid, t: &str) -> ServerMsg {
        ServerMsg::MessageToken {
            conversation_id,
            message_id,
            token: t.into(),
        }
    }

    #[test]
    fn tokens_build_one_answer_and_completion_settles_it() {
        let cid = Uuid::new_v4();
        let mid = Uuid::new_v4();
        let mut view = ConversationView::new(cid);
        view.apply(&token(cid, mid, "Hel"));
        view.apply(&token(cid, mid, "lo"));
        assert_eq!(view.messages.len(), 1);
        assert_eq!(view.messages[0].content.get_untracked(), "Hello");
        assert!(view.is_streaming());

        view.apply(&ServerMsg::MessageComplete {
            conversation_id: cid,
            message_id: mid,
            content: "Hello!".into(),
            metadata: MessageMetadata {
                provider: "offline".into(),
                model: "m".into(),
                finish_reason: FinishReason::Completed,
                sources_count: 0,
                prompt_tokens: None,
                completion_tokens: None,
                time_to_first_token_ms: None,
                duration_ms: 1,
                research_iterations: None,
            },
        });
        assert_eq!(view.messages[0].content.get_untracked(), "Hello!");
        assert!(!view.is_streaming());
    }

    #[test]
    fn a_snapshot_replaces_the_view_and_streaming_continues_from_it() {
        let cid = Uuid::new_v4();
        let answer = Uuid::new_v4();
        let mut view = ConversationView::new(cid);
        view.apply(&token(cid, Uuid::new_v4(), "stale"));
        view.apply(&ServerMsg::Snapshot {
            conversation_id: cid,
            messages: vec![ChatMessage {
                id: Uuid::new_v4(),
                conversation_id: cid,
                role: Role::User,
                content: "Q".into(),
                sources: vec![],
                metadata: None,
                client_msg_id: None,
                created_at: 0,
            }],
            in_progress: Some(crate::protocol::InProgress {
                message_id: answer,
                content: "Par".into(),
            }),
            last_seq: 10,
        });
        view.apply(&token(cid, answer, "tial"));
        let texts: Vec<_> = view
            .messages
            .iter()
            .map(|m| m.content.get_untracked())
            .collect();
        assert_eq!(texts, vec!["Q", "Partial"]);
    }

    #[test]
    fn events_of_other_conversations_are_ignored() {
        let mut view = ConversationView::new(Uuid::new_v4());
        view.apply(&token(Uuid::new_v4(), Uuid::new_v4(), "x"));
        assert!(view.messages.is_empty());
    }
}
