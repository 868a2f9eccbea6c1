-- A regenerated answer keeps its previous version: the old row points at its successor
-- and drops out of the conversation as shown and as sent to the model.
ALTER TABLE messages ADD COLUMN superseded_by TEXT;
