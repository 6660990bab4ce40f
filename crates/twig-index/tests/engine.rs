//! The engine over a real SQLite store, with a small deterministic embedder.

use std::sync::Arc;
use twig_core::datasource::{DataSource, DataSourceInput};
use twig_core::id::{DataSourceId, OrgId};
use twig_core::org::Org;
use twig_core::retrieval::{
    ChunkingOptions, DocumentInput, Embedder, Retriever, SearchMode, SearchRequest, SectionInput,
    UpsertOutcome,
};
use twig_core::store::Store;
use twig_index::engine::{Engine, EngineConfig};
use twig_store::sql::SqlStore;

/// Bag-of-words vectors hashed into 64 dimensions: similar words, similar vectors.
struct HashEmbedder;

impl Embedder for HashEmbedder {
    fn model_id(&self) -> &str {
        "test/hash-64"
    }
    fn dim(&self) -> usize {
        64
    }
    fn max_tokens(&self) -> usize {
        512
    }
    fn embed(&self, texts: &[&str]) -> anyhow::Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0.0f32; 64];
                for w in t.split_whitespace() {
                    let h = w
                        .to_lowercase()
                        .bytes()
                        .fold(7u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
                    v[(h % 64) as usize] += 1.0;
                }
                v[63] += 0.01;
                let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter().map(|x| x / n).collect()
            })
            .collect())
    }
    fn count_tokens(&self, text: &str) -> usize {
        text.split_whitespace().count()
    }
    fn token_offsets(&self, text: &str) -> Vec<(usize, usize)> {
        twig_index::chunk::TokenCounter::token_offsets(&twig_index::WhitespaceCounter, text)
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    org: Org,
    ds: DataSourceId,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqlStore::open(&dir.path().join("twig.db")).await.unwrap());
    let org = Org::new("o").unwrap();
    store.create_org(&org).await.unwrap();
    let ds = data_source(&store, &org).await;
    Fixture {
        dir,
        store,
        org,
        ds,
    }
}

async fn data_source(store: &Arc<dyn Store>, org: &Org) -> DataSourceId {
    let ds = DataSource::create(
        org.id.clone(),
        DataSourceInput {
            kind: Some("file".into()),
            name: Some("f".into()),
            ..Default::default()
        },
    )
    .unwrap();
    store.create_data_source(&ds).await.unwrap();
    ds.id
}

async fn engine(f: &Fixture) -> Engine {
    Engine::open(
        f.store.clone(),
        Some(Arc::new(HashEmbedder)),
        EngineConfig::new(f.dir.path().join("lexical")),
    )
    .await
    .unwrap()
}

fn doc(org: &OrgId, ds: &DataSourceId, key: &str, title: &str, text: &str) -> DocumentInput {
    DocumentInput {
        org_id: org.clone(),
        data_source_id: ds.clone(),
        source_key: key.into(),
        title: title.into(),
        url: Some(format!("https://example.com/{key}")),
        filename: None,
        metadata: Default::default(),
        sections: vec![SectionInput {
            heading_path: vec![],
            text: text.into(),
            page: None,
        }],
        chunking: ChunkingOptions {
            max_tokens: 32,
            overlap_tokens: 4,
        },
    }
}

fn search(org: &OrgId, q: &str, mode: SearchMode) -> SearchRequest {
    SearchRequest {
        org_id: org.clone(),
        query: q.into(),
        top_k: 10,
        similarity_threshold: None,
        data_source_ids: None,
        mode,
        want_query_embedding: true,
    }
}

async fn titles(e: &Engine, org: &OrgId, q: &str, mode: SearchMode) -> Vec<String> {
    e.search(search(org, q, mode))
        .await
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.document_title)
        .collect()
}

