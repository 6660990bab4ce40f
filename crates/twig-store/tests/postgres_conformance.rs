//! The store conformance suite on PostgreSQL, each test on a scratch database of its own.

use std::sync::Arc;
use twig_core::store::Store;
use twig_store::scratch::ScratchDb;
use twig_store::sql::{Dialect, SqlStore};

const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

async fn fresh() -> (Arc<dyn Store>, ScratchDb) {
    let db = ScratchDb::create().await;
    let store = SqlStore::connect_postgres(&db.url, KEY)
        .await
        .expect("connect");
    assert_eq!(store.dialect(), Dialect::Postgres);
    (Arc::new(store), db)
}

twig_store::conformance_tests!(fresh());

#[tokio::test]
async fn migrations_are_applied_once_and_data_survives_reconnect() {
    let db = ScratchDb::create().await;
    let url = db.url.clone();
    let org = twig_core::org::Org::new("persist").unwrap();
    {
        let s = SqlStore::connect_postgres(&url, KEY).await.unwrap();
        s.create_org(&org).await.unwrap();
    }
    let s = SqlStore::connect_postgres(&url, KEY).await.unwrap();
    assert_eq!(s.get_org(&org.id).await.unwrap(), Some(org));
}

/// Secrets are sealed in the database; another key cannot open them; no key is refused.
#[tokio::test]
async fn secrets_are_encrypted_at_rest() {
    use serde_json::json;
    use twig_core::datasource::{DataSource, DataSourceInput};
    let db = ScratchDb::create().await;
    let url = db.url.clone();
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
    let s = SqlStore::connect_postgres(&url, KEY).await.unwrap();
    s.create_org(&org).await.unwrap();
    s.create_data_source(&ds).await.unwrap();
    let mut c = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let config: String = sqlx::query_scalar("SELECT config FROM data_sources")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert!(!config.contains("xoxb-VERY-SECRET"), "{config}");
    let got = s.get_data_source(&org.id, &ds.id).await.unwrap().unwrap();
    assert_eq!(got.config["token"], json!("xoxb-VERY-SECRET"));
    let other = SqlStore::connect_postgres(&url, &"ab".repeat(32))
        .await
        .unwrap();
    assert!(other.get_data_source(&org.id, &ds.id).await.is_err());
    let err = twig_store::open(&url).await.err().expect("no key");
    assert!(err.to_string().contains("secret_key"), "{err}");
    assert!(!err.to_string().contains("twig:twig"), "{err}");
}

#[tokio::test]
async fn database_search() {
    let (store, _db) = fresh().await;
    twig_store::conformance::database_search(&*store).await;
}

#[tokio::test]
async fn database_lexical_statistics() {
    let db = ScratchDb::create().await;
    let store = SqlStore::connect_postgres(&db.url, KEY)
        .await
        .expect("connect");
    twig_store::conformance::database_lexical_statistics(&store, &db.url).await;
}
