//! Wiring of ingestion: the file store, the sync job runners and the scheduler.

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
    c
}

/// The store of uploaded originals.
pub fn file_store(settings: &Settings, store: Arc<dyn Store>) -> Arc<FileStore> {
    Arc::new(FileStore::new(store, config(settings)))
}

/// Starts `workers` job runners and the scheduler; they stop when `stop` turns true.
pub fn start(
    settings: &Settings,
    workers: usize,
    store: Arc<dyn Store>,
    retriever: Arc<dyn Retriever>,
    files: Arc<FileStore>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let handler = Arc::new(SyncHandler::new(
        store.clone(),
        retriever,
        files,
        config(settings),
    ));
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
        let runner = Arc::new(Runner::new(store.clone(), cfg).register(handler.clone()));
        tasks.push(tokio::spawn(runner.run(stop.clone())));
    }
    tasks.push(tokio::spawn(twig_ingest::schedule::run(
        store,
        Duration::from_secs(settings.ingest.schedule_interval_secs),
        stop,
    )));
    tracing::info!(workers, "sync workers started");
    tasks
}
