-- Keep each chunk's vector in its row. A chunk row (text, tsvector, the BYTEA copy of the
-- embedding and the vector) runs past PostgreSQL's 2 kB threshold, and `vector`'s default
-- storage then moves the vector out of line: every exact scan, and every row an HNSW search
-- re-reads to compute its distance and check its filter, paid a TOAST fetch per chunk
-- (an exact scan of 90,000 chunks took 6.8 s). MAIN keeps it inline and moves the text and
-- the BYTEA copy out first. Rows written from now on; older rows move when rewritten.
ALTER TABLE chunks ALTER COLUMN embedding_v SET STORAGE MAIN;
