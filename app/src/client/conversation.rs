//! The open conversation as the browser holds it, built from room events.
//!
//! Each message's text is a signal of its own, so a streamed token re-renders one message
//! and not the list; [`ConversationView::apply`] says when the list itself changed.

use leptos::prelude::*;
use uuid::Uuid;

use crate::protocol::{
    ChatMessage, FinishReason, InProgress, MessageMetadata, Role, ServerMsg, Source,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageState {
    Streaming,
    Done,
    Stopped,
    Failed,
}

/// One announced step of a deep-research answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResearchStep {
    pub n: u32,
    pub total: u32,
    pub query: String,
}

#[derive(Debug, Clone)]
pub struct UiMessage {
    pub id: Uuid,
    pub role: Role,
    pub content: ArcRwSignal<String>,
    pub state: ArcRwSignal<MessageState>,
    pub error: ArcRwSignal<Option<String>>,
    pub sources: ArcRwSignal<Vec<Source>>,
    pub research: ArcRwSignal<Vec<ResearchStep>>,
    pub metadata: ArcRwSignal<Option<MessageMetadata>>,
    /// Why generation is paused (e.g. rate limited), while it is.
    pub waiting: ArcRwSignal<Option<String>>,
    /// Every version of this place in the conversation, oldest first; empty while one.
    pub versions: ArcRwSignal<Vec<Uuid>>,
}

impl UiMessage {
    fn new(id: Uuid, role: Role, content: String, state: MessageState) -> Self {
        Self {
            id,
            role,
            content: ArcRwSignal::new(content),
            state: ArcRwSignal::new(state),
            error: ArcRwSignal::new(None),
            sources: ArcRwSignal::new(Vec::new()),
            research: ArcRwSignal::new(Vec::new()),
            metadata: ArcRwSignal::new(None),
            waiting: ArcRwSignal::new(None),
            versions: ArcRwSignal::new(Vec::new()),
        }
    }

    fn from_stored(message: &ChatMessage) -> Self {
        let m = Self::new(
            message.id,
            message.role,
            message.content.clone(),
            stored_state(message),
        );
        m.sources.set(message.sources.clone());
        m.metadata.set(message.metadata.clone());
        m.versions.set(message.versions.clone());
        m
    }

    fn settle(&self, message: &ChatMessage) {
        if self.content.with_untracked(|c| c != &message.content) {
            self.content.set(message.content.clone());
        }
        let state = stored_state(message);
        if self.state.get_untracked() != state {
            self.state.set(state);
        }
        if !message.sources.is_empty() {
            self.sources.set(message.sources.clone());
        }
        if message.metadata.is_some() {
            self.metadata.set(message.metadata.clone());
        }
        if self.versions.with_untracked(|v| v != &message.versions) {
            self.versions.set(message.versions.clone());
        }
    }
}

fn stored_state(message: &ChatMessage) -> MessageState {
    match message.metadata.as_ref().map(|m| m.finish_reason) {
        Some(FinishReason::Stopped) => MessageState::Stopped,
        Some(FinishReason::Error | FinishReason::Interrupted) => MessageState::Failed,
        _ => MessageState::Done,
    }
}

#[derive(Debug, Clone, Default)]
pub struct ConversationView {
    pub id: Option<Uuid>,
    pub messages: Vec<UiMessage>,
    /// Another tab or person deleted it.
    pub deleted: bool,
}

impl ConversationView {
    pub fn new(id: Uuid) -> Self {
        Self {
            id: Some(id),
            ..Self::default()
        }
    }

    /// True while an answer is being generated.
    pub fn is_streaming(&self) -> bool {
        self.messages
            .last()
            .is_some_and(|m| m.state.get() == MessageState::Streaming)
    }

