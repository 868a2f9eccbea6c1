//! A subscription to a room for an endpoint that translates its events into another
//! wire format. Leaves every room when dropped, however the endpoint ends.

use std::pin::Pin;
use std::sync::Arc;

use app::protocol::ServerFrame;
use tokio::sync::mpsc;
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::{Hub, Peer, WireFrame};

pub struct Follower {
    pub peer: Peer,
    queue: mpsc::Receiver<WireFrame>,
    hub: Arc<Hub>,
    /// Kept across `next` calls: a streaming answer calls it once per token.
    closing: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl Follower {
    /// A subscriber with a queue of `capacity` frames, in no room yet.
    pub fn new(hub: &Arc<Hub>, capacity: usize) -> Self {
        let (peer, queue) = Peer::new(capacity);
        Self {
            closing: Box::pin(peer.closing_owned()),
            peer,
            queue,
            hub: Arc::clone(hub),
        }
    }

    /// Follows a room, live.
    pub async fn room(hub: &Arc<Hub>, capacity: usize, room: &str) -> Self {
        let follower = Self::new(hub, capacity);
        hub.join(room, &follower.peer, None, |_| None).await;
        follower
    }

    /// The next event, or None once the subscription is closed (e.g. it fell behind).
    pub async fn next(&mut self) -> Option<ServerFrame> {
        loop {
            tokio::select! {
                biased;
                _ = self.closing.as_mut() => return None,
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
