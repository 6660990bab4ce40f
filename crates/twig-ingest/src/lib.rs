//! twig-ingest: turns data sources into indexed documents.
//!
//! Uploaded originals are kept in the data directory or a bucket ([`files::FileStore`],
//! [`originals::Originals`]); a
//! durable `sync` job ([`sync::SyncHandler`], run by `twig-jobs`) parses them off
//! the async runtime, or crawls a website, and hands documents to the
//! [`Retriever`](twig_core::retrieval::Retriever). Every document's state is in
//! the store, so a sync that was killed resumes without redoing finished
//! documents; a document's chunks are replaced in one transaction, so a retry
//! never duplicates them. [`scheduler`] enqueues syncs by `sync_frequency`.

pub mod connectors;
pub mod files;
pub mod originals;
pub mod schedule;
pub mod sync;
mod website;

use std::path::PathBuf;
use twig_core::ingest::UploadLimits;

/// Ingestion settings.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// The local directory of originals (`<data_dir>/files`), and where uploads are staged.
    pub files_dir: PathBuf,
    /// Where originals are kept: `files_dir`, or a bucket every node reads.
    pub storage: originals::StorageConfig,
    /// Upload limits (50 MB a file, 200 MB a zip by default).
    pub limits: UploadLimits,
    /// Largest uncompressed total of one zip archive.
    pub max_zip_uncompressed: u64,
    /// Largest uncompressed/compressed ratio of one zip entry.
    pub max_zip_ratio: u64,
    /// Crawls may reach private, loopback and link-local addresses.
    pub allow_private_networks: bool,
    /// Largest crawled page, in bytes.
    pub max_page_bytes: u64,
    /// Retries and timeouts of connector calls.
    pub connector_retry: connectors::http::RetryPolicy,
    /// Remotes without a deletion feed are listed in full every this many syncs.
    pub prune_every: u32,
}

impl IngestConfig {
    /// Defaults for a data directory.
    pub fn new(data_dir: &std::path::Path) -> Self {
        let d = twig_parse::Limits::default();
        Self {
            files_dir: data_dir.join("files"),
            storage: originals::StorageConfig::Local,
            limits: UploadLimits {
                max_file_bytes: d.max_file_bytes,
                max_zip_bytes: d.max_zip_bytes,
                max_request_bytes: 1024 * 1024 * 1024,
            },
            max_zip_uncompressed: d.max_zip_uncompressed,
            max_zip_ratio: d.max_zip_ratio,
            allow_private_networks: false,
            max_page_bytes: 20 * 1024 * 1024,
            connector_retry: connectors::http::RetryPolicy::default(),
            prune_every: 1,
        }
    }

    /// What connectors are opened with.
    pub fn connector_env(&self) -> connectors::http::ConnectorEnv {
        connectors::http::ConnectorEnv {
            allow_private_networks: self.allow_private_networks,
            max_file_bytes: self.limits.max_file_bytes,
            retry: self.connector_retry,
        }
    }

    /// Parser limits derived from these settings.
    pub fn parse_limits(&self) -> twig_parse::Limits {
        twig_parse::Limits {
            max_file_bytes: self.limits.max_file_bytes,
            max_zip_bytes: self.limits.max_zip_bytes,
            max_zip_uncompressed: self.max_zip_uncompressed,
            max_zip_ratio: self.max_zip_ratio,
            ..twig_parse::Limits::default()
        }
    }
}

/// Runs CPU-bound work on a blocking thread.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| anyhow::anyhow!("blocking task failed: {e}"))
}
