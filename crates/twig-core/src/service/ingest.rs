//! Ingestion use cases: syncs, their status, uploads and documents.

use crate::datasource::{DataSourceStatus, DataSourceType};
use crate::document::Document;
use crate::error::{Error, Result};
use crate::id::{DataSourceId, DocumentId, OrgId};
use crate::ingest::{
    sync_dedupe_key, Ingestor, SyncStatus, UploadedDocument, UploadedFile, SYNC_JOB,
};
use crate::job::{Job, NewJob};
use crate::page::{Listed, Page};
use crate::retrieval::Retriever;
use crate::service::data_sources;
use crate::store::Store;
use crate::time;
use serde_json::json;

/// Queues a sync of a data source; while one is queued or running, that one is returned.
pub async fn request_sync(store: &dyn Store, org: &OrgId, id: &str) -> Result<Job> {
    let ds = data_sources::get(store, org, id).await?;
    if ds.kind == DataSourceType::Kb {
        return Err(Error::invalid(
            "The knowledge-base data source needs no sync: articles are indexed as they are published",
        ));
    }
    Ok(enqueue_sync(store, org, &ds.id).await?.0)
}

/// Tests a data source's connection (credentials, access) without syncing.
pub async fn test_connection(
    store: &dyn Store,
    ingestor: &dyn Ingestor,
    org: &OrgId,
    id: &str,
) -> Result<crate::ingest::ConnectionTest> {
    let ds = data_sources::get(store, org, id).await?;
    ingestor.test_connection(&ds).await
}

/// Enqueues a sync job unless one is unfinished; tells whether a job was created.
pub async fn enqueue_sync(
    store: &dyn Store,
    org: &OrgId,
    ds: &DataSourceId,
) -> Result<(Job, bool)> {
    let mut job = NewJob::now(
        org.clone(),
        SYNC_JOB,
        json!({ "data_source_id": ds.as_str() }),
    );
    job.dedupe_key = Some(sync_dedupe_key(ds));
    Ok(store.jobs().enqueue(job).await?)
}

/// The processing status of a data source, with progress of the current (or last) sync.
pub async fn status(store: &dyn Store, org: &OrgId, id: &str) -> Result<SyncStatus> {
    let ds = data_sources::get(store, org, id).await?;
    let c = store
        .sync_counters(org, &ds.id)
        .await?
        .ok_or_else(|| Error::not_found("Data source", ds.id.as_str()))?;
    let running = ds.status == DataSourceStatus::Processing;
    Ok(SyncStatus {
        status: ds.status,
        chunks_indexed: ds.chunks_indexed,
        progress_pct: if ds.status == DataSourceStatus::Pending && c.started_at.is_none() {
            0
        } else {
            c.progress_pct(running)
        },
        estimated_completion: if running {
            c.estimated_completion(time::now())
        } else {
            None
        },
        documents_total: c.total,
        documents_done: c.done,
        documents_failed: c.failed,
        last_synced_at: ds.last_synced_at,
        last_error: ds.last_error,
    })
}

/// Lists a data source's documents, newest first.
pub async fn list_documents(
    store: &dyn Store,
    org: &OrgId,
    ds: &str,
    page: Page,
) -> Result<Listed<Document>> {
    let ds = data_sources::get(store, org, ds).await?;
    Ok(store.documents().list_documents(org, &ds.id, page).await?)
}

/// Deletes a document with its chunks, from every index.
pub async fn delete_document(retriever: &dyn Retriever, org: &OrgId, id: &str) -> Result<()> {
    let id = DocumentId::parse(id)?;
    if retriever.delete_document(org, &id).await? {
        Ok(())
    } else {
        Err(Error::not_found("Document", id.as_str()))
    }
}

/// Stores uploaded files of a `file` data source and queues their ingestion.
pub async fn upload(
    store: &dyn Store,
    ingestor: &dyn Ingestor,
    org: &OrgId,
    ds: &str,
    files: Vec<UploadedFile>,
) -> Result<(Vec<UploadedDocument>, Job)> {
    let ds = data_sources::get(store, org, ds).await?;
    if ds.kind != DataSourceType::File {
        return Err(Error::invalid(format!(
            "Files can only be uploaded to a data source of type file; {} is of type {}",
            ds.id,
            ds.kind.as_str()
        )));
    }
    if files.is_empty() {
        return Err(Error::invalid_field(
            "files",
            "Send at least one file in the multipart field `files`",
        ));
    }
    let docs = ingestor.add_files(org, &ds.id, files).await?;
    let (job, _) = enqueue_sync(store, org, &ds.id).await?;
    Ok((docs, job))
}

/// Deletes a data source with its documents, chunks (from every index) and stored originals.
pub async fn delete_data_source(
    store: &dyn Store,
    retriever: &dyn Retriever,
    ingestor: &dyn Ingestor,
    org: &OrgId,
    id: &str,
) -> Result<()> {
    data_sources::delete(store, retriever, org, id).await?;
    let id = DataSourceId::parse(id)?;
    ingestor.forget_data_source(org, &id).await
}
