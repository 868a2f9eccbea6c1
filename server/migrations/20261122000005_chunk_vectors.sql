-- Dense vectors of chunks, when an embedding provider is configured. They are derived
-- data like the lexical index, but costly to recompute, so they are kept. A vector is
-- the little-endian f32 bytes, base64-encoded (portable across SQLite and PostgreSQL).
CREATE TABLE chunk_vectors (
    project_id  TEXT NOT NULL,
    chunk_id    TEXT NOT NULL,
    path        TEXT NOT NULL,
    model       TEXT NOT NULL,
    vector      TEXT NOT NULL,
    PRIMARY KEY (project_id, chunk_id)
);
CREATE INDEX chunk_vectors_path ON chunk_vectors (project_id, path);
