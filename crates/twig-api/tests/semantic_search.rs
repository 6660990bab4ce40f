//! `POST /api/v1/semantic-search` end to end: the real router on port 0, the real
//! engine and the real embedding model, documents ingested through the engine's entry point.

use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use twig_api::{ApiConfig, AppState};
use twig_core::apikey::{ApiKey, Environment, Scope};
use twig_core::datasource::{DataSource, DataSourceInput};
use twig_core::id::{DataSourceId, OrgId};
use twig_core::org::Org;
use twig_core::retrieval::{ChunkingOptions, DocumentInput, Embedder, Retriever, SectionInput};
use twig_core::store::Store;
use twig_index::engine::{Engine, EngineConfig};
use twig_store::sql::SqlStore;

struct Server {
    base: String,
    store: Arc<dyn Store>,
    retriever: Arc<dyn Retriever>,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

fn model() -> Arc<dyn Embedder> {
    static MODEL: std::sync::OnceLock<Arc<twig_embed::Encoder>> = std::sync::OnceLock::new();
    MODEL
        .get_or_init(|| {
            let files = twig_embed::ensure_model(&twig_embed::default_model_dir())
                .expect("embedding model");
            Arc::new(
                twig_embed::Encoder::load_files(&files, Default::default()).expect("load model"),
            )
        })
        .clone()
}

async fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqlStore::open(&dir.path().join("twig.db")).await.unwrap());
    let embedder = tokio::task::spawn_blocking(model).await.unwrap();
    let engine = Engine::open(
        store.clone(),
        Some(embedder),
        EngineConfig::new(dir.path().join("lexical")),
    )
    .await
    .unwrap();
    let retriever: Arc<dyn Retriever> = Arc::new(engine);
    let state = AppState::new(
        store.clone(),
        retriever.clone(),
        Arc::new(
            twig_ingest::files::FileStore::new(
                store.clone(),
                twig_ingest::IngestConfig::new(dir.path()),
            )
            .unwrap(),
        ),
        Arc::new(ApiConfig::default()),
        Arc::new(twig_core::ratelimit::InProcessLimiter::default()),
        Arc::new(twig_core::llm::ExtractiveOnly),
        None,
        None,
        Default::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(twig_api::serve(listener, state, std::future::pending()));
    Server {
        base,
        store,
        retriever,
        client: reqwest::Client::new(),
        _dir: dir,
    }
}

impl Server {
    async fn org_with_key(&self, scopes: &[Scope]) -> (OrgId, String) {
        let org = Org::new("acme").unwrap();
        self.store.create_org(&org).await.unwrap();
        let key = self.key_for(&org.id, scopes).await;
        (org.id, key)
    }

    async fn key_for(&self, org: &OrgId, scopes: &[Scope]) -> String {
        let (k, h, secret) =
            ApiKey::mint(org.clone(), "t", scopes.to_vec(), Environment::Live, None).unwrap();
        self.store.create_api_key(&k, &h).await.unwrap();
        secret.expose().to_owned()
    }

    async fn data_source(&self, org: &OrgId) -> DataSourceId {
        let ds = DataSource::create(
            org.clone(),
            DataSourceInput {
                kind: Some("file".into()),
                name: Some("docs".into()),
                ..Default::default()
            },
        )
        .unwrap();
        self.store.create_data_source(&ds).await.unwrap();
        ds.id
    }

