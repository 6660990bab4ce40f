//! Documents, chunks and the index change log.

use super::{backend, from_micros, micros, Dialect, Sql, SqlStore};
use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use twig_core::document::{
    decode_embedding, encode_embedding, ChunkDetail, Document, DocumentCounts, DocumentStatus,
    IndexChange, StoredChunk, VectorRow,
};
use twig_core::id::{ChunkId, DataSourceId, DocumentId, OrgId};
use twig_core::page::{Listed, Page};
use twig_core::store::{DocumentStore, StoreError, StoreResult};

/// Chunk rows per INSERT (12 values each on PostgreSQL; SQLite allows 32,766 per statement).
const CHUNK_ROWS_PER_INSERT: usize = 200;

const DOC_COLUMNS: &str =
    "d.id, d.org_id, d.data_source_id, d.source_key, d.title, d.url, d.filename, d.content_hash,
    d.metadata, d.chunks, d.status, d.error, d.created_at, d.updated_at";

fn doc_row(r: &AnyRow) -> StoreResult<Document> {
    let metadata: String = r.try_get("metadata").map_err(backend)?;
    let status: String = r.try_get("status").map_err(backend)?;
    Ok(Document {
        id: DocumentId::from_trusted(r.try_get("id").map_err(backend)?),
        org_id: OrgId::from_trusted(r.try_get("org_id").map_err(backend)?),
        data_source_id: DataSourceId::from_trusted(r.try_get("data_source_id").map_err(backend)?),
        source_key: r.try_get("source_key").map_err(backend)?,
        title: r.try_get("title").map_err(backend)?,
        url: r.try_get("url").map_err(backend)?,
        filename: r.try_get("filename").map_err(backend)?,
        content_hash: r.try_get("content_hash").map_err(backend)?,
        metadata: serde_json::from_str(&metadata).map_err(backend)?,
        chunks: r.try_get::<i64, _>("chunks").map_err(backend)?.max(0) as u32,
        status: DocumentStatus::parse(&status)
            .ok_or_else(|| backend(anyhow::anyhow!("unknown document status {status:?}")))?,
        error: r.try_get("error").map_err(backend)?,
        created_at: from_micros(r.try_get("created_at").map_err(backend)?)?,
        updated_at: from_micros(r.try_get("updated_at").map_err(backend)?)?,
    })
}

fn chunk_row(r: &AnyRow) -> StoreResult<StoredChunk> {
    let heading: String = r.try_get("heading_path").map_err(backend)?;
    let emb: Option<Vec<u8>> = r.try_get("embedding").map_err(backend)?;
    let embedding = match emb {
        None => None,
        Some(b) => Some(
            decode_embedding(&b).ok_or_else(|| backend(anyhow::anyhow!("corrupt embedding")))?,
        ),
    };
    Ok(StoredChunk {
        id: ChunkId::from_trusted(r.try_get("id").map_err(backend)?),
        document_id: DocumentId::from_trusted(r.try_get("document_id").map_err(backend)?),
        position: r.try_get::<i64, _>("position").map_err(backend)? as u32,
        text: r.try_get("text").map_err(backend)?,
        heading_path: serde_json::from_str(&heading).map_err(backend)?,
        token_count: r.try_get::<i64, _>("token_count").map_err(backend)? as u32,
        page: r
            .try_get::<Option<i64>, _>("page")
            .map_err(backend)?
            .map(|p| p as u32),
        embedding,
    })
}

/// Logs a change of `doc` and returns its seq.
async fn log_change(tx: &mut Transaction<'static, Any>, doc: &DocumentId) -> StoreResult<u64> {
    let seq: i64 =
        sqlx::query_scalar("INSERT INTO index_changes (document_id) VALUES ($1) RETURNING seq")
            .bind(doc.as_str())
            .fetch_one(&mut **tx)
            .await
            .map_err(backend)?;
    Ok(seq as u64)
}

/// Recomputes a data source's searchable chunk count.
async fn recount(tx: &mut Transaction<'static, Any>, ds: &DataSourceId) -> StoreResult<()> {
    sqlx::query(
        "UPDATE data_sources SET chunks_indexed =
            (SELECT CAST(COALESCE(SUM(chunks), 0) AS BIGINT) FROM documents WHERE data_source_id = $1) WHERE id = $1",
    )
    .bind(ds.as_str())
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(())
}

