//! Wiring of background work: the file store, the job runners (syncs, webhook
//! deliveries) and the sync scheduler.

use crate::config::Settings;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use twig_core::ingest::UploadLimits;
use twig_core::retrieval::Retriever;
use twig_core::store::Store;
use twig_ingest::files::FileStore;
use twig_ingest::sync::SyncHandler;
use twig_ingest::IngestConfig;
use twig_jobs::{Runner, RunnerConfig};

/// Ingestion settings for the library.
pub fn config(settings: &Settings) -> IngestConfig {
    let s = &settings.ingest;
    let mut c = IngestConfig::new(&settings.data_dir);
    c.limits = UploadLimits {
        max_file_bytes: s.max_file_bytes,
        max_zip_bytes: s.max_zip_bytes,
        max_request_bytes: s.max_upload_bytes,
    };
    c.allow_private_networks = s.allow_private_networks;
    c.max_page_bytes = s.max_page_bytes;
    let k = &settings.connectors;
    c.connector_retry = twig_ingest::connectors::http::RetryPolicy {
        max_attempts: k.max_attempts,
        base_delay: Duration::from_millis(k.backoff_base_ms),
        max_delay: Duration::from_millis(k.backoff_max_ms.max(k.backoff_base_ms)),
        max_inline_wait: Duration::from_secs(k.max_inline_wait_secs),
        timeout: Duration::from_secs(k.timeout_secs),
    };
    c.prune_every = k.prune_every;
    c.storage = settings.storage.config();
    c
}

/// The store of uploaded originals.
pub fn file_store(settings: &Settings, store: Arc<dyn Store>) -> anyhow::Result<Arc<FileStore>> {
    Ok(Arc::new(FileStore::new(store, config(settings))?))
}

/// Starts `workers` job runners (every job kind) and the scheduler; they stop when `stop` turns true.
pub fn start(
    settings: &Settings,
    workers: usize,
    store: Arc<dyn Store>,
    retriever: Arc<dyn Retriever>,
    files: Arc<FileStore>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let handler = Arc::new(SyncHandler::new(
        store.clone(),
        retriever,
        files,
        config(settings),
    ));
    let deliver = Arc::new(twig_webhooks::DeliverHandler::new(
        store.clone(),
        settings.webhooks.delivery_policy(),
    )?);
    let expire = Arc::new(twig_answer::sessions::ExpireSessions::new(store.clone()));
    let mut tasks = Vec::new();
    for i in 0..workers {
        let cfg = RunnerConfig {
            worker_id: format!(
                "worker-{}-{}-{i}",
                std::process::id(),
                twig_core::id::random_base62(6)
            ),
            lease: Duration::from_secs(settings.ingest.job_lease_secs),
            ..RunnerConfig::default()
        };
        let runner = Arc::new(
            Runner::new(store.clone(), cfg)
                .register(handler.clone())
                .register(deliver.clone())
                .register(expire.clone()),
        );
        tasks.push(tokio::spawn(runner.run(stop.clone())));
    }
    tasks.push(tokio::spawn(sweep_sessions(store.clone(), stop.clone())));
    tasks.push(tokio::spawn(twig_ingest::schedule::run(
        store,
        Duration::from_secs(settings.ingest.schedule_interval_secs),
        stop,
    )));
    tracing::info!(workers, "job workers started");
    Ok(tasks)
}

/// Queues a sweep of expired sessions per org every hour (deduplicated, so several
/// processes doing this queue one each).
async fn sweep_sessions(store: Arc<dyn Store>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = twig_answer::sessions::enqueue_sweeps(store.as_ref()).await {
                    tracing::warn!(error = %e, "could not queue session sweeps");
                }
            }
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// `twig worker`: runs sync jobs and the scheduler only, beside (or instead of) `serve`'s workers.
/// It writes documents to the store; the serving process's indexes replay them from the change log.
pub async fn run_worker(settings: Settings) -> anyhow::Result<()> {
    let store = crate::cli::open_store(&settings).await?;
    if let Some(render) = crate::metrics::install(&settings)? {
        if settings.metrics.addr.trim().is_empty() {
            tracing::warn!("a worker has no API port: set [metrics] addr to serve its metrics");
        } else {
            crate::metrics::serve_separately(&settings, store.clone(), render).await?;
        }
    }
    let embedder = crate::retrieval::embedder(&settings).await?;
    let writer: Arc<dyn Retriever> =
        Arc::new(twig_index::engine::StoreWriter::open(store.clone(), embedder).await?);
    let files = file_store(&settings, store.clone())?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let workers = settings.ingest.workers.max(1);
    let tasks = start(&settings, workers, store, writer, files, stop_rx)?;
    crate::serve::shutdown_signal().await;
    tracing::info!("stopping: finishing the jobs in hand");
    let _ = stop_tx.send(true);
    let grace = Duration::from_secs(settings.server.shutdown_grace_secs);
    if tokio::time::timeout(grace, futures::future::join_all(tasks))
        .await
        .is_err()
    {
        tracing::warn!(
            "jobs did not finish within {}s; they resume elsewhere once their lease lapses",
            grace.as_secs()
        );
    }
    Ok(())
}
