//! The store conformance suite on SQLite, plus SQLite-specific durability checks.

use std::sync::Arc;
use twig_core::store::Store;
use twig_store::sqlite::SqliteStore;

async fn fresh() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("twig.db"))
        .await
        .expect("open");
    (Arc::new(store), dir)
}

twig_store::conformance_tests!(fresh());

#[tokio::test]
async fn data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twig.db");
    let org = twig_core::org::Org::new("persist").unwrap();
    {
        let s = SqliteStore::open(&path).await.unwrap();
        s.create_org(&org).await.unwrap();
    }
    let s = SqliteStore::open(&path).await.unwrap();
    assert_eq!(s.get_org(&org.id).await.unwrap(), Some(org));
}

#[tokio::test]
async fn open_by_url_picks_backend_by_scheme() {
    let dir = tempfile::tempdir().unwrap();
    let url = twig_store::default_url(dir.path());
    let store = twig_store::open(&url).await.unwrap();
    store.ping().await.unwrap();
    assert!(twig_store::open("mysql://localhost/x").await.is_err());
}
