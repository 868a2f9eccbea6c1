//! Editing a question and browsing versions: both change which branch of the
//! conversation is shown, so both take the conversation's claim (no answer may be
//! running) and tell the room the conversation as now shown with `branch_shown`.

use std::sync::Arc;

use app::protocol::{ChatMessage, Role, ServerMsg, rooms};
use uuid::Uuid;

use super::{ChatError, ChatService, turn};
use crate::clock::now_ms;

/// A question asked again in place of an earlier one.
#[derive(Debug, Clone)]
pub struct Edit {
    pub conversation_id: Uuid,
    /// The shown question it replaces.
    pub message_id: Uuid,
    pub content: String,
    pub client_msg_id: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    /// Who asks, for the per-client limit on answers at once.
    pub client: String,
}

impl ChatService {
    /// Stores the edited question as a new branch from the question it replaces (the old
    /// branch is kept as a version), shows it, and answers it. Returns the stored question.
    pub async fn edit(self: &Arc<Self>, edit: Edit) -> Result<ChatMessage, ChatError> {
        let content = self.checked_content(&edit.content)?.to_owned();
        let provider = self.provider(edit.provider.as_deref())?;
        let id = edit.conversation_id;
        let claim = self.turns.claim(id)?;
        let claim = self.share_claim(claim).await?;
        let ticket = self.enqueue(&edit.client)?;
        let room = rooms::conversation(id);
        let hold = self.hub.own(&room).await;
        let (question, shown, project_id) = {
            let _conversation = self.locks.lock(id).await;
            let Some(conversation) = self.store.conversation(id).await? else {
                return Err(ChatError::Deleted);
            };
            let question = ChatMessage {
                id: Uuid::new_v4(),
                conversation_id: id,
                role: Role::User,
                content,
                sources: Vec::new(),
                metadata: None,
                client_msg_id: edit.client_msg_id,
                created_at: now_ms(),
                versions: Vec::new(),
            };
            if !self
                .store
                .insert_edited_question(&question, edit.message_id)
                .await?
            {
                return Err(ChatError::NotEditable);
            }
            let shown = self.store.shown_messages(id).await?;
            self.hub.publish(
                &room,
                ServerMsg::BranchShown {
                    conversation_id: id,
                    messages: shown.clone(),
                },
            );
            (question, shown, conversation.project_id)
        };
        let stored = shown
            .iter()
            .find(|m| m.id == question.id)
            .cloned()
            .unwrap_or(question);
        self.spawn_turn(
            turn::TurnSpec {
                conversation_id: id,
                claim,
                model: edit
                    .model
                    .unwrap_or_else(|| provider.default_model().to_owned()),
                provider,
                temperature: None,
                project_id,
                file_path: None,
                prompt: turn::prompt_from(&shown),
                deep_research: false,
                replaces: None,
                checkpointed_at: None,
                _hold: hold,
            },
            ticket,
        );
        Ok(stored)
    }

    /// Shows the branch through `message_id` (one of a message's versions) and tells the
    /// room. Returns the conversation as now shown.
    pub async fn show_version(
        &self,
        conversation_id: Uuid,
        message_id: Uuid,
    ) -> Result<Vec<ChatMessage>, ChatError> {
        let claim = self.turns.claim(conversation_id)?;
        let claim = self.share_claim(claim).await?;
        let shown = {
            let _conversation = self.locks.lock(conversation_id).await;
            if self.store.conversation(conversation_id).await?.is_none() {
                return Err(ChatError::Deleted);
            }
            if !self.store.show_version(conversation_id, message_id).await? {
                return Err(ChatError::UnknownMessage(message_id));
            }
            let shown = self.store.shown_messages(conversation_id).await?;
            self.hub.publish(
                &rooms::conversation(conversation_id),
                ServerMsg::BranchShown {
                    conversation_id,
                    messages: shown.clone(),
                },
            );
            shown
        };
        claim.release().await;
        Ok(shown)
    }
}
