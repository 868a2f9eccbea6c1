//! A subscription to a room for an endpoint that translates its events into another
//! wire format. Leaves every room when dropped, however the endpoint ends.

use std::sync::Arc;

use app::protocol::ServerFrame;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::chat::ChatError;
use crate::realtime::{Hub, Peer, WireFrame};
use crate::state::AppState;

pub struct Follower {
    pub peer: Peer,
    queue: mpsc::Receiver<WireFrame>,
    hub: Arc<Hub>,
}

impl Follower {
    fn new(state: &AppState) -> Self {
        let (peer, queue) = Peer::new(state.config.outgoing_queue);
        Self {
            peer,
            queue,
            hub: Arc::clone(&state.hub),
        }
    }

    /// Follows a conversation: live, or from `since_seq` (a snapshot if it is too old).
    pub async fn conversation(
        state: &AppState,
        conversation_id: Uuid,
        since_seq: Option<u64>,
    ) -> Result<Self, ChatError> {
        let follower = Self::new(state);
        state
            .chat
            .join(&follower.peer, conversation_id, since_seq)
            .await?;
        Ok(follower)
    }

    /// Follows any other room, live.
    pub fn room(state: &AppState, room: &str) -> Self {
        let follower = Self::new(state);
        state.hub.join(room, &follower.peer, None, |_| None);
        follower
    }

    /// The next event, or None once the subscription is closed (e.g. it fell behind).
    pub async fn next(&mut self) -> Option<ServerFrame> {
        loop {
            tokio::select! {
                biased;
                _ = self.peer.closing() => return None,
                frame = self.queue.recv() => {
                    let frame = frame?;
                    match serde_json::from_str(&frame) {
                        Ok(parsed) => return Some(parsed),
                        Err(e) => tracing::error!(error = %e, "unreadable frame in a room"),
                    }
                }
            }
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.hub.leave_all(self.peer.id);
    }
}
