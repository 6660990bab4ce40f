-- Connector syncs: where the next sync of a data source resumes (the connector's own cursor,
-- saved after each committed page, JSON). NULL: the next sync lists everything.
ALTER TABLE data_sources ADD COLUMN sync_cursor TEXT;
