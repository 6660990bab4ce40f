//! The store conformance suite on SQLite, plus SQLite-specific durability checks.

use std::sync::Arc;
use twig_core::store::Store;
use twig_store::sql::SqlStore;

async fn fresh() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqlStore::open(&dir.path().join("twig.db"))
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
        let s = SqlStore::open(&path).await.unwrap();
        s.create_org(&org).await.unwrap();
    }
    let s = SqlStore::open(&path).await.unwrap();
    assert_eq!(s.get_org(&org.id).await.unwrap(), Some(org));
}

/// Secrets are sealed in the file: neither the database nor its WAL holds them in the clear,
/// and the same database opened with another key refuses to hand them out.
#[tokio::test]
async fn secrets_are_encrypted_at_rest() {
    use serde_json::json;
    use twig_core::datasource::{DataSource, DataSourceInput};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twig.db");
    let org = twig_core::org::Org::new("o").unwrap();
    let ds = DataSource::create(
        org.id.clone(),
        DataSourceInput {
            kind: Some("slack".into()),
            name: Some("S".into()),
            config: Some(json!({"channel_ids": ["C1"], "bot_token": "xoxb-VERY-SECRET"})),
            sync_frequency: None,
        },
    )
    .unwrap();
    {
        let s = SqlStore::open(&path).await.unwrap();
        s.create_org(&org).await.unwrap();
        s.create_data_source(&ds).await.unwrap();
    }
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(16).any(|w| w == b"xoxb-VERY-SECRET"));
    }
    let s = SqlStore::open(&path).await.unwrap();
    let got = s.get_data_source(&org.id, &ds.id).await.unwrap().unwrap();
    assert_eq!(got.config["token"], json!("xoxb-VERY-SECRET"));
    let other = SqlStore::open_with_key(&path, Some(&"ab".repeat(32)))
        .await
        .unwrap();
    assert!(other.get_data_source(&org.id, &ds.id).await.is_err());
}

#[tokio::test]
async fn open_by_url_picks_backend_by_scheme() {
    let dir = tempfile::tempdir().unwrap();
    let url = twig_store::default_url(dir.path());
    let store = twig_store::open(&url).await.unwrap();
    store.ping().await.unwrap();
    assert!(twig_store::open("mysql://localhost/x").await.is_err());
}

/// `twig migrate` copies every table but the ones it leaves behind on purpose: a table added
/// later must be added to its list, or this fails.
#[tokio::test]
async fn the_migration_copy_knows_every_table() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twig.db");
    drop(SqlStore::open(&path).await.unwrap());
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let mut tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table'
         AND name NOT IN ('_sqlx_migrations', 'sqlite_sequence') ORDER BY name",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    tables.sort();
    let mut known: Vec<String> = twig_store::sql::TABLES
        .iter()
        .chain(twig_store::sql::NOT_COPIED)
        .map(|t| t.to_string())
        .collect();
    known.sort();
    assert_eq!(tables, known);
}