/// Logs the removal of every document of a data source (before it is deleted).
pub(super) async fn log_data_source_removal(
    tx: &mut Transaction<'static, Any>,
    ds: &DataSourceId,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO index_changes (document_id) SELECT id FROM documents WHERE data_source_id = $1 ORDER BY id")
        .bind(ds.as_str())
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    Ok(())
}

#[async_trait]
impl DocumentStore for SqlStore {
    async fn find_document(
        &self,
        ds: &DataSourceId,
        source_key: &str,
    ) -> StoreResult<Option<Document>> {
        let r = sqlx::query(&format!(
            "SELECT {DOC_COLUMNS} FROM documents d WHERE d.data_source_id = $1 AND d.source_key = $2"
        ))
        .bind(ds.as_str())
        .bind(source_key)
        .fetch_optional(&self.read)
        .await
        .map_err(backend)?;
        r.as_ref().map(doc_row).transpose()
    }

    async fn get_document(&self, org: &OrgId, id: &DocumentId) -> StoreResult<Option<Document>> {
        let r = sqlx::query(&format!(
            "SELECT {DOC_COLUMNS} FROM documents d WHERE d.org_id = $1 AND d.id = $2"
        ))
        .bind(org.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.read)
        .await
        .map_err(backend)?;
        r.as_ref().map(doc_row).transpose()
    }

    async fn upsert_document(&self, doc: &Document, chunks: &[StoredChunk]) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let ds_ok: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM data_sources WHERE id = $1 AND org_id = $2")
                .bind(doc.data_source_id.as_str())
                .bind(doc.org_id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        if ds_ok.is_none() {
            return Err(StoreError::Conflict(format!(
                "data source {} no longer exists",
                doc.data_source_id
            )));
        }
        sqlx::query(
            "INSERT INTO documents (id, org_id, data_source_id, source_key, title, url, filename, content_hash, metadata,
                chunks, status, error, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (id) DO UPDATE SET source_key = excluded.source_key, title = excluded.title,
                url = excluded.url, filename = excluded.filename, content_hash = excluded.content_hash,
                metadata = excluded.metadata, chunks = excluded.chunks, status = excluded.status,
                error = excluded.error, updated_at = excluded.updated_at",
        )
        .bind(doc.id.as_str())
        .bind(doc.org_id.as_str())
        .bind(doc.data_source_id.as_str())
        .bind(&doc.source_key)
        .bind(&doc.title)
        .bind(&doc.url)
        .bind(&doc.filename)
        .bind(&doc.content_hash)
        .bind(serde_json::Value::Object(doc.metadata.clone()).to_string())
        .bind(i64::from(doc.chunks))
        .bind(doc.status.as_str())
        .bind(&doc.error)
        .bind(micros(&doc.created_at))
        .bind(micros(&doc.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Conflict(format!("another document already has source key {:?}", doc.source_key))
            }
            _ => backend(e),
        })?;
        sqlx::query("DELETE FROM chunks WHERE document_id = $1")
            .bind(doc.id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        // Many rows per statement: a round trip per chunk made big documents slow to write.
        // PostgreSQL chunks also carry what in-database search filters and ranks by.
        let columns = match self.dialect {
            Dialect::Sqlite => {
                "id, document_id, position, text, heading_path, token_count, page, embedding"
            }
            Dialect::Postgres => {
                "id, document_id, position, text, heading_path, token_count, page, embedding,
                 org_id, data_source_id, doc_title, embedding_v"
            }
        };
        for batch in chunks.chunks(CHUNK_ROWS_PER_INSERT) {
            let mut q = Sql::new(format!("INSERT INTO chunks ({columns}) VALUES "));
            for (i, c) in batch.iter().enumerate() {
                q.push(if i == 0 { "(" } else { ", (" })
                    .push_bind(c.id.as_str())
                    .push(", ")
                    .push_bind(doc.id.as_str())
                    .push(", ")
                    .push_bind(i64::from(c.position))
                    .push(", ")
                    .push_bind(c.text.as_str())
                    .push(", ")
                    .push_bind(serde_json::to_string(&c.heading_path).map_err(backend)?)
                    .push(", ")
                    .push_bind(i64::from(c.token_count))
                    .push(", ")
                    .push_bind(c.page.map(i64::from))
                    .push(", ")
                    .push_bind(c.embedding.as_deref().map(encode_embedding));
                if self.dialect == Dialect::Postgres {
                    q.push(", ")
                        .push_bind(doc.org_id.as_str())
                        .push(", ")
                        .push_bind(doc.data_source_id.as_str())
                        .push(", ")
                        .push_bind(doc.title.as_str())
                        .push(", CAST(")
                        .push_bind(c.embedding.as_deref().map(super::search::vector_literal))
                        .push(" AS vector)");
                }
                q.push(")");
            }
            q.build().execute(&mut *tx).await.map_err(backend)?;
        }
        let seq = log_change(&mut tx, &doc.id).await?;
        recount(&mut tx, &doc.data_source_id).await?;
        tx.commit().await.map_err(backend)?;
        Ok(seq)
    }

