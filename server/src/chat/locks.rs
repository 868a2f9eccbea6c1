//! Per-conversation mutual exclusion without a lock object per conversation: a fixed set
//! of async mutexes, one chosen by the conversation id's hash. Two conversations rarely
//! share a stripe, and when they do they only wait for each other's short critical
//! sections; memory stays constant however many conversations exist.

use std::hash::{BuildHasher, RandomState};

use tokio::sync::{Mutex, MutexGuard};
use uuid::Uuid;

const STRIPES: usize = 64;

pub(super) struct ConversationLocks {
    stripes: Vec<Mutex<()>>,
    hasher: RandomState,
}

impl Default for ConversationLocks {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl ConversationLocks {
    pub async fn lock(&self, conversation_id: Uuid) -> MutexGuard<'_, ()> {
        let stripe = self.hasher.hash_one(conversation_id) as usize % STRIPES;
        self.stripes[stripe].lock().await
    }
}
