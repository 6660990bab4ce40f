-- The whole schema of the SQLite migrations 0001-0011, for PostgreSQL. The same columns with the
-- same meanings, so one set of statements serves both engines: timestamps are unix
-- microseconds (BIGINT), booleans 0/1 (BIGINT), JSON is TEXT, embeddings little-endian f32
-- (BYTEA). Later changes are new files here and in ../sqlite, each add-only.
CREATE TABLE orgs (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    rate_limits  TEXT
);

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    email_key   TEXT NOT NULL,
    name        TEXT,
    role        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email_per_org ON users(org_id, email_key);
CREATE INDEX users_by_org ON users(org_id, created_at);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    environment  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT,
    user_id      TEXT REFERENCES users(id) ON DELETE SET NULL,
    rate_limits  TEXT
);
CREATE INDEX api_keys_by_org ON api_keys(org_id, created_at);
CREATE INDEX api_keys_by_user ON api_keys(user_id);

CREATE TABLE data_sources (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    type             TEXT NOT NULL,
    name             TEXT NOT NULL,
    config           TEXT NOT NULL,
    sync_frequency   TEXT NOT NULL,
    status           TEXT NOT NULL,
    chunks_indexed   BIGINT NOT NULL DEFAULT 0,
    last_synced_at   BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    sync_total       BIGINT NOT NULL DEFAULT 0,
    sync_done        BIGINT NOT NULL DEFAULT 0,
    sync_failed      BIGINT NOT NULL DEFAULT 0,
    sync_started_at  BIGINT,
    sync_cursor      TEXT
);
CREATE INDEX data_sources_by_org ON data_sources(org_id, created_at);
CREATE UNIQUE INDEX data_sources_one_kb ON data_sources(org_id) WHERE type = 'kb';

CREATE TABLE agents (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    system_prompt  TEXT NOT NULL,
    rag_strategy   TEXT NOT NULL,
    model          TEXT NOT NULL,
    temperature    DOUBLE PRECISION NOT NULL,
    max_tokens     BIGINT NOT NULL,
    status         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX agents_by_org ON agents(org_id, created_at);

CREATE TABLE agent_data_sources (
    agent_id        TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    data_source_id  TEXT NOT NULL REFERENCES data_sources(id) ON DELETE CASCADE,
    position        BIGINT NOT NULL,
    PRIMARY KEY (agent_id, data_source_id)
);
CREATE INDEX agent_data_sources_by_ds ON agent_data_sources(data_source_id);

CREATE TABLE documents (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    data_source_id  TEXT NOT NULL REFERENCES data_sources(id) ON DELETE CASCADE,
    source_key      TEXT NOT NULL,
    title           TEXT NOT NULL,
    url             TEXT,
    filename        TEXT,
    content_hash    TEXT NOT NULL,
    metadata        TEXT NOT NULL,
    chunks          BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'indexed',
    error           TEXT,
    sync_state      TEXT NOT NULL DEFAULT '{}',
    UNIQUE (data_source_id, source_key)
);
CREATE INDEX documents_by_org ON documents(org_id, data_source_id);
CREATE INDEX documents_by_status ON documents(data_source_id, status, created_at);

CREATE TABLE chunks (
    id            TEXT NOT NULL UNIQUE,
    document_id   TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    position      BIGINT NOT NULL,
    text          TEXT NOT NULL,
    heading_path  TEXT NOT NULL,
    token_count   BIGINT NOT NULL,
    page          BIGINT,
    embedding     BYTEA
);
CREATE INDEX chunks_by_document ON chunks(document_id, position);

CREATE TABLE index_changes (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    document_id  TEXT NOT NULL
);

CREATE TABLE index_meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

CREATE TABLE jobs (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    kind              TEXT NOT NULL,
    payload           TEXT NOT NULL,
    status            TEXT NOT NULL,
    attempts          BIGINT NOT NULL DEFAULT 0,
    max_attempts      BIGINT NOT NULL,
    run_at            BIGINT NOT NULL,
    lease_owner       TEXT,
    lease_expires_at  BIGINT,
    progress          TEXT NOT NULL DEFAULT '{}',
    error             TEXT,
    dedupe_key        TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs(status, run_at);
CREATE INDEX jobs_by_org ON jobs(org_id, created_at);
CREATE UNIQUE INDEX jobs_dedupe ON jobs(dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'running');

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    agent_id    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions(org_id, expires_at);

CREATE TABLE session_turns (
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq         BIGINT NOT NULL,
    role        TEXT NOT NULL,
    content     TEXT NOT NULL,
    sources     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (session_id, seq)
);

CREATE TABLE interactions (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    agent_id          TEXT NOT NULL,
    session_id        TEXT,
    key_id            TEXT,
    query             TEXT NOT NULL,
    rewritten_query   TEXT,
    response          TEXT NOT NULL,
    sources           TEXT NOT NULL,
    model             TEXT NOT NULL,
    rag_strategy      TEXT NOT NULL,
    tokens_input      BIGINT NOT NULL,
    tokens_output     BIGINT NOT NULL,
    cost_usd          DOUBLE PRECISION NOT NULL,
    latency_ms        BIGINT NOT NULL,
    status            TEXT NOT NULL,
    error             TEXT,
    feedback          TEXT,
    feedback_comment  TEXT,
    feedback_at       BIGINT,
    created_at        BIGINT NOT NULL,
    source_count      BIGINT GENERATED ALWAYS AS (json_array_length(sources::json)) STORED
);
CREATE INDEX interactions_by_org ON interactions(org_id, created_at);
CREATE INDEX interactions_by_agent ON interactions(org_id, agent_id, created_at);
CREATE INDEX interactions_analytics ON interactions(
    org_id, created_at, agent_id, latency_ms, session_id, status, feedback, cost_usd, source_count);

CREATE TABLE webhooks (
    id                       TEXT PRIMARY KEY,
    org_id                   TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    url                      TEXT NOT NULL,
    description              TEXT,
    events                   TEXT NOT NULL,
    enabled                  BIGINT NOT NULL,
    disabled_reason          TEXT,
    failing_since            BIGINT,
    secret                   TEXT NOT NULL,
    previous_secret          TEXT,
    previous_secret_until    BIGINT,
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL
);
CREATE INDEX webhooks_by_org ON webhooks(org_id, created_at);

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    webhook_id       TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL,
    event            TEXT NOT NULL,
    body             TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         TEXT NOT NULL DEFAULT '[]',
    series_start     BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries(webhook_id, created_at);

CREATE TABLE kb_articles (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    data_source_id  TEXT NOT NULL REFERENCES data_sources(id),
    title           TEXT NOT NULL,
    content         TEXT NOT NULL,
    tags            TEXT NOT NULL,
    status          TEXT NOT NULL,
    version         BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX kb_articles_by_org ON kb_articles(org_id, status, created_at);

CREATE TABLE kb_article_versions (
    article_id  TEXT NOT NULL REFERENCES kb_articles(id) ON DELETE CASCADE,
    version     BIGINT NOT NULL,
    title       TEXT NOT NULL,
    content     TEXT NOT NULL,
    tags        TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (article_id, version)
);

CREATE TABLE slack_settings (
    org_id               TEXT PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
    team_id              TEXT NOT NULL UNIQUE,
    default_agent_id     TEXT NOT NULL,
    allowed_channel_ids  TEXT NOT NULL,
    show_citations       BIGINT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);

CREATE TABLE slack_events (
    team_id      TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    org_id       TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (team_id, event_id)
);
CREATE INDEX slack_events_by_age ON slack_events(received_at);