    /// The newest assistant message.
    pub fn last_answer(&self) -> Option<&UiMessage> {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == Role::Assistant)
    }

    /// Messages rendered by the server before the socket's snapshot arrives.
    pub fn seed(&mut self, messages: &[ChatMessage]) {
        if self.messages.is_empty() {
            self.messages = messages.iter().map(UiMessage::from_stored).collect();
        }
    }

    /// Applies one event; true when messages were added or removed (the list must
    /// re-render), false when only a message's own signals changed.
    pub fn apply(&mut self, msg: &ServerMsg) -> bool {
        let mine = |id: &Uuid| self.id == Some(*id);
        match msg {
            ServerMsg::MessageReceived {
                conversation_id,
                message,
            } if mine(conversation_id) => self.upsert_stored(message),
            ServerMsg::Snapshot {
                conversation_id,
                messages,
                in_progress,
                ..
            } if mine(conversation_id) => {
                self.show(messages, in_progress.as_ref());
                true
            }
            ServerMsg::BranchShown {
                conversation_id,
                messages,
            } if mine(conversation_id) => {
                self.show(messages, None);
                true
            }
            ServerMsg::MessageReplaced {
                conversation_id,
                old_message_id,
                new_message_id,
            } if mine(conversation_id) => {
                let Some(i) = self.messages.iter().position(|m| m.id == *old_message_id) else {
                    return false;
                };
                // The new answer streams in the old one's place, as its newest version.
                let mut versions = self.messages[i].versions.get_untracked();
                if versions.is_empty() {
                    versions.push(*old_message_id);
                }
                versions.push(*new_message_id);
                let answer = UiMessage::new(
                    *new_message_id,
                    Role::Assistant,
                    String::new(),
                    MessageState::Streaming,
                );
                answer.versions.set(versions);
                self.messages[i] = answer;
                true
            }
            ServerMsg::MessageSources {
                conversation_id,
                message_id,
                sources,
            } if mine(conversation_id) => {
                let (m, added) = self.answer(*message_id);
                m.sources.set(sources.clone());
                added
            }
            ServerMsg::MessageToken {
                conversation_id,
                message_id,
                token,
            } if mine(conversation_id) => {
                let (m, added) = self.answer(*message_id);
                // A finished message already holds its stored text.
                if m.state.get_untracked() == MessageState::Streaming {
                    m.content.update(|c| c.push_str(token));
                    if m.waiting.with_untracked(Option::is_some) {
                        m.waiting.set(None);
                    }
                }
                added
            }
            ServerMsg::MessageWaiting {
                conversation_id,
                message_id,
                reason,
                retry_in_ms,
            } if mine(conversation_id) => {
                let (m, added) = self.answer(*message_id);
                let secs = retry_in_ms.div_ceil(1000);
                m.waiting.set(Some(format!(
                    "{} — retrying in {secs} s",
                    reason.replace('_', " ")
                )));
                added
            }
            ServerMsg::ResearchIteration {
                conversation_id,
                message_id,
                n,
                total,
                query,
            } if mine(conversation_id) => {
                let (m, added) = self.answer(*message_id);
                m.research.update(|steps| {
                    if !steps.iter().any(|s| s.n == *n) {
                        steps.push(ResearchStep {
                            n: *n,
                            total: *total,
                            query: query.clone(),
                        });
                    }
                });
                added
            }
            ServerMsg::MessageComplete {
                conversation_id,
                message_id,
                content,
                metadata,
            } if mine(conversation_id) => {
                let state = match metadata.finish_reason {
                    FinishReason::Completed => MessageState::Done,
                    FinishReason::Stopped => MessageState::Stopped,
                    FinishReason::Error | FinishReason::Interrupted => MessageState::Failed,
                };
                let added = self.finish(*message_id, content, state, None);
                if let Some(m) = self.find(*message_id) {
                    m.metadata.set(Some(metadata.clone()));
                }
                added
            }
            ServerMsg::MessageError {
                conversation_id,
                message_id,
                message,
                content,
                ..
            } if mine(conversation_id) => {
                self.finish(*message_id, content, MessageState::Failed, Some(message))
            }
            ServerMsg::ConversationDeleted { conversation_id } if mine(conversation_id) => {
                self.deleted = true;
                true
            }
            _ => false,
        }
    }

    /// Shows `messages` (and the answer in progress) in place of the list. Messages
    /// already shown keep their signals, and so their rendered blocks; the new text and
    /// state win.
    fn show(&mut self, messages: &[ChatMessage], in_progress: Option<&InProgress>) {
        let mut old = std::mem::take(&mut self.messages);
        for message in messages {
            match old.iter().position(|m| m.id == message.id) {
                Some(i) => {
                    let m = old.swap_remove(i);
                    m.settle(message);
                    self.messages.push(m);
                }
                None => self.messages.push(UiMessage::from_stored(message)),
            }
        }
        if let Some(p) = in_progress {
            match old.iter().position(|m| m.id == p.message_id) {
                Some(i) => {
                    let m = old.swap_remove(i);
                    if m.content.with_untracked(|c| c != &p.content) {
                        m.content.set(p.content.clone());
                    }
                    m.state.set(MessageState::Streaming);
                    self.messages.push(m);
                }
                None => self.messages.push(UiMessage::new(
                    p.message_id,
                    Role::Assistant,
                    p.content.clone(),
                    MessageState::Streaming,
                )),
            }
        }
    }

    fn upsert_stored(&mut self, message: &ChatMessage) -> bool {
        match self.find(message.id) {
            Some(m) => {
                m.settle(message);
                false
            }
            None => {
                self.messages.push(UiMessage::from_stored(message));
                true
            }
        }
    }

    /// The streaming answer `id`, created on its first event; true if it was created.
    fn answer(&mut self, id: Uuid) -> (UiMessage, bool) {
        match self.find(id) {
            Some(m) => (m.clone(), false),
            None => {
                let m = UiMessage::new(id, Role::Assistant, String::new(), MessageState::Streaming);
                self.messages.push(m.clone());
                (m, true)
            }
        }
    }

    fn finish(
        &mut self,
        id: Uuid,
        content: &str,
        state: MessageState,
        error: Option<&String>,
    ) -> bool {
        let (message, added) = self.answer(id);
        // The stored text is authoritative: it heals any token this tab missed.
        if message.content.with_untracked(|c| c != content) {
            message.content.set(content.to_owned());
        }
        message.state.set(state);
        message.error.set(error.cloned());
        message.waiting.set(None);
        added
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
                versions: Vec::new(),
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

    fn stored(cid: Uuid, id: Uuid, role: Role, content: &str, versions: Vec<Uuid>) -> ChatMessage {
        ChatMessage {
            id,
            conversation_id: cid,
            role,
            content: content.into(),
            sources: vec![],
            metadata: None,
            client_msg_id: None,
            created_at: 0,
            versions,
        }
    }

    #[test]
    fn a_regenerated_answer_streams_in_place_as_the_newest_version() {
        let cid = Uuid::new_v4();
        let (question, old, new) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let mut view = ConversationView::new(cid);
        view.seed(&[
            stored(cid, question, Role::User, "Q", vec![]),
            stored(cid, old, Role::Assistant, "A", vec![]),
        ]);
        assert!(view.apply(&ServerMsg::MessageReplaced {
            conversation_id: cid,
            old_message_id: old,
            new_message_id: new,
        }));
        assert_eq!(view.messages.len(), 2);
        assert_eq!(view.messages[1].id, new);
        assert_eq!(view.messages[1].versions.get_untracked(), vec![old, new]);
        assert!(view.is_streaming());
    }

    #[test]
    fn a_branch_shown_replaces_the_list_and_keeps_shared_messages() {
        let cid = Uuid::new_v4();
        let (q1, a1, q2, q2_edited) = (
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
        );
        let mut view = ConversationView::new(cid);
        view.seed(&[
            stored(cid, q1, Role::User, "Q1", vec![]),
            stored(cid, a1, Role::Assistant, "A1", vec![]),
            stored(cid, q2, Role::User, "Q2", vec![]),
        ]);
        let kept = view.messages[0].content.clone();
        assert!(view.apply(&ServerMsg::BranchShown {
            conversation_id: cid,
            messages: vec![
                stored(cid, q1, Role::User, "Q1", vec![]),
                stored(cid, a1, Role::Assistant, "A1", vec![]),
                stored(cid, q2_edited, Role::User, "Q2 again", vec![q2, q2_edited]),
            ],
        }));
        let ids: Vec<_> = view.messages.iter().map(|m| m.id).collect();
        assert_eq!(ids, vec![q1, a1, q2_edited]);
        assert_eq!(
            view.messages[2].versions.get_untracked(),
            vec![q2, q2_edited]
        );
        kept.set("same signal".into());
        assert_eq!(view.messages[0].content.get_untracked(), "same signal");
    }

    #[test]
    fn events_of_other_conversations_are_ignored() {
        let mut view = ConversationView::new(Uuid::new_v4());
        view.apply(&token(Uuid::new_v4(), Uuid::new_v4(), "x"));
        assert!(view.messages.is_empty());
    }
}