    async fn search(&self, key: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}/api/v1/semantic-search", self.base))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

fn doc(org: &OrgId, ds: &DataSourceId, key: &str, title: &str, text: &str) -> DocumentInput {
    DocumentInput {
        org_id: org.clone(),
        data_source_id: ds.clone(),
        source_key: key.into(),
        title: title.into(),
        url: Some(format!("https://docs.example.com/{key}")),
        filename: None,
        metadata: Default::default(),
        sections: vec![SectionInput {
            heading_path: vec![],
            text: text.into(),
            page: None,
        }],
        chunking: ChunkingOptions::default(),
    }
}

fn read_jsonl(path: &str) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn ranks_the_relevant_scifact_abstract_first() {
    let root = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/datasets/scifact"
    );
    let qrels_text = std::fs::read_to_string(format!("{root}/qrels/test.tsv")).unwrap();
    // The first 12 judged queries, their relevant abstracts, and 40 other abstracts as distractors.
    let mut relevant: HashMap<String, HashSet<String>> = HashMap::new();
    let mut order = Vec::new();
    for line in qrels_text.lines().skip(1) {
        let c: Vec<&str> = line.split('\t').collect();
        if !relevant.contains_key(c[0]) {
            if order.len() == 12 {
                break;
            }
            order.push(c[0].to_owned());
        }
        relevant
            .entry(c[0].to_owned())
            .or_default()
            .insert(c[1].to_owned());
    }
    let wanted: HashSet<String> = relevant.values().flatten().cloned().collect();
    let corpus = read_jsonl(&format!("{root}/corpus.jsonl"));
    let id = |d: &Value| d["_id"].as_str().unwrap().to_owned();
    let mut picked: Vec<&Value> = corpus.iter().filter(|d| wanted.contains(&id(d))).collect();
    picked.extend(corpus.iter().filter(|d| !wanted.contains(&id(d))).take(40));
    let queries: HashMap<String, String> = read_jsonl(&format!("{root}/queries.jsonl"))
        .into_iter()
        .map(|q| {
            (
                q["_id"].as_str().unwrap().to_owned(),
                q["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();

    let s = start().await;
    let (org, key) = s.org_with_key(&[Scope::Read]).await;
    let ds = s.data_source(&org).await;
    let docs = picked
        .iter()
        .map(|d| {
            doc(
                &org,
                &ds,
                &id(d),
                d["title"].as_str().unwrap(),
                d["text"].as_str().unwrap(),
            )
        })
        .collect();
    s.retriever.upsert_documents(docs).await.unwrap();

    let mut first = 0;
    for q in &order {
        let (st, body) = s
            .search(
                &key,
                json!({"query": queries[q], "org_id": org.to_string(), "top_k": 5}),
            )
            .await;
        assert_eq!(st, 200, "{body}");
        let top_url = body["chunks"][0]["document_url"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let top_id = top_url.rsplit('/').next().unwrap_or("").to_owned();
        if relevant[q].contains(&top_id) {
            first += 1;
        }
    }
    assert!(
        first >= 10,
        "only {first} of {} queries ranked a relevant abstract first",
        order.len()
    );
}

#[tokio::test]
async fn response_shape_filters_and_isolation() {
    let s = start().await;
    let (org, key) = s.org_with_key(&[Scope::Read]).await;
    let ds1 = s.data_source(&org).await;
    let ds2 = s.data_source(&org).await;
    let (other, _) = s.org_with_key(&[Scope::Read]).await;
    let other_ds = s.data_source(&other).await;
    s.retriever
        .upsert_documents(vec![
            doc(
                &org,
                &ds1,
                "refunds",
                "Refund policy",
                "Refunds are issued within 30 days of purchase to the original card.",
            ),
            doc(
                &org,
                &ds2,
                "shipping",
                "Shipping",
                "Orders ship within two business days from our warehouse.",
            ),
            doc(
                &other,
                &other_ds,
                "secret",
                "Their refund policy",
                "Refunds refunds refunds are issued within 30 days.",
            ),
        ])
        .await
        .unwrap();

    let (st, body) = s
        .search(
            &key,
            json!({"query": "how long do refunds take?", "org_id": org.to_string()}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let chunks = body["chunks"].as_array().unwrap();
    assert_eq!(chunks.len(), 2, "only this org's chunks: {body}");
    let top = &chunks[0];
    assert_eq!(top["document_title"], "Refund policy");
    assert!(top["chunk_id"].as_str().unwrap().starts_with("chk_"));
    assert!(top["document_id"].as_str().unwrap().starts_with("doc_"));
    assert_eq!(top["document_url"], "https://docs.example.com/refunds");
    assert_eq!(top["data_source_id"], ds1.to_string());
    assert!(top["text"].as_str().unwrap().contains("30 days"));
    let score = top["similarity_score"].as_f64().unwrap();
    assert!(
        (0.0..=1.0).contains(&score) && score > chunks[1]["similarity_score"].as_f64().unwrap()
    );
    assert_eq!(body["query_embedding"].as_array().unwrap().len(), 384);
    assert_eq!(body["metadata"]["total_chunks_searched"], 2);
    assert!(body["metadata"]["latency_ms"].is_u64());
    assert_eq!(body["metadata"]["search_mode"], "hybrid");

    let filter = json!({"query": "refunds", "org_id": org.to_string(), "data_source_ids": [ds2.to_string()]});
    let (_, body) = s.search(&key, filter).await;
    let titles: Vec<&str> = body["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["document_title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["Shipping"]);
    assert_eq!(body["metadata"]["total_chunks_searched"], 1);

    let strict = json!({"query": "how long do refunds take?", "org_id": org.to_string(), "similarity_threshold": score - 0.001});
    let (_, body) = s.search(&key, strict).await;
    assert_eq!(body["chunks"].as_array().unwrap().len(), 1);
    let (_, body) = s
        .search(
            &key,
            json!({"query": "refunds", "org_id": org.to_string(), "top_k": 1}),
        )
        .await;
    assert_eq!(body["chunks"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn invalid_requests_get_the_documented_errors() {
    let s = start().await;
    let (org, key) = s.org_with_key(&[Scope::Read]).await;
    let (other, _) = s.org_with_key(&[Scope::Read]).await;
    let other_ds = s.data_source(&other).await;
    let o = org.to_string();
    let cases = [
        (json!({"org_id": o}), 400),
        (json!({"query": "x"}), 400),
        (json!({"query": "   ", "org_id": o}), 400),
        (json!({"query": "x", "org_id": "acme"}), 400),
        (json!({"query": "x", "org_id": other.to_string()}), 404),
        (json!({"query": "x", "org_id": "org_doesnotexist"}), 404),
        (json!({"query": "x", "org_id": o, "top_k": 0}), 400),
        (json!({"query": "x", "org_id": o, "top_k": 101}), 400),
        (json!({"query": "x", "org_id": o, "top_k": "ten"}), 400),
        (
            json!({"query": "x", "org_id": o, "similarity_threshold": 1.5}),
            400,
        ),
        (
            json!({"query": "x", "org_id": o, "similarity_threshold": -0.1}),
            400,
        ),
        (
            json!({"query": "x", "org_id": o, "data_source_ids": ["nope"]}),
            400,
        ),
        (
            json!({"query": "x", "org_id": o, "data_source_ids": [other_ds.to_string()]}),
            404,
        ),
        (json!({"query": "x", "org_id": o, "mode": "psychic"}), 400),
        (json!({"query": "x", "org_id": o, "extra": true}), 400),
        (json!({"query": "x".repeat(10_000), "org_id": o}), 400),
    ];
    for (body, status) in cases {
        let (st, res) = s.search(&key, body.clone()).await;
        assert_eq!(st, status, "{body} -> {res}");
        let code = res["error"]["code"].as_str().unwrap();
        assert_eq!(
            code,
            if status == 400 {
                "invalid_request"
            } else {
                "not_found"
            }
        );
        assert!(
            res["request_id"].as_str().unwrap().starts_with("req_"),
            "{res}"
        );
    }
    let write_only = s.key_for(&org, &[Scope::Write, Scope::Execute]).await;
    let (st, res) = s
        .search(&write_only, json!({"query": "x", "org_id": o}))
        .await;
    assert_eq!(st, 403);
    assert_eq!(res["error"]["message"], "API key lacks Read scope");
    let (st, _) = s
        .search("twigsk_live_nope", json!({"query": "x", "org_id": o}))
        .await;
    assert_eq!(st, 401);
}
