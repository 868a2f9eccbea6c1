-- Portable SQL: the same migrations run on SQLite and PostgreSQL through sqlx's Any
-- driver. Ids are UUID strings, times are milliseconds since the Unix epoch, and
-- structured fields are JSON text.

CREATE TABLE conversations (
    id          TEXT PRIMARY KEY,
    project_id  TEXT,
    title       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    deleted_at  BIGINT
);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    -- Order within the conversation; two messages may share a millisecond.
    position        BIGINT NOT NULL,
    role            TEXT NOT NULL,
    content         TEXT NOT NULL,
    sources         TEXT NOT NULL,
    metadata        TEXT,
    client_msg_id   TEXT,
    created_at      BIGINT NOT NULL,
    UNIQUE (conversation_id, position)
);
