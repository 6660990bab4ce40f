-- Search inside PostgreSQL, so API nodes hold no index state of their own.
--
-- Chunks carry their document's org, data source and title (copied on every write, since a
-- document's title only changes when its chunks are rewritten), so both retrievers filter
-- inside the query without a join. `tsv` is the lexical side (title, headings and text, as the
-- embedded engine's BM25 field), `embedding_v` the vector side; the HNSW index over it is made
-- per embedding size at start (see `ChunkSearch::prepare`), which this file cannot know. The BYTEA
-- `embedding` stays the copy records are read from; chunks written before this migration get
-- their `embedding_v` from it at start.
CREATE EXTENSION IF NOT EXISTS vector;

ALTER TABLE chunks ADD COLUMN org_id TEXT;
ALTER TABLE chunks ADD COLUMN data_source_id TEXT;
ALTER TABLE chunks ADD COLUMN doc_title TEXT NOT NULL DEFAULT '';
ALTER TABLE chunks ADD COLUMN embedding_v vector;

UPDATE chunks c SET org_id = d.org_id, data_source_id = d.data_source_id, doc_title = d.title
FROM documents d WHERE d.id = c.document_id;

ALTER TABLE chunks ADD COLUMN tsv tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english'::regconfig, doc_title), 'A') ||
    setweight(to_tsvector('english'::regconfig, heading_path), 'B') ||
    to_tsvector('english'::regconfig, text)
) STORED;

CREATE INDEX chunks_by_scope ON chunks(org_id, data_source_id);
CREATE INDEX chunks_lexical ON chunks USING gin(tsv);
