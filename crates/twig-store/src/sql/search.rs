//! Search inside PostgreSQL: a generated `tsvector` with a GIN index for the lexical side
//! (ranked by BM25 computed in the query, over word frequencies kept by triggers),
//! pgvector's HNSW (cosine) for the vector side, both scoped to the org and data sources in
//! the query (see migrations/postgres/0002_search.sql).
//!
//! The HNSW index is an expression index per embedding size, `embedding_v::vector(dim)` over
//! the rows of that size, since one column may briefly hold vectors of two models (a reindex
//! to a model of another size) and an index needs one size. Filtered searches use pgvector
//! 0.8's iterative index scans, so a filter that rejects most of the graph's neighbours still
//! fills `limit` instead of returning the few that survived the first `ef_search` candidates.

use super::{backend, Dialect, Sql, SqlStore};
use async_trait::async_trait;
use sqlx::Row;
use twig_core::document::decode_embedding;
use twig_core::id::{ChunkId, DataSourceId, OrgId};
use twig_core::store::{ChunkSearch, ScoredChunk, StoreResult};

/// Rows whose `embedding_v` is filled per statement when catching up.
const BACKFILL_BATCH: i64 = 500;
/// Fewest HNSW candidates a search considers (pgvector's default `ef_search` is 40).
const MIN_EF_SEARCH: usize = 100;
/// Most index tuples an iterative scan visits before it settles for what it has.
const MAX_SCAN_TUPLES: usize = 50_000;
/// Most chunks a lexical search ranks (see `SqlStore::lexical_within`).
pub const LEXICAL_CANDIDATES: usize = 5_000;

/// `[x1,x2,…]`, pgvector's text form (Rust prints the shortest string that reads back exactly).
pub(crate) fn vector_literal(v: &[f32]) -> String {
    let mut s = String::with_capacity(v.len() * 12 + 2);
    s.push('[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        // NaN and infinities are refused by pgvector; embeddings never hold them.
        s.push_str(&x.to_string());
    }
    s.push(']');
    s
}

/// Appends the org and data-source scope of the rows aliased `alias` (chunks or documents).
fn scope<'q>(
    q: &mut Sql<'q>,
    alias: &str,
    org: &'q OrgId,
    data_sources: Option<&'q [DataSourceId]>,
) {
    q.push(&format!(" {alias}.org_id = "))
        .push_bind(org.as_str());
    if let Some(ds) = data_sources {
        q.push(&format!(" AND {alias}.data_source_id IN "))
            .push_list(ds.iter().map(|d| d.as_str()));
    }
}

fn scored(rows: Vec<sqlx::any::AnyRow>) -> StoreResult<Vec<ScoredChunk>> {
    rows.iter()
        .map(|r| {
            Ok(ScoredChunk {
                chunk_id: ChunkId::from_trusted(r.try_get("id").map_err(backend)?),
                score: r.try_get::<f64, _>("score").map_err(backend)? as f32,
            })
        })
        .collect()
}

