//! Room names as the hub's callers see them: `conversation:<uuid>`, `project:<id>`,
//! `job:<id>`, and `jobs:wiki` (every wiki job).

use app::protocol::rooms;
use uuid::Uuid;

/// The kinds of room, parsed from their names.
pub enum RoomName {
    Conversation(Uuid),
    Project,
    Job(String),
    WikiJobs,
}

impl RoomName {
    pub fn parse(room: &str) -> Option<Self> {
        let (kind, id) = room.split_once(':')?;
        if id.is_empty() || id.len() > 128 {
            return None;
        }
        match kind {
            "conversation" => Uuid::parse_str(id).ok().map(Self::Conversation),
            "project" => Some(Self::Project),
            "job" => Some(Self::Job(id.to_owned())),
            "jobs" if room == rooms::WIKI_JOBS => Some(Self::WikiJobs),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::protocol::rooms;

    #[test]
    fn room_names_are_checked() {
        assert!(matches!(
            RoomName::parse(&rooms::conversation(Uuid::nil())),
            Some(RoomName::Conversation(_))
        ));
        assert!(RoomName::parse("conversation:not-a-uuid").is_none());
        assert!(matches!(
            RoomName::parse("project:abc"),
            Some(RoomName::Project)
        ));
        assert!(RoomName::parse("job:").is_none());
        assert!(matches!(
            RoomName::parse(rooms::WIKI_JOBS),
            Some(RoomName::WikiJobs)
        ));
        assert!(RoomName::parse("jobs:other").is_none());
        assert!(RoomName::parse("lobby").is_none());
    }
}
