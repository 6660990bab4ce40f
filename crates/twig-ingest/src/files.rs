//! File sources: originals kept under `org/ds/sha256` in the originals store (the data
//! directory or a bucket), one document per distinct content (the source key is the content's
//! SHA-256), zips expanded on upload.

use crate::originals::Originals;
use crate::{blocking, IngestConfig};
use async_trait::async_trait;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;
use twig_core::document::{Document, DocumentStatus};
use twig_core::id::{DataSourceId, DocumentId, OrgId};
use twig_core::ingest::{Ingestor, UploadLimits, UploadedDocument, UploadedFile};
use twig_core::store::Store;
use twig_core::{time, Error, Result};

/// Source-key prefix of uploaded files.
const KEY_PREFIX: &str = "sha256:";

/// Stores uploads and queues them for the sync job.
pub struct FileStore {
    store: Arc<dyn Store>,
    config: IngestConfig,
    originals: Originals,
}

fn internal(e: impl Into<anyhow::Error>) -> Error {
    Error::Internal(e.into())
}

/// Human size for messages.
fn mb(bytes: u64) -> String {
    format!("{} MB", bytes / (1024 * 1024))
}

fn is_zip(name: &str, content_type: Option<&str>) -> bool {
    name.to_ascii_lowercase().ends_with(".zip")
        || matches!(
            content_type,
            Some("application/zip" | "application/x-zip-compressed")
        )
}

/// One file to record: its bytes already in place (or refused, with the reason).
struct Entry {
    filename: String,
    content_type: Option<String>,
    sha256: String,
    size: u64,
    refused: Option<String>,
}

impl FileStore {
    /// A file store over `store` with `config`, opening the originals store it names.
    pub fn new(
        store: Arc<dyn Store>,
        config: IngestConfig,
    ) -> std::result::Result<Self, crate::originals::OriginalsError> {
        let originals = Originals::open(&config.storage, &config.files_dir)?;
        Ok(Self {
            store,
            config,
            originals,
        })
    }

    /// The originals store (readiness checks).
    pub fn originals(&self) -> &Originals {
        &self.originals
    }

    /// The original of `doc`: `Ok(Err(reason))` when it has none (the document fails),
    /// `Err` when the store did not answer (the job retries).
    pub async fn read(&self, doc: &Document) -> Result<std::result::Result<Vec<u8>, String>> {
        let Some(sha) = doc.source_key.strip_prefix(KEY_PREFIX) else {
            return Ok(Err("the document has no stored original".into()));
        };
        match self
            .originals
            .get(&[doc.org_id.as_str(), doc.data_source_id.as_str(), sha])
            .await
        {
            Ok(bytes) => Ok(Ok(bytes)),
            Err(crate::originals::OriginalsError::Store(object_store::Error::NotFound {
                ..
            })) => Ok(Err("the stored file is missing".into())),
            Err(e) => Err(internal(e)),
        }
    }