impl SqlStore {
    /// BM25 (k1 1.2, b 0.75, as the embedded engine) over at most `candidates` chunks
    /// (`None`: every chunk holding a query word).
    ///
    /// ts_rank has no inverse document frequency, which cost SciFact 0.08 nDCG@10 on the
    /// lexical side, so the score is computed here. Each word's document frequency in scope
    /// comes from `lexeme_stats` (0003_lexeme_stats.sql), N is the scope's chunk count, and a
    /// chunk's length is its token count, averaged over the candidates (the one approximation:
    /// the embedded engine averages over every chunk).
    ///
    /// Candidates are the chunks holding the rarest words, taken while their frequencies add
    /// up to at most `candidates`; the commoner words only add to those chunks' scores. A word
    /// in most chunks has an IDF near zero, so a chunk holding only such words would rank low
    /// anyway, and ranking every chunk of a million that holds one cost seconds per query.
    /// When even the rarest word is in more chunks than that, any `candidates` of them are
    /// ranked. Within the bound (every small corpus, SciFact included) this is exact BM25.
    pub async fn lexical_within(
        &self,
        org: &OrgId,
        data_sources: Option<&[DataSourceId]>,
        query: &str,
        limit: usize,
        candidates: Option<usize>,
    ) -> StoreResult<Vec<ScoredChunk>> {
        if limit == 0 || data_sources.is_some_and(|d| d.is_empty()) {
            return Ok(Vec::new());
        }
        let (driver, cap) = match candidates {
            Some(n) => (format!("r.rn = 1 OR r.cum <= {n}"), format!(" LIMIT {n}")),
            None => ("TRUE".to_string(), String::new()),
        };
        let mut q =
            Sql::new("WITH terms AS (SELECT DISTINCT lexeme FROM unnest(to_tsvector('english', ");
        q.push_bind(query).push(
            "))),
             st AS (SELECT t.lexeme, CAST(SUM(s.chunks) AS DOUBLE PRECISION) AS df
                    FROM terms t JOIN lexeme_stats s ON s.lexeme = t.lexeme AND",
        );
        scope(&mut q, "s", org, data_sources);
        // Lexemes are never parsed as query syntax: each is quoted as tsquery text (quotes and
        // backslashes doubled) before the cast.
        q.push(&format!(
            r#" GROUP BY t.lexeme HAVING SUM(s.chunks) > 0),
             drivers AS (SELECT CAST(string_agg(
                        '''' || replace(replace(r.lexeme, '\', '\\'), '''', '''''') || '''', ' | ')
                        AS tsquery) AS q
                    FROM (SELECT lexeme, SUM(df) OVER (ORDER BY df, lexeme) AS cum,
                                 row_number() OVER (ORDER BY df, lexeme) AS rn FROM st) r
                    WHERE {driver}),
             m AS (SELECT c.id, c.tsv, GREATEST(c.token_count, 1) AS dl FROM chunks c, drivers
                   WHERE c.tsv @@ drivers.q AND"#
        ));
        scope(&mut q, "c", org, data_sources);
        q.push(&format!(
            "{cap}),
             hits AS (SELECT m.id, m.dl, st.df, COALESCE(array_length(u.positions, 1), 1) AS tf
                      FROM m CROSS JOIN LATERAL unnest(m.tsv) u JOIN st ON st.lexeme = u.lexeme),
             avg AS (SELECT AVG(dl) AS avgdl FROM m),
             total AS (SELECT CAST(COALESCE(SUM(e.chunks), 0) AS DOUBLE PRECISION) AS n
                       FROM documents e WHERE"
        ));
        scope(&mut q, "e", org, data_sources);
        q.push(&format!(
            ")
             SELECT hits.id, CAST(SUM(
                    ln(1 + (GREATEST(total.n, hits.df) - hits.df + 0.5) / (hits.df + 0.5))
                    * hits.tf * 2.2 / (hits.tf + 1.2 * (0.25 + 0.75 * hits.dl / avg.avgdl))
                ) AS DOUBLE PRECISION) AS score
             FROM hits, avg, total
             GROUP BY hits.id ORDER BY score DESC, hits.id LIMIT {limit}"
        ));
        let rows = q.build().fetch_all(&self.read).await.map_err(backend)?;
        scored(rows)
    }

    async fn nearest_with(
        &self,
        org: &OrgId,
        data_sources: Option<&[DataSourceId]>,
        query: &[f32],
        limit: usize,
        exact: bool,
    ) -> StoreResult<Vec<ScoredChunk>> {
        if limit == 0 || data_sources.is_some_and(|d| d.is_empty()) {
            return Ok(Vec::new());
        }
        let dim = query.len();
        let mut tx = self.read.begin().await.map_err(backend)?;
        let settings: Vec<String> = if exact {
            // No index: the planner scans and sorts every row in scope.
            vec!["SET LOCAL enable_indexscan = off".into()]
        } else {
            vec![
                format!(
                    "SET LOCAL hnsw.ef_search = {}",
                    limit.clamp(MIN_EF_SEARCH, 1000)
                ),
                "SET LOCAL hnsw.iterative_scan = relaxed_order".into(),
                format!("SET LOCAL hnsw.max_scan_tuples = {MAX_SCAN_TUPLES}"),
            ]
        };
        for s in settings {
            sqlx::query(&s).execute(&mut *tx).await.map_err(backend)?;
        }
        let literal = vector_literal(query);
        // relaxed_order may yield slightly out of order: the outer query sorts exactly.
        let mut q = Sql::new(format!(
            "SELECT id, CAST(1 - dist AS DOUBLE PRECISION) AS score FROM (
                SELECT c.id, CAST(c.embedding_v AS vector({dim})) <=> CAST("
        ));
        q.push_bind(literal.as_str()).push(&format!(
            " AS vector({dim})) AS dist FROM chunks c WHERE vector_dims(c.embedding_v) = {dim} AND"
        ));
        scope(&mut q, "c", org, data_sources);
        q.push(&format!(
            " ORDER BY dist LIMIT {limit}) s ORDER BY dist, id"
        ));
        let rows = q.build().fetch_all(&mut *tx).await.map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        scored(rows)
    }
}

#[async_trait]
impl ChunkSearch for SqlStore {
    async fn prepare(&self, dim: Option<usize>) -> StoreResult<()> {
        debug_assert_eq!(self.dialect, Dialect::Postgres);
        // Under the write lock, so nodes starting together build the index once.
        let mut tx = self.begin().await?;
        if let Some(dim) = dim {
            sqlx::query(&format!(
                "CREATE INDEX IF NOT EXISTS chunks_embedding_hnsw_{dim} ON chunks
                 USING hnsw ((CAST(embedding_v AS vector({dim}))) vector_cosine_ops)
                 WHERE vector_dims(embedding_v) = {dim}"
            ))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        // Rows copied in by `twig migrate` carry neither scope nor vector yet.
        sqlx::query(
            "UPDATE chunks c SET org_id = d.org_id, data_source_id = d.data_source_id, doc_title = d.title
             FROM documents d WHERE d.id = c.document_id AND c.org_id IS NULL",
        )
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        loop {
            let mut tx = self.begin().await?;
            let rows = sqlx::query(
                "SELECT id, embedding FROM chunks WHERE embedding IS NOT NULL AND embedding_v IS NULL
                 ORDER BY id LIMIT $1",
            )
            .bind(BACKFILL_BATCH)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
            if rows.is_empty() {
                return tx.commit().await.map_err(backend);
            }
            for r in &rows {
                let id: String = r.try_get("id").map_err(backend)?;
                let bytes: Vec<u8> = r.try_get("embedding").map_err(backend)?;
                let v = decode_embedding(&bytes)
                    .ok_or_else(|| backend(anyhow::anyhow!("corrupt embedding of chunk {id}")))?;
                sqlx::query("UPDATE chunks SET embedding_v = CAST($1 AS vector) WHERE id = $2")
                    .bind(vector_literal(&v))
                    .bind(&id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
            }
            tx.commit().await.map_err(backend)?;
        }
    }

    async fn lexical(
        &self,
        org: &OrgId,
        data_sources: Option<&[DataSourceId]>,
        query: &str,
        limit: usize,
    ) -> StoreResult<Vec<ScoredChunk>> {
        self.lexical_within(org, data_sources, query, limit, Some(LEXICAL_CANDIDATES))
            .await
    }

    async fn lexical_exact(
        &self,
        org: &OrgId,
        data_sources: Option<&[DataSourceId]>,
        query: &str,
        limit: usize,
    ) -> StoreResult<Vec<ScoredChunk>> {
        self.lexical_within(org, data_sources, query, limit, None)
            .await
    }

    async fn nearest(
        &self,
        org: &OrgId,
        data_sources: Option<&[DataSourceId]>,
        query: &[f32],
        limit: usize,
    ) -> StoreResult<Vec<ScoredChunk>> {
        self.nearest_with(org, data_sources, query, limit, false)
            .await
    }

    async fn nearest_exact(
        &self,
        org: &OrgId,
        data_sources: Option<&[DataSourceId]>,
        query: &[f32],
        limit: usize,
    ) -> StoreResult<Vec<ScoredChunk>> {
        self.nearest_with(org, data_sources, query, limit, true)
            .await
    }

    async fn cosines(
        &self,
        org: &OrgId,
        query: &[f32],
        ids: &[ChunkId],
    ) -> StoreResult<Vec<ScoredChunk>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let dim = query.len();
        let literal = vector_literal(query);
        let mut q = Sql::new(format!(
            "SELECT c.id, CAST(1 - (CAST(c.embedding_v AS vector({dim})) <=> CAST("
        ));
        q.push_bind(literal.as_str())
            .push(&format!(
                " AS vector({dim}))) AS DOUBLE PRECISION) AS score FROM chunks c
                 WHERE vector_dims(c.embedding_v) = {dim} AND c.org_id = "
            ))
            .push_bind(org.as_str())
            .push(" AND c.id IN ")
            .push_list(ids.iter().map(|i| i.as_str()));
        let rows = q.build().fetch_all(&self.read).await.map_err(backend)?;
        scored(rows)
    }
}
