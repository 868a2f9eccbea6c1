//! Real-time delivery: rooms of connections ([`hub`]), the connection handle the rest of
//! the server talks to ([`peer`]), and the application socket `/ws` ([`socket`]).

mod hub;
mod peer;
mod socket;

pub use hub::{CatchUp, Hub, JoinOutcome, RoomHold};
pub use peer::{CloseReason, ConnectionId, Peer, close_code};
pub use socket::ws_handler;
