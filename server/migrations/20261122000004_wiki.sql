-- Wiki generation (SPEC §8): jobs, their pages, and which job's pages are a project's
-- current wiki in each language. A job and each of its pages are claimed by one worker
-- at a time through `claimed_by` + `lease_until` (milliseconds); a worker that dies
-- stops renewing its lease, and another takes over once it has expired.

CREATE TABLE wiki_jobs (
    id                  TEXT PRIMARY KEY,
    project_id          TEXT NOT NULL,
    language            TEXT NOT NULL,
    provider            TEXT NOT NULL,
    model               TEXT NOT NULL,
    comprehensive       BIGINT NOT NULL,
    filters             TEXT NOT NULL,
    status              TEXT NOT NULL,
    current_phase       BIGINT NOT NULL,
    message             TEXT NOT NULL,
    error               TEXT,
    -- JSON of the structure once phase 1 is done; NULL before.
    structure           TEXT,
    structure_fallback  BIGINT NOT NULL DEFAULT 0,
    claimed_by          TEXT,
    lease_until         BIGINT NOT NULL DEFAULT 0,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);

CREATE INDEX wiki_jobs_project ON wiki_jobs (project_id, created_at);
CREATE INDEX wiki_jobs_status ON wiki_jobs (status);

CREATE TABLE wiki_pages (
    job_id          TEXT NOT NULL REFERENCES wiki_jobs (id),
    page_id         TEXT NOT NULL,
    -- Order in the structure.
    position        BIGINT NOT NULL,
    section         TEXT NOT NULL,
    title           TEXT NOT NULL,
    importance      TEXT NOT NULL,
    relevant_files  TEXT NOT NULL,
    related_pages   TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    error           TEXT,
    content         TEXT,
    claimed_by      TEXT,
    lease_until     BIGINT NOT NULL DEFAULT 0,
    -- A failed attempt is retried no sooner than this.
    not_before      BIGINT NOT NULL DEFAULT 0,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (job_id, page_id)
);

CREATE INDEX wiki_pages_claim ON wiki_pages (job_id, status, position);

-- Switched to the new job only when it finishes, so a regeneration never leaves a
-- project without its previous wiki.
CREATE TABLE wikis (
    project_id  TEXT NOT NULL,
    language    TEXT NOT NULL,
    job_id      TEXT NOT NULL REFERENCES wiki_jobs (id),
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (project_id, language)
);
