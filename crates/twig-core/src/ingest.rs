//! Ingestion: sync progress of data sources, file uploads, and the port the
//! ingestion adapter implements.

use crate::datasource::DataSourceStatus;
use crate::error::Result;
use crate::id::{DataSourceId, DocumentId, OrgId};
use crate::time::{self, Timestamp};
use async_trait::async_trait;
use serde::Serialize;
use std::path::PathBuf;
use utoipa::ToSchema;

/// Job kind of a data-source sync.
pub const SYNC_JOB: &str = "sync";

/// Dedupe key of a data source's sync job: one unfinished sync per source.
pub fn sync_dedupe_key(ds: &DataSourceId) -> String {
    format!("sync:{ds}")
}

/// Counters of the current (or last) sync run of a data source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncCounters {
    /// Documents (files or pages) the run has to process, as far as known.
    pub total: u64,
    /// Processed successfully (indexed or unchanged).
    pub done: u64,
    /// Failed.
    pub failed: u64,
    /// When the run started.
    pub started_at: Option<Timestamp>,
}

/// `GET /data-sources/:id/status`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SyncStatus {
    /// `pending`, `processing`, `active`, `failed` or `partial`.
    pub status: DataSourceStatus,
    /// Chunks currently searchable.
    pub chunks_indexed: u64,
    /// Share of the current run's documents processed (100 when idle after a run).
    pub progress_pct: u32,
    /// From the measured rate of the running sync; null when unknown or idle.
    #[serde(with = "time::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub estimated_completion: Option<Timestamp>,
    /// Documents of the current (or last) run.
    pub documents_total: u64,
    /// Of those, processed successfully.
    pub documents_done: u64,
    /// Of those, failed.
    pub documents_failed: u64,
    /// End of the last successful sync.
    #[serde(with = "time::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_synced_at: Option<Timestamp>,
    /// Why the last sync failed or was partial.
    pub last_error: Option<String>,
}

impl SyncCounters {
    /// Percent processed, 0..=100.
    pub fn progress_pct(&self, running: bool) -> u32 {
        if self.total == 0 {
            return if running { 0 } else { 100 };
        }
        let processed = (self.done + self.failed).min(self.total);
        ((processed * 100) / self.total) as u32
    }

    /// Estimated end from the rate measured since `started_at`; `None` when unknown.
    pub fn estimated_completion(&self, now: Timestamp) -> Option<Timestamp> {
        let started = self.started_at?;
        let processed = self.done + self.failed;
        let remaining = self.total.checked_sub(processed)?;
        let elapsed = (now - started).num_milliseconds();
        if processed == 0 || elapsed <= 0 {
            return None;
        }
        let per_doc_ms = elapsed as f64 / processed as f64;
        let left = (per_doc_ms * remaining as f64).min(1e12) as i64;
        Some(now + chrono::Duration::milliseconds(left))
    }
}

/// One uploaded file, already streamed to a staging file by the HTTP layer.
#[derive(Debug, Clone)]
pub struct UploadedFile {
    /// Name given by the client (path components removed).
    pub filename: String,
    /// Content type given by the client.
    pub content_type: Option<String>,
    /// Staging file holding the bytes (absent when the upload was cut off for size).
    pub path: Option<PathBuf>,
    /// Bytes received.
    pub size: u64,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
}

/// Size limits of uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    /// Largest single file.
    pub max_file_bytes: u64,
    /// Largest zip archive.
    pub max_zip_bytes: u64,
    /// Largest request (all files together).
    pub max_request_bytes: u64,
}

/// A document created (or found) by an upload.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct UploadedDocument {
    /// The document's id.
    pub id: DocumentId,
    /// File name (for zip entries: `archive.zip/path/in/archive`).
    pub filename: String,
    /// `queued` or `failed` (with `error`); an identical earlier upload keeps its state.
    pub status: crate::document::DocumentStatus,
    /// Why the file was refused.
    pub error: Option<String>,
}

/// `POST /data-sources/:id/test`: whether the source's remote can be read, without syncing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConnectionTest {
    /// The credentials and access work.
    pub ok: bool,
    /// E.g. "Connection successful, found 42 pages", or what the remote said ("401: token expired").
    pub message: String,
    /// Items a sync would see (pages, articles, channels, files); absent when the test failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items_found: Option<u64>,
}

/// The ingestion adapter: accepts uploads and forgets a deleted source's files.
#[async_trait]
pub trait Ingestor: Send + Sync + 'static {
    /// Upload size limits.
    fn limits(&self) -> UploadLimits;
    /// Whether the store of originals answers (readiness).
    async fn ping(&self) -> Result<()> {
        Ok(())
    }
    /// Directory where the HTTP layer streams uploads before handing them over.
    fn staging_dir(&self) -> PathBuf;
    /// Stores the files of a `file` data source and queues their ingestion (zips expanded).
    async fn add_files(
        &self,
        org: &OrgId,
        ds: &DataSourceId,
        files: Vec<UploadedFile>,
    ) -> Result<Vec<UploadedDocument>>;
    /// Removes the stored originals of a deleted data source.
    async fn forget_data_source(&self, org: &OrgId, ds: &DataSourceId) -> Result<()>;
    /// Checks that the source's remote can be read with its config, without syncing.
    async fn test_connection(&self, ds: &crate::datasource::DataSource) -> Result<ConnectionTest>;
}
