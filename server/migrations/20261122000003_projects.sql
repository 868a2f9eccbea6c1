-- Projects and their documents. A document keeps its full text: the search index is
-- derived data, rebuilt from here by re-chunking, and questions about a file read it
-- here rather than from a disk that may have changed. Access tokens are never stored.

CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    -- The git URL or folder as given; NULL for an upload project.
    source      TEXT,
    -- The normalised source, so the same repository is found again (seed /ws/chat).
    source_key  TEXT,
    branch      TEXT,
    filters     TEXT NOT NULL,
    status      TEXT NOT NULL,
    error       TEXT,
    documents   BIGINT NOT NULL DEFAULT 0,
    chunks      BIGINT NOT NULL DEFAULT 0,
    last_commit TEXT,
    job_id      TEXT,
    report      TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    indexed_at  BIGINT
);

CREATE INDEX projects_by_source ON projects (source_key);

CREATE TABLE documents (
    id           TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL REFERENCES projects (id),
    path         TEXT NOT NULL,
    language     TEXT NOT NULL,
    size         BIGINT NOT NULL,
    content_hash TEXT NOT NULL,
    content      TEXT NOT NULL,
    chunks       BIGINT NOT NULL,
    -- 'source' (from the repository or folder) or 'upload'; re-indexing from the source
    -- leaves uploads alone.
    origin       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (project_id, path)
);
