-- A git project first indexed with an access token is private: tokens are never stored,
-- so re-indexing it (or resuming its interrupted indexing) asks for the token again.
ALTER TABLE projects ADD COLUMN needs_token BIGINT NOT NULL DEFAULT 0;
