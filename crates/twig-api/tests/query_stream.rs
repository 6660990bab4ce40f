//! `POST /api/v1/query` with `stream: true` over real HTTP, with a chat model double:
//! the `error` event's body, and a client that hangs up mid-answer.

use async_trait::async_trait;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use twig_api::{ApiConfig, AppState};
use twig_core::agent::{Agent, AgentInput};
use twig_core::apikey::{ApiKey, Environment, Scope};
use twig_core::datasource::{DataSource, DataSourceInput};
use twig_core::id::{ChunkId, DataSourceId, DocumentId, OrgId};
use twig_core::interaction::{InteractionFilter, InteractionStatus};
use twig_core::llm::{
    ChatEvent, ChatModel, ChatRequest, ChatResponse, ChatStream, LlmError, ModelRegistry,
    ModelRoute, Price,
};
use twig_core::org::Org;
use twig_core::page::Page;
use twig_core::retrieval::{
    DocumentInput, RetrievalStatus, Retriever, SearchHit, SearchMode, SearchRequest, SearchResults,
    UpsertOutcome,
};
use twig_core::store::Store;
use twig_store::sql::SqlStore;

/// One relevant chunk for every query.
struct OneChunk;

#[async_trait]
impl Retriever for OneChunk {
    async fn upsert_documents(
        &self,
        _: Vec<DocumentInput>,
    ) -> twig_core::Result<Vec<UpsertOutcome>> {
        Ok(vec![])
    }
    async fn delete_document(&self, _: &OrgId, _: &DocumentId) -> twig_core::Result<bool> {
        Ok(false)
    }
    async fn sync(&self) -> twig_core::Result<()> {
        Ok(())
    }
    async fn search(&self, _: SearchRequest) -> twig_core::Result<SearchResults> {
        Ok(SearchResults {
            hits: vec![SearchHit {
                chunk_id: ChunkId::generate(),
                text: "Refunds take 14 days.".into(),
                similarity_score: 0.9,
                document_id: DocumentId::generate(),
                document_title: "Refunds".into(),
                document_url: None,
                data_source_id: DataSourceId::generate(),
                heading_path: vec![],
                page: None,
                lexical: None,
                vector: None,
                fused_score: 0.9,
            }],
            query_embedding: None,
            total_chunks_searched: 1,
            mode: SearchMode::Hybrid,
            embedding_model: None,
        })
    }
    fn status(&self) -> RetrievalStatus {
        RetrievalStatus {
            mode: SearchMode::Hybrid,
            embedding_model: None,
        }
    }
}

/// Streams "Refunds " then either fails (`fail`) or trickles words slowly forever.
struct Model {
    fail: bool,
    dropped: Arc<AtomicBool>,
}

