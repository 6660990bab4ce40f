//! What every sync-job test stands on: a fresh SQLite store and lexical index, the real job
//! runner with the sync handler (fast retries, loopback remotes allowed), one org and one data
//! source, and helpers to run a sync to its end and read what it stored.

#![allow(dead_code)] // each test binary uses its own subset

use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use twig_core::datasource::{DataSource, DataSourceInput};
use twig_core::document::{Document, StoredChunk};
use twig_core::org::Org;
use twig_core::page::Page;
use twig_core::retrieval::Retriever;
use twig_core::service::ingest::enqueue_sync;
use twig_core::store::Store;
use twig_index::engine::{Engine, EngineConfig};
use twig_ingest::connectors::http::RetryPolicy;
use twig_ingest::files::FileStore;
use twig_ingest::sync::{ConnectorOpener, SyncHandler};
use twig_ingest::IngestConfig;
use twig_jobs::{Runner, RunnerConfig};
use twig_store::sql::SqlStore;

/// A store, an index and a job runner with one data source.
pub struct SyncRig {
    pub store: Arc<dyn Store>,
    pub retriever: Arc<dyn Retriever>,
    pub files: Arc<FileStore>,
    pub runner: Runner,
    pub org: Org,
    pub ds: DataSource,
    pub dir: tempfile::TempDir,
}

/// A change to the ingest settings.
pub type Tune = Box<dyn FnOnce(&mut IngestConfig)>;

/// How a rig is built beyond its data source.
#[derive(Default)]
pub struct Setup {
    /// Changes the ingest settings (prune schedule, file limit, ...).
    pub tune: Option<Tune>,
    /// Opens connectors instead of the registry (a scripted remote).
    pub opener: Option<ConnectorOpener>,
}

impl SyncRig {
    /// A rig with a `kind` source of `config` (validated as the API would).
    pub async fn new(kind: &str, config: Value) -> SyncRig {
        Self::with(kind, config, Setup::default()).await
    }

    /// [`SyncRig::new`] with settings changed by `tune`.
    pub async fn tuned(
        kind: &str,
        config: Value,
        tune: impl FnOnce(&mut IngestConfig) + 'static,
    ) -> SyncRig {
        Self::with(
            kind,
            config,
            Setup {
                tune: Some(Box::new(tune)),
                ..Setup::default()
            },
        )
        .await
    }

    /// The general form.
    pub async fn with(kind: &str, config: Value, setup: Setup) -> SyncRig {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqlStore::open(&dir.path().join("twig.db")).await.unwrap());
        let engine = Engine::open(
            store.clone(),
            None,
            EngineConfig::new(dir.path().join("lexical")),
        )
        .await
        .unwrap();
        let retriever: Arc<dyn Retriever> = Arc::new(engine);
        let mut ic = IngestConfig::new(dir.path());
        ic.allow_private_networks = true;
        ic.connector_retry = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            max_inline_wait: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
        };
        if let Some(tune) = setup.tune {
            tune(&mut ic);
        }
        let files = Arc::new(FileStore::new(store.clone(), ic.clone()).unwrap());
        let mut handler = SyncHandler::new(store.clone(), retriever.clone(), files.clone(), ic);
        if let Some(opener) = setup.opener {
            handler = handler.with_opener(opener);
        }
        let runner = Runner::new(
            store.clone(),
            RunnerConfig {
                backoff: twig_jobs::Backoff {
                    base: Duration::from_millis(1),
                    max: Duration::from_millis(5),
                },
                ..RunnerConfig::default()
            },
        )
        .register(Arc::new(handler));
        let org = Org::new("o").unwrap();
        store.create_org(&org).await.unwrap();
        let ds = DataSource::create(
            org.id.clone(),
            DataSourceInput {
                kind: Some(kind.into()),
                name: Some(format!("{kind} source")),
                config: Some(config),
                sync_frequency: None,
            },
        )
        .unwrap();
        store.create_data_source(&ds).await.unwrap();
        SyncRig {
            store,
            retriever,
            files,
            runner,
            org,
            ds,
            dir,
        }
    }

    /// Queues a sync and runs jobs until none is due (retries included); the source after it.
    pub async fn sync(&self) -> DataSource {
        enqueue_sync(self.store.as_ref(), &self.org.id, &self.ds.id)
            .await
            .unwrap();
        for _ in 0..40 {
            if !self.runner.run_once().await.unwrap() {
                tokio::time::sleep(Duration::from_millis(20)).await;
                if !self.runner.run_once().await.unwrap() {
                    break;
                }
            }
        }
        self.store
            .get_data_source(&self.org.id, &self.ds.id)
            .await
            .unwrap()
            .unwrap()
    }

    /// The source's documents by source key, with their chunks.
    pub async fn docs(&self) -> BTreeMap<String, (Document, Vec<StoredChunk>)> {
        let listed = self
            .store
            .documents()
            .list_documents(
                &self.org.id,
                &self.ds.id,
                Page::new(Some(200), Some(0)).unwrap(),
            )
            .await
            .unwrap();
        let mut out = BTreeMap::new();
        for d in listed.items {
            let full = self
                .store
                .documents()
                .document_with_chunks(&d.id)
                .await
                .unwrap()
                .unwrap();
            out.insert(d.source_key.clone(), full);
        }
        out
    }

    /// Every chunk's text, sorted.
    pub async fn chunk_texts(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .docs()
            .await
            .into_values()
            .flat_map(|(_, chunks)| chunks.into_iter().map(|c| c.text))
            .collect();
        out.sort();
        out
    }
}
