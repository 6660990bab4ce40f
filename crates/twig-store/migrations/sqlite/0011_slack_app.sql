-- The Slack app: which workspace (team) an organisation connected, the agent answering there,
-- where it may answer; and the events already taken, so a retried event (same event_id) is
-- not answered twice, even after a restart. An event row and its answer job are written in
-- one transaction.
CREATE TABLE slack_settings (
    org_id               TEXT PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
    team_id              TEXT NOT NULL UNIQUE,
    default_agent_id     TEXT NOT NULL,      -- no FK: a deleted agent is reported in Slack
    allowed_channel_ids  TEXT NOT NULL,      -- JSON array; empty: every conversation
    show_citations       INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);

CREATE TABLE slack_events (
    team_id      TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    org_id       TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (team_id, event_id)
);
CREATE INDEX slack_events_by_age ON slack_events(received_at);
