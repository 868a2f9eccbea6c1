//! Branches of a conversation. An edited question starts a new branch beside the old one
//! and a regenerated answer is a new version beside the old one; one branch is shown.
//!
//! Each message names the message it follows (`parent_id`); messages of one role that
//! follow the same message are the versions of one place. Messages off the shown branch
//! have `superseded_by` set, so every query of the conversation as shown (history, the
//! prompt, pages) reads `superseded_by IS NULL` as it did before conversations branched.

use std::collections::{HashMap, HashSet};

use app::protocol::{ChatMessage, Role};
use uuid::Uuid;

use super::conversations::touch_conversation;
use super::messages::role_name;
use super::{Result, Store};

/// A message's place in the conversation's tree.
struct Node {
    id: String,
    parent: Option<String>,
    role: String,
}

type NodeRecord = (String, Option<String>, String);

const NODES: &str =
    "SELECT id, parent_id, role FROM messages WHERE conversation_id = $1 ORDER BY position";

fn nodes(records: Vec<NodeRecord>) -> Vec<Node> {
    records
        .into_iter()
        .map(|(id, parent, role)| Node { id, parent, role })
        .collect()
}

/// The versions of each place with more than one, oldest first, by message id.
fn versions_by_message(nodes: &[Node]) -> HashMap<&str, Vec<&str>> {
    let mut places: HashMap<(Option<&str>, &str), Vec<&str>> = HashMap::new();
    for node in nodes {
        places
            .entry((node.parent.as_deref(), node.role.as_str()))
            .or_default()
            .push(node.id.as_str());
    }
    let mut by_message = HashMap::new();
    for versions in places.into_values().filter(|v| v.len() > 1) {
        for id in &versions {
            by_message.insert(*id, versions.clone());
        }
    }
    by_message
}

/// The branch through `target`: its ancestors, itself, and below it the newest message
/// at each step (the version most recently written). `nodes` is in position order.
fn branch_through<'a>(nodes: &'a [Node], target: &'a str) -> HashSet<&'a str> {
    let parents: HashMap<&str, Option<&str>> = nodes
        .iter()
        .map(|n| (n.id.as_str(), n.parent.as_deref()))
        .collect();
    let mut branch = HashSet::new();
    // Each step adds a new id or stops, so corrupt data with a cycle ends too.
    let mut up = Some(target);
    while let Some(id) = up.filter(|id| branch.insert(*id)) {
        up = parents.get(id).copied().flatten();
    }
    let mut down = target;
    while let Some(child) = nodes
        .iter()
        .rev()
        .find(|n| n.parent.as_deref() == Some(down))
        .map(|n| n.id.as_str())
        .filter(|id| branch.insert(*id))
    {
        down = child;
    }
    branch
}

impl Store {
    /// Fills in each message's `versions` from the conversation's stored tree.
    pub async fn with_versions(
        &self,
        conversation_id: Uuid,
        messages: &mut [ChatMessage],
    ) -> Result<()> {
        let records: Vec<NodeRecord> = sqlx::query_as(NODES)
            .bind(conversation_id.to_string())
            .fetch_all(&self.pool)
            .await?;
        let nodes = nodes(records);
        let versions = versions_by_message(&nodes);
        for message in messages {
            message.versions = versions
                .get(message.id.to_string().as_str())
                .map(|ids| {
                    ids.iter()
                        .filter_map(|id| Uuid::parse_str(id).ok())
                        .collect()
                })
                .unwrap_or_default();
        }
        Ok(())
    }

    /// The conversation as shown, each message with its versions: what clients display.
    pub async fn shown_messages(&self, conversation_id: Uuid) -> Result<Vec<ChatMessage>> {
        let mut messages = self.messages(conversation_id).await?;
        self.with_versions(conversation_id, &mut messages).await?;
        Ok(messages)
    }