#[tokio::test]
async fn add_replace_delete_are_consistent_across_restart() {
    let f = fixture().await;
    let e = engine(&f).await;
    let o = f.org.id.clone();
    let out = e
        .upsert_documents(vec![
            doc(
                &o,
                &f.ds,
                "refund",
                "Refund policy",
                "Refunds are processed within thirty days of purchase.",
            ),
            doc(
                &o,
                &f.ds,
                "ship",
                "Shipping",
                "Parcels ship from our warehouse every weekday morning.",
            ),
        ])
        .await
        .unwrap();
    assert!(matches!(out[0], UpsertOutcome::Created(_, 1)));
    let refund_id = out[0].document_id().clone();
    for mode in [SearchMode::Lexical, SearchMode::Vector, SearchMode::Hybrid] {
        assert_eq!(
            titles(&e, &o, "refunds processed", mode)
                .await
                .first()
                .map(String::as_str),
            Some("Refund policy")
        );
    }
    // Unchanged content costs nothing.
    let again = e
        .upsert_documents(vec![doc(
            &o,
            &f.ds,
            "refund",
            "Refund policy",
            "Refunds are processed within thirty days of purchase.",
        )])
        .await
        .unwrap();
    assert_eq!(again, vec![UpsertOutcome::Unchanged(refund_id.clone())]);
    // A changed document replaces its chunks under the same id.
    let changed = e
        .upsert_documents(vec![doc(
            &o,
            &f.ds,
            "refund",
            "Refund policy",
            "Store credit is issued instead of cash refunds.",
        )])
        .await
        .unwrap();
    assert_eq!(changed[0].document_id(), &refund_id);
    assert!(matches!(changed[0], UpsertOutcome::Replaced(_, 1)));
    let hits = e
        .search(search(&o, "thirty days purchase", SearchMode::Lexical))
        .await
        .unwrap()
        .hits;
    assert!(
        hits.iter().all(|h| !h.text.contains("thirty")),
        "old chunks are gone"
    );
    assert_eq!(
        f.store
            .get_data_source(&o, &f.ds)
            .await
            .unwrap()
            .unwrap()
            .chunks_indexed,
        2
    );
    drop(e);

    // Restart: everything is still there, in both indexes.
    let e = engine(&f).await;
    for mode in [SearchMode::Lexical, SearchMode::Vector] {
        assert_eq!(
            titles(&e, &o, "store credit cash", mode)
                .await
                .first()
                .map(String::as_str),
            Some("Refund policy")
        );
    }
    assert!(e.delete_document(&o, &refund_id).await.unwrap());
    assert!(!e.delete_document(&o, &refund_id).await.unwrap());
    for mode in [SearchMode::Lexical, SearchMode::Vector, SearchMode::Hybrid] {
        assert!(!titles(&e, &o, "store credit cash refunds", mode)
            .await
            .contains(&"Refund policy".to_owned()));
    }
    drop(e);
    let e = engine(&f).await;
    assert!(
        !titles(&e, &o, "store credit cash refunds", SearchMode::Lexical)
            .await
            .contains(&"Refund policy".to_owned())
    );
    assert_eq!(f.store.documents().count_chunks(&o, None).await.unwrap(), 1);
}

