-- Analytics read only this index: (org, time) narrows the range and the other columns
-- cover every aggregate, so the wide rows (query, response, sources) are never read.
-- source_count is computed by SQLite from sources, so writers need not know of it.
ALTER TABLE interactions ADD COLUMN source_count INTEGER
    GENERATED ALWAYS AS (json_array_length(sources)) VIRTUAL;
CREATE INDEX interactions_analytics ON interactions(
    org_id, created_at, agent_id, latency_ms, session_id, status, feedback, cost_usd, source_count);
