-- Webhook endpoints and the outbox of their deliveries. A delivery row (with the
-- exact body to send) and its job are written in the transaction of the change
-- that caused the event, so an event is never lost nor sent for a rolled-back change.
CREATE TABLE webhooks (
    id                       TEXT PRIMARY KEY,
    org_id                   TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    url                      TEXT NOT NULL,
    description              TEXT,
    events                   TEXT NOT NULL,      -- JSON array of event names
    enabled                  INTEGER NOT NULL,
    disabled_reason          TEXT,
    failing_since            INTEGER,
    secret                   TEXT NOT NULL,
    previous_secret          TEXT,
    previous_secret_until    INTEGER,
    created_at               INTEGER NOT NULL,
    updated_at               INTEGER NOT NULL
);
CREATE INDEX webhooks_by_org ON webhooks(org_id, created_at);

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    webhook_id       TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL,
    event            TEXT NOT NULL,
    body             TEXT NOT NULL,
    status           TEXT NOT NULL,      -- pending | succeeded | failed
    attempts         TEXT NOT NULL DEFAULT '[]',   -- JSON array of attempts
    series_start     INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries(webhook_id, created_at);
