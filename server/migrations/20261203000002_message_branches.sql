-- Conversations branch: an edited question starts a new branch beside the old one, and a
-- regenerated answer is a version beside the old one. Each message names the message it
-- follows; messages of one role that follow the same message are versions of one place.
-- `superseded_by` keeps its meaning for every query of the conversation as shown: set on
-- each message off the branch being shown.
ALTER TABLE messages ADD COLUMN parent_id TEXT;

-- Until now conversations were linear: a message followed the message shown before it.
UPDATE messages SET parent_id = (
    SELECT p.id FROM messages p
    WHERE p.conversation_id = messages.conversation_id
      AND p.position < messages.position
      AND p.superseded_by IS NULL
    ORDER BY p.position DESC
    LIMIT 1
);

CREATE INDEX messages_by_parent ON messages (conversation_id, parent_id);
