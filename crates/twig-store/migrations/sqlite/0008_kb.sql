-- Knowledge-base articles (latest version) and every version written.
CREATE TABLE kb_articles (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    data_source_id  TEXT NOT NULL REFERENCES data_sources(id),
    title           TEXT NOT NULL,
    content         TEXT NOT NULL,
    tags            TEXT NOT NULL,      -- JSON array
    status          TEXT NOT NULL,      -- draft | published
    version         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX kb_articles_by_org ON kb_articles(org_id, status, created_at);

CREATE TABLE kb_article_versions (
    article_id  TEXT NOT NULL REFERENCES kb_articles(id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    title       TEXT NOT NULL,
    content     TEXT NOT NULL,
    tags        TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (article_id, version)
);

-- One built-in knowledge-base data source per org.
CREATE UNIQUE INDEX data_sources_one_kb ON data_sources(org_id) WHERE type = 'kb';
