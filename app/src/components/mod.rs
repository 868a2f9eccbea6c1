//! The UI's components, one file each.

pub mod chat_page;
pub mod connection_indicator;
pub mod message_list;