#[tokio::test]
async fn a_bad_batch_changes_nothing() {
    let f = fixture().await;
    let e = engine(&f).await;
    let o = f.org.id.clone();
    let dup = vec![
        doc(&o, &f.ds, "same", "One", "first text"),
        doc(&o, &f.ds, "same", "Two", "second text"),
    ];
    assert!(e.upsert_documents(dup).await.is_err());
    let mut bad = doc(&o, &f.ds, "b", "Bad", "text");
    bad.chunking.overlap_tokens = 1000;
    assert!(e
        .upsert_documents(vec![doc(&o, &f.ds, "good", "Good", "fine text"), bad])
        .await
        .is_err());
    assert_eq!(f.store.documents().count_chunks(&o, None).await.unwrap(), 0);
    assert!(f
        .store
        .documents()
        .find_document(&f.ds, "good")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn indexes_catch_up_with_changes_they_missed() {
    let f = fixture().await;
    let o = f.org.id.clone();
    {
        let e = engine(&f).await;
        e.upsert_documents(vec![doc(
            &o,
            &f.ds,
            "a",
            "Alpha",
            "alpha particles decay quickly",
        )])
        .await
        .unwrap();
    }
    // A write that reached the store but not the indexes (a crash between the two).
    let (d, mut chunks) = {
        let docs = f.store.documents();
        let existing = docs.find_document(&f.ds, "a").await.unwrap().unwrap();
        docs.document_with_chunks(&existing.id)
            .await
            .unwrap()
            .unwrap()
    };
    chunks[0].text = "gamma rays penetrate lead".into();
    f.store
        .documents()
        .upsert_document(&d, &chunks)
        .await
        .unwrap();
    let e = engine(&f).await;
    assert_eq!(
        titles(&e, &o, "gamma rays lead", SearchMode::Lexical).await,
        vec!["Alpha".to_owned()]
    );
    assert!(
        titles(&e, &o, "particles decay quickly", SearchMode::Lexical)
            .await
            .is_empty(),
        "the old text is gone"
    );
}

#[tokio::test]
async fn search_stays_inside_the_org_and_data_sources() {
    let f = fixture().await;
    let e = engine(&f).await;
    let o = f.org.id.clone();
    let other_org = Org::new("other").unwrap();
    f.store.create_org(&other_org).await.unwrap();
    let other_ds = data_source(&f.store, &other_org).await;
    let second_ds = data_source(&f.store, &f.org).await;
    let mut docs = vec![doc(
        &o,
        &f.ds,
        "mine",
        "Mine",
        "password reset instructions for customers",
    )];
    docs.push(doc(
        &o,
        &second_ds,
        "second",
        "Second",
        "password reset for admins",
    ));
    e.upsert_documents(docs).await.unwrap();
    let many: Vec<_> = (0..30)
        .map(|i| {
            doc(
                &other_org.id,
                &other_ds,
                &format!("t{i}"),
                "Theirs",
                "password reset password reset password reset",
            )
        })
        .collect();
    e.upsert_documents(many).await.unwrap();
    for mode in [SearchMode::Lexical, SearchMode::Vector, SearchMode::Hybrid] {
        let t = titles(&e, &o, "password reset", mode).await;
        assert_eq!(t.len(), 2, "{mode:?}: {t:?}");
        assert!(!t.contains(&"Theirs".to_owned()));
        let mut req = search(&o, "password reset", mode);
        req.data_source_ids = Some(vec![second_ds.clone()]);
        let hits = e.search(req).await.unwrap();
        assert_eq!(
            hits.hits
                .iter()
                .map(|h| h.document_title.as_str())
                .collect::<Vec<_>>(),
            vec!["Second"]
        );
        assert_eq!(hits.total_chunks_searched, 1);
    }
    // Deleting a data source removes its chunks from every index once synced.
    f.store.delete_data_source(&o, &second_ds).await.unwrap();
    e.sync().await.unwrap();
    for mode in [SearchMode::Lexical, SearchMode::Vector] {
        assert_eq!(
            titles(&e, &o, "password reset admins", mode).await,
            vec!["Mine".to_owned()]
        );
    }
}

#[tokio::test]
async fn scores_are_documented_similarities_and_threshold_filters() {
    let f = fixture().await;
    let e = engine(&f).await;
    let o = f.org.id.clone();
    e.upsert_documents(vec![
        doc(&o, &f.ds, "a", "Alpha", "kittens purr softly"),
        doc(&o, &f.ds, "b", "Beta", "quarterly revenue grew"),
    ])
    .await
    .unwrap();
    let res = e
        .search(search(&o, "kittens purr softly", SearchMode::Hybrid))
        .await
        .unwrap();
    let q = res.query_embedding.clone().unwrap();
    assert_eq!(q.len(), 64);
    for h in &res.hits {
        assert!((0.0..=1.0).contains(&h.similarity_score));
    }
    let top = &res.hits[0];
    assert_eq!(top.document_title, "Alpha");
    assert!(top.lexical.is_some() && top.vector.is_some());
    let cos = top.vector.unwrap().score;
    assert!((top.similarity_score - (1.0 + cos) / 2.0).abs() < 1e-5);
    let mut strict = search(&o, "kittens purr softly", SearchMode::Hybrid);
    strict.similarity_threshold = Some(top.similarity_score - 1e-4);
    let filtered = e.search(strict).await.unwrap();
    assert!(filtered
        .hits
        .iter()
        .all(|h| h.similarity_score >= top.similarity_score - 1e-4));
    assert_eq!(filtered.hits[0].document_title, "Alpha");
    let mut none = search(&o, "kittens", SearchMode::Hybrid);
    none.similarity_threshold = Some(1.0);
    assert!(e
        .search(none)
        .await
        .unwrap()
        .hits
        .iter()
        .all(|h| h.similarity_score >= 1.0));
}

#[tokio::test]
async fn a_different_model_needs_a_reindex() {
    struct Other;
    impl Embedder for Other {
        fn model_id(&self) -> &str {
            "test/other"
        }
        fn dim(&self) -> usize {
            64
        }
        fn max_tokens(&self) -> usize {
            512
        }
        fn embed(&self, texts: &[&str]) -> anyhow::Result<Vec<Vec<f32>>> {
            HashEmbedder.embed(texts)
        }
        fn count_tokens(&self, text: &str) -> usize {
            HashEmbedder.count_tokens(text)
        }
        fn token_offsets(&self, text: &str) -> Vec<(usize, usize)> {
            HashEmbedder.token_offsets(text)
        }
    }
    let f = fixture().await;
    drop(engine(&f).await);
    let err = Engine::open(
        f.store.clone(),
        Some(Arc::new(Other)),
        EngineConfig::new(f.dir.path().join("lexical")),
    )
    .await
    .err()
    .expect("model change refused");
    assert!(err.to_string().contains("reindex"), "{err}");
}

#[tokio::test]
async fn lexical_only_mode_works_without_an_embedder() {
    let f = fixture().await;
    let e = Engine::open(
        f.store.clone(),
        None,
        EngineConfig::new(f.dir.path().join("lexical")),
    )
    .await
    .unwrap();
    let o = f.org.id.clone();
    e.upsert_documents(vec![doc(&o, &f.ds, "a", "Alpha", "kittens purr softly")])
        .await
        .unwrap();
    let res = e
        .search(search(&o, "kittens", SearchMode::Hybrid))
        .await
        .unwrap();
    assert_eq!(res.mode, SearchMode::Lexical);
    assert!(res.query_embedding.is_none());
    assert_eq!(res.hits.len(), 1);
    assert!(res.hits[0].similarity_score > 0.0 && res.hits[0].similarity_score < 1.0);
}
