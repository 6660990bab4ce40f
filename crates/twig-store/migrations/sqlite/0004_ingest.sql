-- Ingestion: per-document state, per-page crawl state, and the progress of a data source's sync.
-- queued | processing | indexed | failed; rows written before this migration were indexed.
ALTER TABLE documents ADD COLUMN status TEXT NOT NULL DEFAULT 'indexed';
ALTER TABLE documents ADD COLUMN error TEXT;
-- Source-specific resume state, e.g. a page's ETag, Last-Modified and outgoing links (JSON).
ALTER TABLE documents ADD COLUMN sync_state TEXT NOT NULL DEFAULT '{}';
CREATE INDEX documents_by_status ON documents(data_source_id, status, created_at);

-- Counters of the current (or last) sync run, and when it started.
ALTER TABLE data_sources ADD COLUMN sync_total INTEGER NOT NULL DEFAULT 0;
ALTER TABLE data_sources ADD COLUMN sync_done INTEGER NOT NULL DEFAULT 0;
ALTER TABLE data_sources ADD COLUMN sync_failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE data_sources ADD COLUMN sync_started_at INTEGER;
