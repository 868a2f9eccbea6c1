//! Which conversation a Socket.IO client's `chat_id` (or seed 001's `session_id`) names.
//!
//! Seed clients pick their own chat ids (seed 004 uses small integers), so the mapping
//! is a pure function: the same id reaches the same stored conversation from any
//! connection, any instance and after any restart, and needs no table. An id that is
//! already a UUID is taken as is, so a client can continue a conversation started in the
//! web UI.

use app::protocol::socket_io::ClientId;
use sha2::{Digest, Sha256};
use uuid::{Builder, Uuid};

/// Keeps these ids apart from any other use of hashed ids.
const DOMAIN: &[u8] = b"repowiki socket.io chat\0";

pub fn conversation_for(chat_id: &ClientId) -> Uuid {
    let key = chat_id.key();
    if let Ok(id) = Uuid::parse_str(&key) {
        return id;
    }
    let digest = Sha256::new()
        .chain_update(DOMAIN)
        .chain_update(key)
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Builder::from_custom_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_chat_id_is_always_the_same_conversation() {
        let a = conversation_for(&ClientId::Number(1));
        assert_eq!(a, conversation_for(&ClientId::Text("1".into())));
        assert_ne!(a, conversation_for(&ClientId::Number(2)));
        assert_eq!(a.get_version_num(), 8);
    }

    #[test]
    fn a_uuid_chat_id_is_that_conversation() {
        let id = Uuid::new_v4();
        assert_eq!(conversation_for(&ClientId::Text(id.to_string())), id);
    }
}