    async fn delete_document(&self, org: &OrgId, id: &DocumentId) -> StoreResult<Option<u64>> {
        let mut tx = self.begin().await?;
        let ds: Option<String> = sqlx::query_scalar(
            "DELETE FROM documents WHERE id = $1 AND org_id = $2 RETURNING data_source_id",
        )
        .bind(id.as_str())
        .bind(org.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let Some(ds) = ds else { return Ok(None) };
        let seq = log_change(&mut tx, id).await?;
        recount(&mut tx, &DataSourceId::from_trusted(ds)).await?;
        tx.commit().await.map_err(backend)?;
        Ok(Some(seq))
    }

    async fn changes_since(&self, seq: u64, limit: u32) -> StoreResult<Vec<IndexChange>> {
        let rows = sqlx::query(
            "SELECT seq, document_id FROM index_changes WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(seq as i64)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(IndexChange {
                    seq: r.try_get::<i64, _>("seq").map_err(backend)? as u64,
                    document_id: DocumentId::from_trusted(
                        r.try_get("document_id").map_err(backend)?,
                    ),
                })
            })
            .collect()
    }

    async fn last_change(&self) -> StoreResult<u64> {
        // SQLite's AUTOINCREMENT keeps the high-water mark in sqlite_sequence even after
        // pruning; an identity column's sequence does the same on PostgreSQL.
        let sql = match self.dialect {
            Dialect::Sqlite => "SELECT seq FROM sqlite_sequence WHERE name = 'index_changes'",
            Dialect::Postgres => {
                "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM index_changes_seq_seq"
            }
        };
        let seq: Option<i64> = sqlx::query_scalar(sql)
            .fetch_optional(&self.read)
            .await
            .map_err(backend)?
            .flatten();
        Ok(seq.unwrap_or(0).max(0) as u64)
    }

    async fn prune_changes(&self, upto: u64) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM index_changes WHERE seq <= $1")
            .bind(upto as i64)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn document_with_chunks(
        &self,
        id: &DocumentId,
    ) -> StoreResult<Option<(Document, Vec<StoredChunk>)>> {
        // One read transaction, so the document and its chunks are from the same commit.
        let mut tx = self.read.begin().await.map_err(backend)?;
        let r = sqlx::query(&format!(
            "SELECT {DOC_COLUMNS} FROM documents d WHERE d.id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let Some(r) = r else { return Ok(None) };
        let doc = doc_row(&r)?;
        let rows = sqlx::query(
            "SELECT id, document_id, position, text, heading_path, token_count, page, embedding
             FROM chunks WHERE document_id = $1 ORDER BY position",
        )
        .bind(id.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let chunks = rows
            .iter()
            .map(chunk_row)
            .collect::<StoreResult<Vec<_>>>()?;
        tx.commit().await.map_err(backend)?;
        Ok(Some((doc, chunks)))
    }

    async fn vector_rows(
        &self,
        after: Option<&ChunkId>,
        limit: u32,
    ) -> StoreResult<Vec<VectorRow>> {
        let rows = sqlx::query(
            "SELECT c.id, c.document_id, d.org_id, d.data_source_id, c.embedding FROM chunks c
             JOIN documents d ON d.id = c.document_id
             WHERE c.embedding IS NOT NULL AND c.id > $1 ORDER BY c.id LIMIT $2",
        )
        .bind(after.map(|c| c.as_str()).unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                let b: Vec<u8> = r.try_get("embedding").map_err(backend)?;
                Ok(VectorRow {
                    chunk_id: ChunkId::from_trusted(r.try_get("id").map_err(backend)?),
                    document_id: DocumentId::from_trusted(
                        r.try_get("document_id").map_err(backend)?,
                    ),
                    org_id: OrgId::from_trusted(r.try_get("org_id").map_err(backend)?),
                    data_source_id: DataSourceId::from_trusted(
                        r.try_get("data_source_id").map_err(backend)?,
                    ),
                    embedding: decode_embedding(&b)
                        .ok_or_else(|| backend(anyhow::anyhow!("corrupt embedding")))?,
                })
            })
            .collect()
    }

    async fn chunk_details(&self, org: &OrgId, ids: &[ChunkId]) -> StoreResult<Vec<ChunkDetail>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT c.id, c.document_id, c.position, c.text, c.heading_path, c.token_count, c.page, c.embedding,
                d.data_source_id, d.title, d.url FROM chunks c JOIN documents d ON d.id = c.document_id
             WHERE d.org_id = ",
        );
        q.push_bind(org.as_str())
            .push(" AND c.id IN ")
            .push_list(ids.iter().map(|id| id.as_str()));
        let rows = q.build().fetch_all(&self.read).await.map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(ChunkDetail {
                    chunk: chunk_row(r)?,
                    data_source_id: DataSourceId::from_trusted(
                        r.try_get("data_source_id").map_err(backend)?,
                    ),
                    document_title: r.try_get("title").map_err(backend)?,
                    document_url: r.try_get("url").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn count_chunks(
        &self,
        org: &OrgId,
        data_sources: Option<&[DataSourceId]>,
    ) -> StoreResult<u64> {
        // PostgreSQL sums BIGINTs to NUMERIC: cast back.
        let mut q = Sql::new(
            "SELECT CAST(COALESCE(SUM(chunks), 0) AS BIGINT) FROM documents WHERE org_id = ",
        );
        q.push_bind(org.as_str());
        if let Some(ds) = data_sources {
            if ds.is_empty() {
                return Ok(0);
            }
            q.push(" AND data_source_id IN ")
                .push_list(ds.iter().map(|d| d.as_str()));
        }
        let n: i64 = q
            .build_scalar()
            .fetch_one(&self.read)
            .await
            .map_err(backend)?;
        Ok(n.max(0) as u64)
    }

    async fn document_ids(
        &self,
        after: Option<&DocumentId>,
        limit: u32,
    ) -> StoreResult<Vec<DocumentId>> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM documents WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after.map(|d| d.as_str()).unwrap_or(""))
                .bind(i64::from(limit))
                .fetch_all(&self.read)
                .await
                .map_err(backend)?;
        Ok(ids.into_iter().map(DocumentId::from_trusted).collect())
    }

    async fn insert_document_record(&self, doc: &Document) -> StoreResult<(Document, bool)> {
        let mut tx = self.begin().await?;
        let existing = sqlx::query(&format!(
            "SELECT {DOC_COLUMNS} FROM documents d WHERE d.data_source_id = $1 AND d.source_key = $2"
        ))
        .bind(doc.data_source_id.as_str())
        .bind(&doc.source_key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        if let Some(r) = existing {
            let mut found = doc_row(&r)?;
            if found.org_id != doc.org_id {
                return Err(StoreError::Conflict("source key of another org".into()));
            }
            if found.status == DocumentStatus::Failed && doc.status != DocumentStatus::Indexed {
                // A failure may be retried (queued again) or replaced by a newer reason.
                sqlx::query(
                    "UPDATE documents SET status = $1, error = $2, updated_at = $3 WHERE id = $4",
                )
                .bind(doc.status.as_str())
                .bind(&doc.error)
                .bind(micros(&doc.updated_at))
                .bind(found.id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                found.status = doc.status;
                found.error = doc.error.clone();
                found.updated_at = doc.updated_at;
            }
            tx.commit().await.map_err(backend)?;
            return Ok((found, false));
        }
        let ds_ok: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM data_sources WHERE id = $1 AND org_id = $2")
                .bind(doc.data_source_id.as_str())
                .bind(doc.org_id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        if ds_ok.is_none() {
            return Err(StoreError::Conflict(format!(
                "data source {} no longer exists",
                doc.data_source_id
            )));
        }
        sqlx::query(
            "INSERT INTO documents (id, org_id, data_source_id, source_key, title, url, filename, content_hash, metadata,
                chunks, status, error, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $11, $12, $13)",
        )
        .bind(doc.id.as_str())
        .bind(doc.org_id.as_str())
        .bind(doc.data_source_id.as_str())
        .bind(&doc.source_key)
        .bind(&doc.title)
        .bind(&doc.url)
        .bind(&doc.filename)
        .bind(&doc.content_hash)
        .bind(serde_json::Value::Object(doc.metadata.clone()).to_string())
        .bind(doc.status.as_str())
        .bind(&doc.error)
        .bind(micros(&doc.created_at))
        .bind(micros(&doc.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok((
            Document {
                chunks: 0,
                ..doc.clone()
            },
            true,
        ))
    }

    async fn set_document_status(
        &self,
        id: &DocumentId,
        status: DocumentStatus,
        error: Option<&str>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let res = sqlx::query(
            "UPDATE documents SET status = $1, error = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(status.as_str())
        .bind(error)
        .bind(micros(&twig_core::time::now()))
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(res.rows_affected() == 1)
    }

    async fn list_documents(
        &self,
        org: &OrgId,
        ds: &DataSourceId,
        page: Page,
    ) -> StoreResult<Listed<Document>> {
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM documents WHERE org_id = $1 AND data_source_id = $2",
        )
        .bind(org.as_str())
        .bind(ds.as_str())
        .fetch_one(&self.read)
        .await
        .map_err(backend)?;
        let (limit, offset) = super::bounds(page);
        let rows = sqlx::query(&format!(
            "SELECT {DOC_COLUMNS} FROM documents d WHERE d.org_id = $1 AND d.data_source_id = $2
             ORDER BY d.created_at DESC, d.id DESC LIMIT $3 OFFSET $4"
        ))
        .bind(org.as_str())
        .bind(ds.as_str())
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        Ok(Listed {
            items: rows.iter().map(doc_row).collect::<StoreResult<_>>()?,
            total: total.max(0) as u64,
        })
    }

    async fn documents_with_status(
        &self,
        ds: &DataSourceId,
        statuses: &[DocumentStatus],
        limit: u32,
    ) -> StoreResult<Vec<Document>> {
        if statuses.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(format!(
            "SELECT {DOC_COLUMNS} FROM documents d WHERE d.data_source_id = "
        ));
        q.push_bind(ds.as_str())
            .push(" AND d.status IN ")
            .push_list(statuses.iter().map(|s| s.as_str()))
            .push(" ORDER BY d.created_at, d.id LIMIT ")
            .push_bind(i64::from(limit));
        let rows = q.build().fetch_all(&self.read).await.map_err(backend)?;
        rows.iter().map(doc_row).collect()
    }

    async fn count_documents(&self, ds: &DataSourceId) -> StoreResult<DocumentCounts> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM documents WHERE data_source_id = $1 GROUP BY status",
        )
        .bind(ds.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        let mut c = DocumentCounts::default();
        for r in &rows {
            let status: String = r.try_get("status").map_err(backend)?;
            let n = r.try_get::<i64, _>("n").map_err(backend)?.max(0) as u64;
            match DocumentStatus::parse(&status) {
                Some(DocumentStatus::Queued) => c.queued = n,
                Some(DocumentStatus::Processing) => c.processing = n,
                Some(DocumentStatus::Indexed) => c.indexed = n,
                Some(DocumentStatus::Failed) => c.failed = n,
                None => {
                    return Err(backend(anyhow::anyhow!(
                        "unknown document status {status:?}"
                    )))
                }
            }
        }
        Ok(c)
    }

    async fn set_sync_state(&self, id: &DocumentId, state: &serde_json::Value) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE documents SET sync_state = $1 WHERE id = $2")
            .bind(state.to_string())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn sync_states(
        &self,
        ds: &DataSourceId,
    ) -> StoreResult<Vec<(Document, serde_json::Value)>> {
        let rows = sqlx::query(&format!(
            "SELECT {DOC_COLUMNS}, d.sync_state FROM documents d WHERE d.data_source_id = $1 ORDER BY d.id"
        ))
        .bind(ds.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                let state: String = r.try_get("sync_state").map_err(backend)?;
                Ok((doc_row(r)?, serde_json::from_str(&state).map_err(backend)?))
            })
            .collect()
    }

    async fn stale_queued_sources(
        &self,
        before: twig_core::time::Timestamp,
    ) -> StoreResult<Vec<(OrgId, DataSourceId)>> {
        let rows = sqlx::query(
            "SELECT DISTINCT org_id, data_source_id FROM documents
             WHERE status = 'queued' AND updated_at < $1 ORDER BY data_source_id",
        )
        .bind(super::micros(&before))
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok((
                    OrgId::from_trusted(r.try_get("org_id").map_err(backend)?),
                    DataSourceId::from_trusted(r.try_get("data_source_id").map_err(backend)?),
                ))
            })
            .collect()
    }

    async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT value FROM index_meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.read)
            .await
            .map_err(backend)
    }

    async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO index_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }
}
