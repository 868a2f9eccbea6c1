//! The WebSocket transport. Every socket endpoint, the seed systems' ones in
//! `http::compat` included, is admitted the same way ([`admission`]: origin, key,
//! connection count, frame ceiling); the application socket `/ws` ([`app_socket`]) is
//! RepoWiki's own multiplexed protocol, decoded by [`client_frames`].

mod admission;
mod app_socket;
mod client_frames;

pub use admission::{Upgrade, accept, close_with, exceeds_transport_ceiling, read_until_closed};
pub use app_socket::{after_leaving, ws_handler};