struct OnDrop(Arc<AtomicBool>);
impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[async_trait]
impl ChatModel for Model {
    fn provider(&self) -> &str {
        "double"
    }
    async fn complete(&self, _: ChatRequest) -> Result<ChatResponse, LlmError> {
        Err(LlmError::Protocol("not used".into()))
    }
    async fn stream(&self, _: ChatRequest) -> Result<ChatStream, LlmError> {
        let fail = self.fail;
        let guard = OnDrop(self.dropped.clone());
        Ok(Box::pin(futures_util::stream::unfold(
            (0u32, guard),
            move |(i, guard)| async move {
                if i > 0 {
                    if fail {
                        return Some((
                            Err(LlmError::Upstream {
                                status: 502,
                                message: "bad gateway".into(),
                            }),
                            (i + 1, guard),
                        ));
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Some((Ok(ChatEvent::Delta(format!("w{i} "))), (i + 1, guard)))
            },
        )))
    }
}

struct Registry(Arc<Model>);
impl ModelRegistry for Registry {
    fn route(&self, model: &str) -> Option<ModelRoute> {
        (model == "double").then(|| ModelRoute::Chat {
            model: self.0.clone(),
            upstream: "double".into(),
        })
    }
    fn default_model(&self) -> &str {
        "double"
    }
    fn price(&self, _: &str) -> Option<Price> {
        None
    }
    fn models(&self) -> Vec<String> {
        vec!["double".into()]
    }
}

struct Server {
    base: String,
    store: Arc<dyn Store>,
    org: OrgId,
    key: String,
    agent: String,
    _dir: tempfile::TempDir,
}

async fn start(model: Arc<Model>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqlStore::open(&dir.path().join("twig.db")).await.unwrap());
    let org = Org::new("acme").unwrap();
    store.create_org(&org).await.unwrap();
    let (k, h, secret) = ApiKey::mint(
        org.id.clone(),
        "t",
        vec![Scope::Execute, Scope::Read],
        Environment::Live,
        None,
    )
    .unwrap();
    store.create_api_key(&k, &h).await.unwrap();
    let ds = DataSource::create(
        org.id.clone(),
        DataSourceInput {
            kind: Some("file".into()),
            name: Some("docs".into()),
            ..Default::default()
        },
    )
    .unwrap();
    store.create_data_source(&ds).await.unwrap();
    let agent = Agent::create(
        org.id.clone(),
        AgentInput {
            name: Some("a".into()),
            model: Some("double".into()),
            rag_strategy: Some("redwood".into()),
            data_source_ids: Some(vec![ds.id.to_string()]),
            ..Default::default()
        },
    )
    .unwrap();
    store.create_agent(&agent).await.unwrap();
    let state = AppState::new(
        store.clone(),
        Arc::new(OneChunk),
        Arc::new(
            twig_ingest::files::FileStore::new(
                store.clone(),
                twig_ingest::IngestConfig::new(dir.path()),
            )
            .unwrap(),
        ),
        Arc::new(ApiConfig::default()),
        Arc::new(twig_core::ratelimit::InProcessLimiter::default()),
        Arc::new(Registry(model)),
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
        org: org.id,
        key: secret.expose().to_owned(),
        agent: agent.id.to_string(),
        _dir: dir,
    }
}

impl Server {
    async fn stream(&self) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}/api/chat", self.base))
            .bearer_auth(&self.key)
            .json(&json!({"agent_id": self.agent, "query": "refunds?", "stream": true}))
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_failure_midway_is_an_error_event_with_the_documented_body() {
    let s = start(Arc::new(Model {
        fail: true,
        dropped: Default::default(),
    }))
    .await;
    let r = s.stream().await;
    assert_eq!(r.status(), 200);
    let rid = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let text = r.text().await.unwrap();
    let events: Vec<(&str, Value)> = text
        .split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|b| {
            let ev = b.lines().find_map(|l| l.strip_prefix("event: ")).unwrap();
            let data = b.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
            (ev, serde_json::from_str(data).unwrap())
        })
        .collect();
    let names: Vec<&str> = events.iter().map(|(e, _)| *e).collect();
    assert_eq!(names, vec!["sources", "token", "error"], "{text}");
    let err = &events[2].1;
    assert_eq!(err["error"]["code"], "service_unavailable", "{err}");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("model provider"));
    assert!(err["error"]["details"].is_object());
    assert_eq!(err["request_id"], rid.as_str());
}

#[tokio::test]
async fn a_client_that_hangs_up_cancels_the_model_call() {
    let dropped = Arc::new(AtomicBool::new(false));
    let s = start(Arc::new(Model {
        fail: false,
        dropped: dropped.clone(),
    }))
    .await;
    let r = s.stream().await;
    let mut body = r.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("event: token") {
        seen.push_str(&String::from_utf8_lossy(
            &body.next().await.unwrap().unwrap(),
        ));
    }
    drop(body);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !dropped.load(Ordering::SeqCst) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the model stream was never dropped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let l = s
            .store
            .interactions()
            .list_interactions(&s.org, &InteractionFilter::default(), Page::default())
            .await
            .unwrap();
        if let Some(i) = l.items.first() {
            assert_eq!(i.status, InteractionStatus::Cancelled);
            assert!(i.response.starts_with("w0 "), "{}", i.response);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no interaction recorded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
