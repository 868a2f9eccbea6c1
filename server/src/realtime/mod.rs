//! Real-time delivery, independent of any transport: rooms of connections ([`hub`]), the
//! connection handle the rest of the server talks to ([`peer`]), in-process room
//! subscribers ([`follower`]), room names ([`room_name`]) and per-client limits
//! ([`limits`]). The sockets that carry it live in `http::ws` and `http::compat`.

mod follower;
mod hub;
mod limits;
mod owned_rooms;
mod peer;
mod room_name;
mod shared_rooms;

pub use follower::Follower;
pub use hub::{CatchUp, DEFAULT_REPLAY_BYTES, Hub, JoinOutcome, RoomHold};
pub use limits::{ConnectionLimiter, ConnectionSlot, FrameBudget, Verdict};
pub use peer::{CloseReason, ConnectionId, Peer, WireFrame, close_code};
pub use room_name::RoomName;
