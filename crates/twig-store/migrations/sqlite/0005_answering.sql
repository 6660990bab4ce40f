-- Multi-turn sessions and the record of every query (interactions with feedback).
CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    agent_id    TEXT NOT NULL,           -- no FK: a deleted agent's sessions simply expire
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_expiry ON sessions(org_id, expires_at);

CREATE TABLE session_turns (
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    role        TEXT NOT NULL,           -- user | assistant
    content     TEXT NOT NULL,
    sources     TEXT NOT NULL,           -- JSON array of chunk ids
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (session_id, seq)
);

-- Kept after their session expires (analytics); agent and session are plain references.
CREATE TABLE interactions (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    agent_id          TEXT NOT NULL,
    session_id        TEXT,
    key_id            TEXT,
    query             TEXT NOT NULL,
    rewritten_query   TEXT,
    response          TEXT NOT NULL,
    sources           TEXT NOT NULL,     -- JSON array of sources as returned
    model             TEXT NOT NULL,
    rag_strategy      TEXT NOT NULL,
    tokens_input      INTEGER NOT NULL,
    tokens_output     INTEGER NOT NULL,
    cost_usd          REAL NOT NULL,
    latency_ms        INTEGER NOT NULL,
    status            TEXT NOT NULL,     -- completed | failed | cancelled
    error             TEXT,
    feedback          TEXT,              -- positive | negative | NULL
    feedback_comment  TEXT,
    feedback_at       INTEGER,
    created_at        INTEGER NOT NULL
);
CREATE INDEX interactions_by_org ON interactions(org_id, created_at);
CREATE INDEX interactions_by_agent ON interactions(org_id, agent_id, created_at);
