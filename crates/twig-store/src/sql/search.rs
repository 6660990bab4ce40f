//! Search inside PostgreSQL: a generated `tsvector` with a GIN index for the lexical side
//! (ranked by BM25 computed in the query),
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
        if limit == 0 || data_sources.is_some_and(|d| d.is_empty()) {
            return Ok(Vec::new());
        }
        // BM25 (k1 1.2, b 0.75, as the embedded engine) computed in the query: ts_rank has no
        // inverse document frequency, which cost SciFact 0.08 nDCG@10 on the lexical side.
        // Every chunk holding a query word is a candidate, so counting candidates per word is
        // that word's document frequency in scope; N is the scope's chunk count; a chunk's
        // length is its token count, averaged over the candidates (the one approximation: the
        // embedded engine averages over every chunk). Only the query's words are unnested.
        // plainto_tsquery ANDs the words; any of them may match, so the ANDs become ORs.
        let mut q = Sql::new("WITH q AS (SELECT CAST(replace(CAST(plainto_tsquery('english', ");
        q.push_bind(query)
            .push(
                ") AS TEXT), ' & ', ' | ') AS tsquery) AS q,
                    array(SELECT lexeme FROM unnest(to_tsvector('english', ",
            )
            .push_bind(query)
            .push(
                "))) AS terms),
             m AS (SELECT c.id, c.tsv, GREATEST(c.token_count, 1) AS dl FROM chunks c, q
                   WHERE c.tsv @@ q.q AND",
            );
        scope(&mut q, "c", org, data_sources);
        q.push(
            "),
             hits AS (SELECT m.id, m.dl, u.lexeme, COALESCE(array_length(u.positions, 1), 1) AS tf
                      FROM m, q, unnest(m.tsv) AS u WHERE u.lexeme = ANY(q.terms)),
             df AS (SELECT lexeme, COUNT(*) AS n FROM hits GROUP BY lexeme),
             avg AS (SELECT AVG(dl) AS avgdl FROM m),
             total AS (SELECT CAST(COALESCE(SUM(e.chunks), 0) AS DOUBLE PRECISION) AS n FROM documents e WHERE",
        );
        scope(&mut q, "e", org, data_sources);
        q.push(&format!(
            ")
             SELECT hits.id, CAST(SUM(
                    ln(1 + (GREATEST(total.n, df.n) - df.n + 0.5) / (df.n + 0.5))
                    * hits.tf * 2.2 / (hits.tf + 1.2 * (0.25 + 0.75 * hits.dl / avg.avgdl))
                ) AS DOUBLE PRECISION) AS score
             FROM hits JOIN df USING (lexeme), avg, total
             GROUP BY hits.id ORDER BY score DESC, hits.id LIMIT {limit}"
        ));
        let rows = q.build().fetch_all(&self.read).await.map_err(backend)?;
        scored(rows)
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
