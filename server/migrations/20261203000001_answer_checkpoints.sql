-- The answer being generated, saved about every second while it streams. An instance
-- that dies mid-answer loses at most that second: once the answer's lock has expired,
-- another instance (or this one after a restart) stores it as interrupted from here.
CREATE TABLE answer_checkpoints (
    message_id       TEXT PRIMARY KEY,
    conversation_id  TEXT NOT NULL,
    -- The instance generating it. One instance alone recovers only its own (after a
    -- restart); with several, the lease tells whether the owner is alive.
    owner            TEXT NOT NULL,
    content          TEXT NOT NULL,
    sources          TEXT NOT NULL,
    provider         TEXT NOT NULL,
    model            TEXT NOT NULL,
    -- The answer this one regenerates, kept as its previous version.
    replaces         TEXT,
    started_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
