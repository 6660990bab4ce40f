-- The durable job queue. A worker claims a due job by taking a lease; a lapsed
-- lease makes the job claimable again, resuming from its saved progress.
CREATE TABLE jobs (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    kind              TEXT NOT NULL,
    payload           TEXT NOT NULL,      -- JSON
    status            TEXT NOT NULL,      -- queued | running | succeeded | failed
    attempts          INTEGER NOT NULL DEFAULT 0,
    max_attempts      INTEGER NOT NULL,
    run_at            INTEGER NOT NULL,
    lease_owner       TEXT,
    lease_expires_at  INTEGER,
    progress          TEXT NOT NULL DEFAULT '{}',
    error             TEXT,
    dedupe_key        TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs(status, run_at);
CREATE INDEX jobs_by_org ON jobs(org_id, created_at);
-- At most one unfinished job per dedupe key (e.g. one sync per data source).
CREATE UNIQUE INDEX jobs_dedupe ON jobs(dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'running');
