//! The `sync` job: brings one data source's documents up to date.
//!
//! Checkpoint: every document's state (`queued`, `processing`, `indexed`,
//! `failed`) lives in the store and a document's chunks are replaced in one
//! transaction, so a resumed attempt only processes what is not finished yet
//! and never duplicates a chunk. The job's progress (the run's counters) is
//! saved after every batch, so the status endpoint moves while a sync runs and
//! a resumed attempt continues its counters and rate estimate.

use crate::files::{parse_stored, FileStore, Parsed};
use crate::{blocking, website, IngestConfig};
use async_trait::async_trait;
use serde_json::{json, Value};
use std::sync::Arc;
use twig_core::datasource::{DataSource, DataSourceStatus, DataSourceType};
use twig_core::document::{Document, DocumentStatus};
use twig_core::id::DataSourceId;
use twig_core::ingest::{SyncCounters, SYNC_JOB};
use twig_core::job::Job;
use twig_core::retrieval::{DocumentInput, Retriever, SectionInput};
use twig_core::store::Store;
use twig_core::time;
use twig_jobs::{JobContext, JobError, JobHandler};

/// Files parsed and embedded together (one embedding batch).
const FILE_BATCH: u32 = 32;

/// What a finished sync reports.
pub(crate) struct Report {
    pub status: DataSourceStatus,
    pub error: Option<String>,
    pub counters: SyncCounters,
}

/// Builds the connector of a data source (the vendor registry, or another one in tests).
pub type ConnectorOpener = Arc<
    dyn Fn(
            &DataSource,
            &crate::connectors::http::ConnectorEnv,
        )
            -> Result<Box<dyn twig_core::connector::Connector>, twig_core::connector::ConnectorError>
        + Send
        + Sync,
>;

/// Runs `sync` jobs for every source type: files, websites, and connectors.
pub struct SyncHandler {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) retriever: Arc<dyn Retriever>,
    pub(crate) files: Arc<FileStore>,
    pub(crate) config: IngestConfig,
    pub(crate) opener: ConnectorOpener,
}

impl SyncHandler {
    /// A handler writing through `retriever`, reading originals from `files`.
    pub fn new(
        store: Arc<dyn Store>,
        retriever: Arc<dyn Retriever>,
        files: Arc<FileStore>,
        config: IngestConfig,
    ) -> Self {
        Self {
            store,
            retriever,
            files,
            config,
            opener: Arc::new(crate::connectors::open),
        }
    }

    /// The same handler opening connectors with `opener` instead of the vendor registry.
    pub fn with_opener(mut self, opener: ConnectorOpener) -> Self {
        self.opener = opener;
        self
    }

    /// Saves counters to the data source (status endpoint) and the job (checkpoint).
    pub(crate) async fn checkpoint(
        &self,
        ds: &DataSourceId,
        c: &SyncCounters,
        ctx: &JobContext,
    ) -> Result<(), JobError> {
        self.checkpoint_with(ds, c, ctx, None).await
    }

    /// [`Self::checkpoint`] with extra resume state merged into the job's progress.
    async fn checkpoint_with(
        &self,
        ds: &DataSourceId,
        c: &SyncCounters,
        ctx: &JobContext,
        extra: Option<Value>,
    ) -> Result<(), JobError> {
        self.store
            .save_sync_counters(ds, c)
            .await
            .map_err(|e| JobError::Retryable(format!("cannot save progress: {e}")))?;
        let mut progress = counters_json(c);
        if let (Value::Object(p), Some(Value::Object(x))) = (&mut progress, extra) {
            p.extend(x);
        }
        if !ctx.checkpoint(&progress).await {
            return Err(JobError::Retryable(
                "the job's lease was lost to another worker".into(),
            ));
        }
        Ok(())
    }

