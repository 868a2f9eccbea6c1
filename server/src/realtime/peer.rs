//! A live connection as the rest of the server sees it: a bounded outgoing queue and a
//! switch that closes the socket with a reason.

use std::sync::{Arc, OnceLock};

use app::protocol::{ServerFrame, ServerMsg};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use uuid::Uuid;

pub type ConnectionId = Uuid;

/// WebSocket close codes the server uses (RFC 6455 §7.4).
pub mod close_code {
    pub const GOING_AWAY: u16 = 1001;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
    /// "Try again later": the client fell behind and should resume with `since_seq`.
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReason {
    pub code: u16,
    pub reason: &'static str,
}

/// A serialised frame, shared by every recipient of one event. It is the WebSocket's own
/// text type, so handing it to a socket shares the bytes (a reference count) instead of
/// copying them once per recipient.
pub type WireFrame = axum::extract::ws::Utf8Bytes;

#[derive(Clone)]
pub struct Peer {
    pub id: ConnectionId,
    queue: mpsc::Sender<WireFrame>,
    closer: CancellationToken,
    close_reason: Arc<OnceLock<CloseReason>>,
}

impl Peer {
    /// A peer and the receiving end of its queue, which the socket's writer drains.
    pub fn new(capacity: usize) -> (Self, mpsc::Receiver<WireFrame>) {
        let (queue, rx) = mpsc::channel(capacity.max(1));
        let peer = Self {
            id: Uuid::new_v4(),
            queue,
            closer: CancellationToken::new(),
            close_reason: Arc::new(OnceLock::new()),
        };
        (peer, rx)
    }

    /// Queues a frame without waiting. A full queue means the client is not reading fast
    /// enough: it is closed rather than allowed to stall the room or grow memory; it can
    /// resume from its last sequence number. Returns false if the frame was not queued.
    pub fn deliver(&self, frame: WireFrame) -> bool {
        match self.queue.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                metrics::counter!(crate::telemetry::SLOW_CLOSED).increment(1);
                self.close(
                    close_code::TRY_AGAIN_LATER,
                    "too slow: resume with since_seq",
                );
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Serialises and queues a frame addressed to this connection alone.
    pub fn send(&self, frame: &ServerFrame) -> bool {
        match serde_json::to_string(frame) {
            Ok(text) => self.deliver(text.into()),
            Err(e) => {
                tracing::error!(error = %e, "could not serialise a frame");
                false
            }
        }
    }

    pub fn send_direct(&self, msg: ServerMsg) -> bool {
        self.send(&ServerFrame::direct(msg))
    }

    /// Asks the connection to close with this reason; the first reason given wins.
    pub fn close(&self, code: u16, reason: &'static str) {
        let _ = self.close_reason.set(CloseReason { code, reason });
        self.closer.cancel();
    }

    pub fn is_closing(&self) -> bool {
        self.closer.is_cancelled()
    }

    pub async fn closing(&self) {
        self.closer.cancelled().await
    }

    /// [`Peer::closing`] as a future that owns what it waits on, so a subscriber can keep
    /// one for its whole life instead of registering a new waiter for every frame.
    pub fn closing_owned(&self) -> WaitForCancellationFutureOwned {
        self.closer.clone().cancelled_owned()
    }

    pub fn close_reason(&self) -> Option<CloseReason> {
        self.close_reason.get().cloned()
    }
}
