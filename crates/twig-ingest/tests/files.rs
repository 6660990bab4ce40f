//! The sync job on file sources, driven directly through the runner.

use sha2::{Digest, Sha256};
use std::sync::Arc;
use twig_core::datasource::{DataSource, DataSourceInput, DataSourceStatus};
use twig_core::document::DocumentStatus;
use twig_core::ingest::{Ingestor, UploadedFile};
use twig_core::org::Org;
use twig_core::page::Page;
use twig_core::retrieval::Retriever;
use twig_core::service::ingest::enqueue_sync;
use twig_core::store::Store;
use twig_index::engine::{Engine, EngineConfig};
use twig_ingest::files::FileStore;
use twig_ingest::sync::SyncHandler;
use twig_ingest::IngestConfig;
use twig_jobs::{Runner, RunnerConfig};
use twig_store::sql::SqlStore;

struct Rig {
    store: Arc<dyn Store>,
    retriever: Arc<dyn Retriever>,
    files: Arc<FileStore>,
    runner: Runner,
    dir: tempfile::TempDir,
}

async fn rig() -> Rig {
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
    let config = IngestConfig::new(dir.path());
    let files = Arc::new(FileStore::new(store.clone(), config.clone()).unwrap());
    let handler = Arc::new(SyncHandler::new(
        store.clone(),
        retriever.clone(),
        files.clone(),
        config,
    ));
    let runner = Runner::new(store.clone(), RunnerConfig::default()).register(handler);
    Rig {
        store,
        retriever,
        files,
        runner,
        dir,
    }
}

fn staged(rig: &Rig, name: &str, bytes: &[u8]) -> UploadedFile {
    let staging = rig.files.staging_dir();
    std::fs::create_dir_all(&staging).unwrap();
    let path = staging.join(format!("{name}.part"));
    std::fs::write(&path, bytes).unwrap();
    UploadedFile {
        filename: name.into(),
        content_type: None,
        path: Some(path),
        size: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(bytes)),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn file_sync_indexes_fails_bad_files_and_collects_garbage() {
    let rig = rig().await;
    let org = Org::new("o").unwrap();
    rig.store.create_org(&org).await.unwrap();
    let ds = DataSource::create(
        org.id.clone(),
        DataSourceInput {
            kind: Some("file".into()),
            name: Some("f".into()),
            ..Default::default()
        },
    )
    .unwrap();
    rig.store.create_data_source(&ds).await.unwrap();
    let up = vec![
        staged(&rig, "a.md", b"# A\n\nThe aardvark digs."),
        staged(&rig, "b.txt", b"The bison grazes."),
        staged(&rig, "c.pdf", b"%PDF-1.4 truncated"),
        staged(&rig, "a-again.md", b"# A\n\nThe aardvark digs."),
    ];
    let docs = rig.files.add_files(&org.id, &ds.id, up).await.unwrap();
    assert_eq!(docs.len(), 4);
    assert_eq!(docs[0].id, docs[3].id, "same content, one document");
    enqueue_sync(rig.store.as_ref(), &org.id, &ds.id)
        .await
        .unwrap();
    assert!(rig.runner.run_once().await.unwrap());
    let got = rig
        .store
        .get_data_source(&org.id, &ds.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.status, DataSourceStatus::Partial);
    assert!(
        got.last_error.as_deref().unwrap().contains("1 of 3"),
        "{:?}",
        got.last_error
    );
    let listed = rig
        .store
        .documents()
        .list_documents(&org.id, &ds.id, Page::default())
        .await
        .unwrap();
    let pdf = listed
        .items
        .iter()
        .find(|d| d.filename.as_deref() == Some("c.pdf"))
        .unwrap();
    assert_eq!(pdf.status, DocumentStatus::Failed);
    assert!(
        pdf.error.as_deref().unwrap().contains("damaged"),
        "{:?}",
        pdf.error
    );
    let counters = rig
        .store
        .sync_counters(&org.id, &ds.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((counters.total, counters.done, counters.failed), (3, 2, 1));
    // A second sync with nothing queued redoes nothing and keeps the chunks.
    let chunks = got.chunks_indexed;
    enqueue_sync(rig.store.as_ref(), &org.id, &ds.id)
        .await
        .unwrap();
    assert!(rig.runner.run_once().await.unwrap());
    let again = rig
        .store
        .get_data_source(&org.id, &ds.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.chunks_indexed, chunks);
    // A deleted document's original is removed by a later sync once it is old.
    let b = listed
        .items
        .iter()
        .find(|d| d.filename.as_deref() == Some("b.txt"))
        .unwrap();
    // Originals keep the data dir's layout: files/ORG/DS/SHA256.
    let path_of = |d: &twig_core::document::Document| {
        rig.dir
            .path()
            .join("files")
            .join(d.org_id.as_str())
            .join(d.data_source_id.as_str())
            .join(d.source_key.strip_prefix("sha256:").unwrap())
    };
    let path = path_of(b);
    assert!(path.exists());
    assert!(rig.retriever.delete_document(&org.id, &b.id).await.unwrap());
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(old)
        .unwrap();
    enqueue_sync(rig.store.as_ref(), &org.id, &ds.id)
        .await
        .unwrap();
    assert!(rig.runner.run_once().await.unwrap());
    assert!(!path.exists(), "unreferenced original removed");
    let a = listed
        .items
        .iter()
        .find(|d| d.filename.as_deref() == Some("a.md"))
        .unwrap();
    assert!(path_of(a).exists(), "referenced original kept");
    drop(rig.dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_whose_job_died_is_marked_failed_by_the_scheduler() {
    let rig = rig().await;
    let org = Org::new("o").unwrap();
    rig.store.create_org(&org).await.unwrap();
    let ds = DataSource::create(
        org.id.clone(),
        DataSourceInput {
            kind: Some("file".into()),
            name: Some("f".into()),
            ..Default::default()
        },
    )
    .unwrap();
    rig.store.create_data_source(&ds).await.unwrap();
    let (job, _) = enqueue_sync(rig.store.as_ref(), &org.id, &ds.id)
        .await
        .unwrap();
    rig.store
        .begin_sync(&ds.id, &twig_core::ingest::SyncCounters::default())
        .await
        .unwrap();
    let now = twig_core::time::now();
    let claimed = rig
        .store
        .jobs()
        .claim("w", &["sync"], now, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(claimed.map(|j| j.id), Some(job.id.clone()));
    // The worker dies on its last attempt: the job fails without the handler writing an outcome.
    let failed = twig_core::job::JobOutcome::Failed {
        error: "the worker stopped responding".into(),
    };
    assert!(rig.store.jobs().finish(&job.id, "w", failed).await.unwrap());
    twig_ingest::schedule::tick(rig.store.as_ref(), now)
        .await
        .unwrap();
    let got = rig
        .store
        .get_data_source(&org.id, &ds.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.status, DataSourceStatus::Failed);
    assert_eq!(
        got.last_error.as_deref(),
        Some("the worker stopped responding")
    );
}
