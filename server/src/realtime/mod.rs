//! Real-time delivery: rooms of connections ([`hub`]), the connection handle the rest of
//! the server talks to ([`peer`]), and the application socket `/ws` ([`socket`]).

mod hub;
mod limits;
mod peer;
mod socket;

pub use hub::{CatchUp, Hub, JoinOutcome, RoomHold};
pub use limits::{ConnectionLimiter, ConnectionSlot, FrameBudget, Verdict};
pub use peer::{CloseReason, ConnectionId, Peer, WireFrame, close_code};
pub use socket::{RoomName, Upgrade, accept, ws_handler};