    async fn sync_files(
        &self,
        ds: &DataSource,
        ctx: &JobContext,
        mut c: SyncCounters,
        progress: &Value,
    ) -> Result<Report, JobError> {
        let docs = self.store.documents();
        // `done` counts this run's documents: those indexed before it are the baseline (kept in
        // the checkpoint, so a resumed attempt counts from the same one). `failed` counts every
        // failed document of the source, refused uploads included: each is a problem to show.
        let base = match progress.get("base_indexed").and_then(Value::as_u64) {
            Some(i) => i,
            None => docs.count_documents(&ds.id).await.map_err(retry)?.indexed,
        };
        let extra = json!({ "base_indexed": base });
        loop {
            let counts = docs.count_documents(&ds.id).await.map_err(retry)?;
            c.done = counts.indexed.saturating_sub(base);
            c.failed = counts.failed;
            c.total = c.done + c.failed + counts.queued + counts.processing;
            self.checkpoint_with(&ds.id, &c, ctx, Some(extra.clone()))
                .await?;
            let batch = docs
                .documents_with_status(
                    &ds.id,
                    &[DocumentStatus::Queued, DocumentStatus::Processing],
                    FILE_BATCH,
                )
                .await
                .map_err(retry)?;
            if batch.is_empty() {
                break;
            }
            self.index_files(ds, batch).await?;
        }
        match self.files.collect_garbage(ds).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(data_source = %ds.id, files = n, "removed originals of deleted documents")
            }
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "cannot remove unused originals"),
        }
        let counts = docs.count_documents(&ds.id).await.map_err(retry)?;
        let (status, error) = outcome(counts.indexed, counts.failed, "documents");
        Ok(Report {
            status,
            error,
            counters: c,
        })
    }

    async fn index_files(&self, ds: &DataSource, batch: Vec<Document>) -> Result<(), JobError> {
        let docs = self.store.documents();
        for d in &batch {
            docs.set_document_status(&d.id, DocumentStatus::Processing, None)
                .await
                .map_err(retry)?;
        }
        let limits = self.config.parse_limits();
        let mut jobs = Vec::with_capacity(batch.len());
        for d in &batch {
            jobs.push((d.clone(), self.files.read(d).await.map_err(retry)?));
        }
        // Parsing is CPU-bound: off the async runtime.
        let parsed = blocking(move || {
            jobs.into_iter()
                .map(|(d, bytes)| {
                    let p = match &bytes {
                        Ok(b) => parse_stored(b, &d, &limits),
                        Err(reason) => Parsed::Failed(reason.clone()),
                    };
                    (d, p)
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| JobError::Retryable(format!("{e:#}")))?;
        let mut inputs = Vec::new();
        for (d, p) in parsed {
            match p {
                Parsed::Failed(reason) => {
                    docs.set_document_status(&d.id, DocumentStatus::Failed, Some(&reason))
                        .await
                        .map_err(retry)?;
                }
                Parsed::Ok(parsed) => inputs.push((Some(d.id.clone()), file_input(ds, &d, parsed))),
            }
        }
        self.upsert_each(inputs).await.map(|_| ())
    }

    /// Upserts a batch (one embedding batch); a refused batch is retried one document at a
    /// time, failing only the bad ones: a known record (`Some(id)`) is marked failed, a new one
    /// is recorded as a failed document. Answers how many were indexed and how many failed.
    pub(crate) async fn upsert_each(
        &self,
        inputs: Vec<(Option<twig_core::id::DocumentId>, DocumentInput)>,
    ) -> Result<(u64, u64), JobError> {
        if inputs.is_empty() {
            return Ok((0, 0));
        }
        let batch: Vec<DocumentInput> = inputs.iter().map(|(_, i)| i.clone()).collect();
        match self.retriever.upsert_documents(batch).await {
            Ok(outcomes) => {
                for o in outcomes {
                    // An unchanged document was not rewritten: mark it indexed again.
                    if let twig_core::retrieval::UpsertOutcome::Unchanged(id) = o {
                        self.store
                            .documents()
                            .set_document_status(&id, DocumentStatus::Indexed, None)
                            .await
                            .map_err(retry)?;
                    }
                }
                Ok((inputs.len() as u64, 0))
            }
            Err(twig_core::Error::InvalidRequest { .. }) if inputs.len() > 1 => {
                let (mut ok, mut bad) = (0, 0);
                for one in inputs {
                    let (o, b) = Box::pin(self.upsert_each(vec![one])).await?;
                    ok += o;
                    bad += b;
                }
                Ok((ok, bad))
            }
            Err(twig_core::Error::InvalidRequest { message, .. }) => {
                match &inputs[0] {
                    (Some(id), _) => self
                        .store
                        .documents()
                        .set_document_status(id, DocumentStatus::Failed, Some(&message))
                        .await
                        .map(|_| ())
                        .map_err(retry)?,
                    (None, d) => {
                        insert_failed(
                            self,
                            (&d.org_id, &d.data_source_id),
                            &d.source_key,
                            &d.title,
                            d.url.as_deref(),
                            &message,
                        )
                        .await?
                    }
                }
                Ok((0, 1))
            }
            Err(e) => Err(JobError::Retryable(format!("indexing failed: {e:#}"))),
        }
    }

    /// Writes a sync's final state. The one place a sync's outcome is recorded
    /// (`Store::record_sync_outcome`): webhook events join that transaction later.
    async fn finish_sync(
        &self,
        ds: &DataSourceId,
        report: &Report,
        final_counters: bool,
    ) -> Result<(), twig_core::store::StoreError> {
        if final_counters {
            self.store.save_sync_counters(ds, &report.counters).await?;
        }
        self.store
            .record_sync_outcome(ds, report.status, report.error.as_deref(), time::now())
            .await?;
        Ok(())
    }
}

/// Counts a finished sync and its documents by source type (Prometheus, when installed).
fn record_metrics(kind: &'static str, report: &Report) {
    metrics::counter!("twig_syncs_total", "type" => kind, "status" => report.status.as_str())
        .increment(1);
    for (outcome, n) in [
        ("indexed", report.counters.done),
        ("failed", report.counters.failed),
    ] {
        metrics::counter!("twig_sync_documents_total", "type" => kind, "outcome" => outcome)
            .increment(n);
    }
}

/// Status of a finished run from its successes and failures.
pub(crate) fn outcome(ok: u64, failed: u64, what: &str) -> (DataSourceStatus, Option<String>) {
    match (ok, failed) {
        (_, 0) => (DataSourceStatus::Active, None),
        (0, n) => (
            DataSourceStatus::Failed,
            Some(format!("all {n} {what} failed")),
        ),
        (ok, n) => (
            DataSourceStatus::Partial,
            Some(format!("{n} of {} {what} failed", ok + n)),
        ),
    }
}

fn file_input(ds: &DataSource, d: &Document, p: twig_parse::ParsedDocument) -> DocumentInput {
    let mut metadata = d.metadata.clone();
    metadata.insert("format".into(), json!(p.format.as_str()));
    for (k, v) in p.metadata {
        metadata.entry(k).or_insert(v);
    }
    DocumentInput {
        org_id: d.org_id.clone(),
        data_source_id: ds.id.clone(),
        source_key: d.source_key.clone(),
        title: p
            .title
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| d.title.clone()),
        url: None,
        filename: d.filename.clone(),
        metadata,
        sections: sections(p.sections),
        chunking: ds.chunking(),
    }
}

/// Parser sections to retrieval sections.
pub(crate) fn sections(s: Vec<twig_parse::Section>) -> Vec<SectionInput> {
    s.into_iter()
        .map(|s| SectionInput {
            heading_path: s.heading_path,
            text: s.text,
            page: s.page,
        })
        .collect()
}

/// Records a document that could not be ingested; one indexed earlier keeps its chunks.
pub(crate) async fn record_failed(
    h: &SyncHandler,
    ds: &DataSource,
    source_key: &str,
    title: &str,
    url: Option<&str>,
    reason: &str,
) -> Result<(), JobError> {
    insert_failed(h, (&ds.org_id, &ds.id), source_key, title, url, reason).await
}

async fn insert_failed(
    h: &SyncHandler,
    (org, ds): (&twig_core::id::OrgId, &DataSourceId),
    source_key: &str,
    title: &str,
    url: Option<&str>,
    reason: &str,
) -> Result<(), JobError> {
    let now = time::now();
    let doc = Document {
        id: twig_core::id::DocumentId::generate(),
        org_id: org.clone(),
        data_source_id: ds.clone(),
        source_key: source_key.to_owned(),
        title: title.to_owned(),
        url: url.map(str::to_owned),
        filename: None,
        content_hash: String::new(),
        metadata: serde_json::Map::new(),
        chunks: 0,
        status: DocumentStatus::Failed,
        error: Some(reason.to_owned()),
        created_at: now,
        updated_at: now,
    };
    match h.store.documents().insert_document_record(&doc).await {
        Ok(_) => Ok(()),
        // The data source was deleted meanwhile: nothing to record.
        Err(twig_core::store::StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(retry(e)),
    }
}

/// Removes the document with `source_key` from the store and every index, if there is one.
pub(crate) async fn remove_document(
    h: &SyncHandler,
    ds: &DataSource,
    source_key: &str,
) -> Result<(), JobError> {
    if let Some(d) = h
        .store
        .documents()
        .find_document(&ds.id, source_key)
        .await
        .map_err(retry)?
    {
        h.retriever
            .delete_document(&ds.org_id, &d.id)
            .await
            .map_err(|e| JobError::Retryable(format!("cannot remove {source_key}: {e:#}")))?;
    }
    Ok(())
}

pub(crate) fn retry(e: impl std::fmt::Display) -> JobError {
    JobError::Retryable(format!("storage error: {e}"))
}

fn counters_json(c: &SyncCounters) -> Value {
    json!({
        "total": c.total, "done": c.done, "failed": c.failed,
        "started_at": c.started_at.map(|t| t.timestamp_micros()),
    })
}

fn counters_from(v: &Value) -> Option<SyncCounters> {
    let started = v.get("started_at")?.as_i64()?;
    Some(SyncCounters {
        total: v.get("total")?.as_u64()?,
        done: v.get("done")?.as_u64()?,
        failed: v.get("failed")?.as_u64()?,
        started_at: Some(chrono::DateTime::from_timestamp_micros(started)?),
    })
}

#[async_trait]
impl JobHandler for SyncHandler {
    fn kind(&self) -> &'static str {
        SYNC_JOB
    }

    async fn run(&self, job: Job, ctx: JobContext) -> Result<Value, JobError> {
        let ds_id = job
            .payload
            .get("data_source_id")
            .and_then(Value::as_str)
            .and_then(|s| DataSourceId::parse(s).ok())
            .ok_or_else(|| JobError::Permanent("the sync job names no data source".into()))?;
        let Some(ds) = self
            .store
            .get_data_source(&job.org_id, &ds_id)
            .await
            .map_err(retry)?
        else {
            return Ok(json!({"skipped": "the data source was deleted"}));
        };
        // A resumed attempt continues the run it interrupted.
        let counters = counters_from(&job.progress).unwrap_or(SyncCounters {
            started_at: Some(time::now()),
            ..SyncCounters::default()
        });
        self.store
            .begin_sync(&ds.id, &counters)
            .await
            .map_err(retry)?;
        let result = match ds.kind {
            DataSourceType::File => self.sync_files(&ds, &ctx, counters, &job.progress).await,
            DataSourceType::Website => website::sync(self, &ds, &ctx, counters).await,
            DataSourceType::Kb => Err(JobError::Permanent(
                "the knowledge-base data source is indexed as articles are published".into(),
            )),
            _ => crate::connectors::sync::sync(self, &ds, &ctx, counters).await,
        };
        match result {
            Ok(report) => {
                self.finish_sync(&ds.id, &report, true)
                    .await
                    .map_err(retry)?;
                tracing::info!(data_source = %ds.id, status = report.status.as_str(),
                    done = report.counters.done, failed = report.counters.failed, "sync finished");
                record_metrics(ds.kind.as_str(), &report);
                Ok(counters_json(&report.counters))
            }
            Err(e) => {
                let last = matches!(e, JobError::Permanent(_)) || job.attempts >= job.max_attempts;
                if last && !ctx.lease_lost() {
                    let report = Report {
                        status: DataSourceStatus::Failed,
                        error: Some(e.to_string()),
                        counters,
                    };
                    record_metrics(ds.kind.as_str(), &report);
                    if let Err(err) = self.finish_sync(&ds.id, &report, false).await {
                        tracing::warn!(error = %err, "cannot record the failed sync");
                    }
                }
                Err(e)
            }
        }
    }
}
