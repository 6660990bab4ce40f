-- Documents, chunks (with their embeddings: the vector index's source of truth),
-- and the change log that the derived indexes (tantivy, in-memory vectors) replay.
CREATE TABLE documents (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    data_source_id  TEXT NOT NULL REFERENCES data_sources(id) ON DELETE CASCADE,
    source_key      TEXT NOT NULL,
    title           TEXT NOT NULL,
    url             TEXT,
    filename        TEXT,
    content_hash    TEXT NOT NULL,
    metadata        TEXT NOT NULL,       -- JSON object
    chunks          INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (data_source_id, source_key)
);
CREATE INDEX documents_by_org ON documents(org_id, data_source_id);

CREATE TABLE chunks (
    id            TEXT NOT NULL UNIQUE,
    document_id   TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    text          TEXT NOT NULL,
    heading_path  TEXT NOT NULL,         -- JSON array
    token_count   INTEGER NOT NULL,
    page          INTEGER,
    embedding     BLOB                   -- little-endian f32, unit length; NULL in lexical-only mode
);
CREATE INDEX chunks_by_document ON chunks(document_id, position);

-- One row per document change, in commit order. Indexes remember the last seq they applied.
CREATE TABLE index_changes (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id  TEXT NOT NULL
);

-- Settings the indexes must agree with (e.g. the embedding model id).
CREATE TABLE index_meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