    /// Stores `question` as a new version of the shown question `replaces` and shows its
    /// branch; the branch from `replaces` on is kept, no longer shown. False, with nothing
    /// stored, when `replaces` is not a question shown in `question`'s conversation.
    pub async fn insert_edited_question(
        &self,
        question: &ChatMessage,
        replaces: Uuid,
    ) -> Result<bool> {
        let conversation_id = question.conversation_id.to_string();
        let mut tx = self.writer.begin().await?;
        let replaced: Option<(Option<String>, i64)> = sqlx::query_as(
            "SELECT parent_id, position FROM messages \
             WHERE id = $1 AND conversation_id = $2 AND role = 'user' AND superseded_by IS NULL",
        )
        .bind(replaces.to_string())
        .bind(&conversation_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((parent, position)) = replaced else {
            return Ok(false);
        };
        let new_id = question.id.to_string();
        sqlx::query(
            "UPDATE messages SET superseded_by = $1 \
             WHERE conversation_id = $2 AND superseded_by IS NULL AND position >= $3",
        )
        .bind(&new_id)
        .bind(&conversation_id)
        .bind(position)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO messages \
             (id, conversation_id, position, role, content, sources, metadata, client_msg_id, created_at, parent_id) \
             VALUES ($1, $2, \
                (SELECT COALESCE(MAX(position), 0) + 1 FROM messages WHERE conversation_id = $2), \
                $3, $4, '[]', NULL, $5, $6, $7)",
        )
        .bind(&new_id)
        .bind(&conversation_id)
        .bind(role_name(Role::User))
        .bind(&question.content)
        .bind(question.client_msg_id.clone())
        .bind(question.created_at as i64)
        .bind(parent)
        .execute(&mut *tx)
        .await?;
        touch_conversation(&mut tx, question.conversation_id, question.created_at).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Shows the branch through `message_id`. False when the conversation has no such
    /// message.
    pub async fn show_version(&self, conversation_id: Uuid, message_id: Uuid) -> Result<bool> {
        let conversation = conversation_id.to_string();
        let target = message_id.to_string();
        let mut tx = self.writer.begin().await?;
        let records: Vec<NodeRecord> = sqlx::query_as(NODES)
            .bind(&conversation)
            .fetch_all(&mut *tx)
            .await?;
        let nodes = nodes(records);
        if !nodes.iter().any(|n| n.id == target) {
            return Ok(false);
        }
        let branch = branch_through(&nodes, &target);
        sqlx::query(
            "UPDATE messages SET superseded_by = $1 \
             WHERE conversation_id = $2 AND superseded_by IS NULL",
        )
        .bind(&target)
        .bind(&conversation)
        .execute(&mut *tx)
        .await?;
        for id in branch {
            sqlx::query("UPDATE messages SET superseded_by = NULL WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, parent: Option<&str>, role: &str) -> Node {
        Node {
            id: id.into(),
            parent: parent.map(Into::into),
            role: role.into(),
        }
    }

    /// q1 → a1, a1' (regenerated); a1' → q2 → a2; q2 edited into q2' → a3.
    fn tree() -> Vec<Node> {
        vec![
            node("q1", None, "user"),
            node("a1", Some("q1"), "assistant"),
            node("a1'", Some("q1"), "assistant"),
            node("q2", Some("a1'"), "user"),
            node("a2", Some("q2"), "assistant"),
            node("q2'", Some("a1'"), "user"),
            node("a3", Some("q2'"), "assistant"),
        ]
    }

    #[test]
    fn versions_are_the_messages_of_one_role_after_one_message() {
        let nodes = tree();
        let versions = versions_by_message(&nodes);
        assert_eq!(versions["a1'"], vec!["a1", "a1'"]);
        assert_eq!(versions["q2"], vec!["q2", "q2'"]);
        assert!(!versions.contains_key("q1"));
        assert!(!versions.contains_key("a3"));
    }

    #[test]
    fn a_branch_runs_from_the_root_to_the_newest_leaf_below_the_chosen_version() {
        let nodes = tree();
        let mut old: Vec<_> = branch_through(&nodes, "q2").into_iter().collect();
        old.sort();
        assert_eq!(old, vec!["a1'", "a2", "q1", "q2"]);
        let mut first: Vec<_> = branch_through(&nodes, "a1").into_iter().collect();
        first.sort();
        assert_eq!(first, vec!["a1", "q1"]);
        let mut newest: Vec<_> = branch_through(&nodes, "a1'").into_iter().collect();
        newest.sort();
        assert_eq!(newest, vec!["a1'", "a3", "q1", "q2'"]);
    }

    #[test]
    fn a_cycle_in_corrupt_data_ends() {
        let nodes = vec![
            node("x", Some("y"), "user"),
            node("y", Some("x"), "assistant"),
        ];
        assert_eq!(branch_through(&nodes, "x").len(), 2);
    }
}
