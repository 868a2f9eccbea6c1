//! Background jobs. So far: the latest progress of each job, published to its room and
//! read by the seed-002 progress socket.

mod board;

pub use board::JobBoard;
