//! The running answers, one per conversation at most, and the claim that holds a
//! conversation's place among them. A claim is taken before a question's first await and
//! lives until its answer is stored; dropping it frees the conversation on every path (a
//! refused question, a storage error, a turn that panics), so no conversation can stay
//! busy for good.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use uuid::Uuid;

use super::ChatError;
use super::turn::ActiveTurn;
use crate::cluster::Lease;

/// The answers being generated, by conversation.
#[derive(Clone, Default)]
pub(super) struct RunningTurns(Arc<Mutex<HashMap<Uuid, Arc<ActiveTurn>>>>);

impl RunningTurns {
    /// Claims the conversation for a new answer, or `Busy` if one is running there.
    pub fn claim(&self, conversation_id: Uuid) -> Result<TurnClaim, ChatError> {
        let mut turns = self.lock();
        if turns.contains_key(&conversation_id) {
            return Err(ChatError::Busy);
        }
        let active = Arc::new(ActiveTurn::new(Uuid::new_v4()));
        turns.insert(conversation_id, Arc::clone(&active));
        Ok(TurnClaim {
            turns: self.clone(),
            conversation_id,
            active,
            lease: None,
        })
    }

    pub fn get(&self, conversation_id: Uuid) -> Option<Arc<ActiveTurn>> {
        self.lock().get(&conversation_id).cloned()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Uuid, Arc<ActiveTurn>>> {
        // The map stays consistent even if a holder panicked: every change is one call.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A conversation's place among the running answers; see the module comment.
pub(super) struct TurnClaim {
    turns: RunningTurns,
    conversation_id: Uuid,
    active: Arc<ActiveTurn>,
    /// The conversation's cluster-wide lease, with several instances.
    lease: Option<Lease>,
}

impl TurnClaim {
    pub fn conversation_id(&self) -> Uuid {
        self.conversation_id
    }

    pub fn with_lease(mut self, lease: Lease) -> Self {
        self.lease = Some(lease);
        self
    }

    pub fn active(&self) -> &Arc<ActiveTurn> {
        &self.active
    }

    /// Frees the conversation now: the answer is stored, and a client that reads the
    /// final event may ask again at once.
    pub async fn release(mut self) {
        if let Some(lease) = self.lease.take() {
            lease.release().await;
        }
    }
}

impl Drop for TurnClaim {
    fn drop(&mut self) {
        // The entry is this claim's own: a conversation has one claim at a time.
        self.turns.lock().remove(&self.conversation_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversation_has_one_claim_until_it_is_dropped() {
        let turns = RunningTurns::default();
        let id = Uuid::new_v4();
        let claim = turns.claim(id).expect("free");
        assert!(matches!(turns.claim(id), Err(ChatError::Busy)));
        assert!(
            turns.claim(Uuid::new_v4()).is_ok(),
            "other conversations are free"
        );
        drop(claim);
        assert_eq!(turns.len(), 0);
        assert!(turns.claim(id).is_ok());
    }

    #[test]
    fn a_claim_dropped_by_a_panic_frees_its_conversation() {
        let turns = RunningTurns::default();
        let id = Uuid::new_v4();
        let claim = turns.claim(id).expect("free");
        let panicked = std::thread::spawn(move || {
            let _claim = claim;
            panic!("a turn that fails badly");
        })
        .join();
        assert!(panicked.is_err());
        assert!(turns.get(id).is_none());
        assert!(turns.claim(id).is_ok());
    }
}
