-- Foundation records. Timestamps are unix microseconds (UTC).
CREATE TABLE orgs (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,          -- comma-separated scope names
    environment  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_keys_by_org ON api_keys(org_id, created_at);

CREATE TABLE data_sources (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    type            TEXT NOT NULL,
    name            TEXT NOT NULL,
    config          TEXT NOT NULL,       -- JSON object
    sync_frequency  TEXT NOT NULL,
    status          TEXT NOT NULL,
    chunks_indexed  INTEGER NOT NULL DEFAULT 0,
    last_synced_at  INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX data_sources_by_org ON data_sources(org_id, created_at);

CREATE TABLE agents (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    system_prompt  TEXT NOT NULL,
    rag_strategy   TEXT NOT NULL,
    model          TEXT NOT NULL,
    temperature    REAL NOT NULL,
    max_tokens     INTEGER NOT NULL,
    status         TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX agents_by_org ON agents(org_id, created_at);

-- Deleting a data source removes it from every agent that used it.
CREATE TABLE agent_data_sources (
    agent_id        TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    data_source_id  TEXT NOT NULL REFERENCES data_sources(id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    PRIMARY KEY (agent_id, data_source_id)
);
CREATE INDEX agent_data_sources_by_ds ON agent_data_sources(data_source_id);
