-- How many chunks of each data source hold each word, kept by triggers on `chunks`.
--
-- A lexical search reads its words' document frequencies here instead of counting their
-- matches (BM25's IDF), and draws candidates from its rarer words only: ranking every chunk
-- that holds a word found in most of a million chunks took seconds (see sql/search.rs).
-- Statement-level triggers with transition tables, so a write of many chunks is one
-- aggregate; rows without a scope yet (copied in by `twig migrate`) count once `prepare`
-- gives them one, through the update trigger.
CREATE TABLE lexeme_stats (
    org_id TEXT NOT NULL,
    lexeme TEXT NOT NULL,
    data_source_id TEXT NOT NULL,
    chunks BIGINT NOT NULL,
    PRIMARY KEY (org_id, lexeme, data_source_id)
);

CREATE FUNCTION lexeme_stats_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- plpgsql plans each statement when it first runs, so each branch only names the
    -- transition tables its event has.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO lexeme_stats (org_id, lexeme, data_source_id, chunks)
        SELECT r.org_id, u.lexeme, r.data_source_id, COUNT(*)
        FROM new_rows r, unnest(r.tsv) u
        WHERE r.org_id IS NOT NULL AND r.data_source_id IS NOT NULL
        GROUP BY 1, 2, 3
        ON CONFLICT (org_id, lexeme, data_source_id)
        DO UPDATE SET chunks = lexeme_stats.chunks + EXCLUDED.chunks;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE lexeme_stats s SET chunks = s.chunks - o.n
        FROM (SELECT r.org_id, u.lexeme, r.data_source_id, COUNT(*) AS n
              FROM old_rows r, unnest(r.tsv) u
              WHERE r.org_id IS NOT NULL AND r.data_source_id IS NOT NULL
              GROUP BY 1, 2, 3) o
        WHERE s.org_id = o.org_id AND s.lexeme = o.lexeme AND s.data_source_id = o.data_source_id;
    ELSE
        -- Only what changed: most updates (an embedding filled in) leave every word as it was.
        INSERT INTO lexeme_stats (org_id, lexeme, data_source_id, chunks)
        SELECT org_id, lexeme, data_source_id, SUM(n) FROM (
            SELECT r.org_id, u.lexeme, r.data_source_id, 1 AS n
            FROM new_rows r, unnest(r.tsv) u
            WHERE r.org_id IS NOT NULL AND r.data_source_id IS NOT NULL
            UNION ALL
            SELECT r.org_id, u.lexeme, r.data_source_id, -1 AS n
            FROM old_rows r, unnest(r.tsv) u
            WHERE r.org_id IS NOT NULL AND r.data_source_id IS NOT NULL
        ) d
        GROUP BY 1, 2, 3 HAVING SUM(n) <> 0
        ON CONFLICT (org_id, lexeme, data_source_id)
        DO UPDATE SET chunks = lexeme_stats.chunks + EXCLUDED.chunks;
    END IF;
    -- Only words the old rows held can have dropped to zero.
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM lexeme_stats s
        USING (SELECT DISTINCT r.org_id, u.lexeme, r.data_source_id
               FROM old_rows r, unnest(r.tsv) u
               WHERE r.org_id IS NOT NULL AND r.data_source_id IS NOT NULL) o
        WHERE s.org_id = o.org_id AND s.lexeme = o.lexeme AND s.data_source_id = o.data_source_id
          AND s.chunks <= 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER chunks_lexeme_stats_insert AFTER INSERT ON chunks
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lexeme_stats_apply();
CREATE TRIGGER chunks_lexeme_stats_delete AFTER DELETE ON chunks
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lexeme_stats_apply();
CREATE TRIGGER chunks_lexeme_stats_update AFTER UPDATE ON chunks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lexeme_stats_apply();

INSERT INTO lexeme_stats (org_id, lexeme, data_source_id, chunks)
SELECT c.org_id, u.lexeme, c.data_source_id, COUNT(*)
FROM chunks c, unnest(c.tsv) u
WHERE c.org_id IS NOT NULL AND c.data_source_id IS NOT NULL
GROUP BY 1, 2, 3;