    /// Removes originals no document refers to any more (deleted documents), once they are
    /// older than an hour, so a file whose upload is still being recorded is never touched.
    pub async fn collect_garbage(&self, ds: &twig_core::datasource::DataSource) -> Result<usize> {
        let keep: std::collections::HashSet<String> = self
            .store
            .documents()
            .sync_states(&ds.id)
            .await?
            .into_iter()
            .filter_map(|(d, _)| d.source_key.strip_prefix(KEY_PREFIX).map(str::to_owned))
            .collect();
        let at = [ds.org_id.as_str(), ds.id.as_str()];
        let cutoff = time::now() - chrono::Duration::hours(1);
        let mut removed = 0;
        for (name, modified) in self.originals.list(&at).await.map_err(internal)? {
            if modified < cutoff && !keep.contains(&name) {
                self.originals
                    .delete(&[at[0], at[1], &name])
                    .await
                    .map_err(internal)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    async fn record(&self, org: &OrgId, ds: &DataSourceId, e: Entry) -> Result<UploadedDocument> {
        let now = time::now();
        let mut metadata = Map::new();
        metadata.insert("size".into(), json!(e.size));
        if let Some(ct) = &e.content_type {
            metadata.insert("content_type".into(), json!(ct));
        }
        let (status, error) = match e.refused {
            Some(reason) => (DocumentStatus::Failed, Some(reason)),
            None => (DocumentStatus::Queued, None),
        };
        let doc = Document {
            id: DocumentId::generate(),
            org_id: org.clone(),
            data_source_id: ds.clone(),
            source_key: format!("{KEY_PREFIX}{}", e.sha256),
            title: e.filename.clone(),
            url: None,
            filename: Some(e.filename.clone()),
            content_hash: String::new(),
            metadata,
            chunks: 0,
            status,
            error,
            created_at: now,
            updated_at: now,
        };
        let (doc, _) = self.store.documents().insert_document_record(&doc).await?;
        Ok(UploadedDocument {
            id: doc.id,
            filename: doc.filename.unwrap_or(e.filename),
            status: doc.status,
            error: doc.error,
        })
    }

    /// Stores a staged upload (then drops the staged copy), or expands a zip into its entries.
    async fn place(&self, at: [&str; 2], f: UploadedFile) -> Result<Vec<Entry>> {
        let limits = self.config.limits;
        let zip = is_zip(&f.filename, f.content_type.as_deref());
        let limit = if zip {
            limits.max_zip_bytes
        } else {
            limits.max_file_bytes
        };
        let refuse = |reason: String| Entry {
            filename: f.filename.clone(),
            content_type: f.content_type.clone(),
            sha256: f.sha256.clone(),
            size: f.size,
            refused: Some(reason),
        };
        let Some(path) = f.path.clone().filter(|_| f.size <= limit) else {
            if let Some(p) = &f.path {
                let _ = tokio::fs::remove_file(p).await;
            }
            let what = if zip { "zip archive" } else { "file" };
            return Ok(vec![refuse(format!(
                "the {what} is too large: {} bytes exceeds the limit of {}",
                f.size,
                mb(limit)
            ))]);
        };
        let bytes = tokio::fs::read(&path).await.map_err(internal)?;
        if !zip {
            self.originals
                .put(&[at[0], at[1], &f.sha256], bytes)
                .await
                .map_err(internal)?;
            let _ = tokio::fs::remove_file(&path).await;
            return Ok(vec![Entry {
                refused: None,
                ..refuse(String::new())
            }]);
        }
        let _ = tokio::fs::remove_file(&path).await;
        let parse_limits = self.config.parse_limits();
        // Expansion is CPU-bound and bounded by the bomb guards (ratio, total size, entries).
        let expanded = blocking(move || twig_parse::expand_zip(&bytes, &parse_limits))
            .await
            .map_err(Error::Internal)?;
        let entries = match expanded {
            Err(e) => return Ok(vec![refuse(e.to_string())]),
            Ok(entries) => entries,
        };
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let sha = hex::encode(Sha256::digest(&entry.bytes));
            let name = format!("{}/{}", f.filename, entry.name);
            let size = entry.bytes.len() as u64;
            if size > limits.max_file_bytes {
                out.push(Entry {
                    filename: name,
                    content_type: None,
                    sha256: sha,
                    size,
                    refused: Some(format!(
                        "the file is too large: {size} bytes exceeds the limit of {}",
                        mb(limits.max_file_bytes)
                    )),
                });
                continue;
            }
            self.originals
                .put(&[at[0], at[1], &sha], entry.bytes)
                .await
                .map_err(internal)?;
            out.push(Entry {
                filename: name,
                content_type: None,
                sha256: sha,
                size,
                refused: None,
            });
        }
        if out.is_empty() {
            return Ok(vec![refuse("the zip archive contains no files".into())]);
        }
        Ok(out)
    }
}

#[async_trait]
impl Ingestor for FileStore {
    fn limits(&self) -> UploadLimits {
        self.config.limits
    }

    async fn ping(&self) -> Result<()> {
        self.originals.ping().await.map_err(internal)
    }

    fn staging_dir(&self) -> PathBuf {
        self.config.files_dir.join(".staging")
    }

    async fn add_files(
        &self,
        org: &OrgId,
        ds: &DataSourceId,
        files: Vec<UploadedFile>,
    ) -> Result<Vec<UploadedDocument>> {
        let mut out = Vec::new();
        for f in files {
            for entry in self.place([org.as_str(), ds.as_str()], f).await? {
                out.push(self.record(org, ds, entry).await?);
            }
        }
        Ok(out)
    }

    async fn forget_data_source(&self, org: &OrgId, ds: &DataSourceId) -> Result<()> {
        self.originals
            .delete_all(&[org.as_str(), ds.as_str()])
            .await
            .map_err(internal)
    }

    async fn test_connection(
        &self,
        ds: &twig_core::datasource::DataSource,
    ) -> Result<twig_core::ingest::ConnectionTest> {
        crate::connectors::test::test_connection(self.store.as_ref(), &self.config, ds).await
    }
}

/// Result of parsing one stored file.
pub(crate) enum Parsed {
    /// Sections to index.
    Ok(twig_parse::ParsedDocument),
    /// A reason to show on the failed document.
    Failed(String),
}

/// Parses a stored original (blocking: call off the runtime).
pub(crate) fn parse_stored(bytes: &[u8], doc: &Document, limits: &twig_parse::Limits) -> Parsed {
    let name = doc.filename.as_deref().unwrap_or(&doc.title);
    let ct = doc.metadata.get("content_type").and_then(Value::as_str);
    match twig_parse::parse(name, ct, bytes, limits) {
        Ok(p) => Parsed::Ok(p),
        Err(e) => Parsed::Failed(e.to_string()),
    }
}
