//! The pipeline against a real SQLite store, a scripted chat model and a retriever
//! double that serves fixed chunks with fixed similarities.

use async_trait::async_trait;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use twig_answer::{AnswerConfig, AnswerEvent, Answerer, Caller, QueryRequest};
use twig_core::agent::{Agent, AgentInput};
use twig_core::datasource::{DataSource, DataSourceInput};
use twig_core::id::{ChunkId, DataSourceId, DocumentId, OrgId};
use twig_core::interaction::{InteractionFilter, InteractionStatus};
use twig_core::llm::{
    ChatEvent, ChatModel, ChatRequest, ChatResponse, ChatStream, LlmError, ModelRegistry,
    ModelRoute, Price, Reranker, Usage, EXTRACTIVE_MODEL,
};
use twig_core::org::Org;
use twig_core::page::Page;
use twig_core::retrieval::{
    DocumentInput, RetrievalStatus, Retriever, SearchHit, SearchMode, SearchRequest, SearchResults,
    UpsertOutcome,
};
use twig_core::store::Store;
use twig_store::sql::SqlStore;

/// Serves fixed chunks; records every query.
struct FixedRetriever {
    chunks: Vec<(ChunkId, &'static str, f32)>,
    queries: Mutex<Vec<String>>,
}

impl FixedRetriever {
    fn new(chunks: &[(&'static str, f32)]) -> Arc<Self> {
        Arc::new(Self {
            chunks: chunks
                .iter()
                .map(|(t, s)| (ChunkId::generate(), *t, *s))
                .collect(),
            queries: Mutex::new(Vec::new()),
        })
    }
}

#[async_trait]
impl Retriever for FixedRetriever {
    async fn upsert_documents(
        &self,
        _: Vec<DocumentInput>,
    ) -> twig_core::Result<Vec<UpsertOutcome>> {
        unreachable!()
    }
    async fn delete_document(&self, _: &OrgId, _: &DocumentId) -> twig_core::Result<bool> {
        unreachable!()
    }
    async fn sync(&self) -> twig_core::Result<()> {
        Ok(())
    }
    async fn search(&self, req: SearchRequest) -> twig_core::Result<SearchResults> {
        self.queries.lock().unwrap().push(req.query.clone());
        let t = req.similarity_threshold.unwrap_or(0.0);
        let hits = self
            .chunks
            .iter()
            .filter(|(_, _, s)| *s >= t)
            .take(req.top_k)
            .map(|(id, text, s)| SearchHit {
                chunk_id: id.clone(),
                text: (*text).to_owned(),
                similarity_score: *s,
                document_id: DocumentId::generate(),
                document_title: "Policy".into(),
                document_url: Some("https://example.com/policy".into()),
                data_source_id: DataSourceId::generate(),
                heading_path: vec![],
                page: None,
                lexical: None,
                vector: None,
                fused_score: *s,
            })
            .collect();
        Ok(SearchResults {
            hits,
            query_embedding: None,
            total_chunks_searched: self.chunks.len() as u64,
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

/// Answers `complete` from a script, in order; `stream` yields the given deltas.
struct Scripted {
    replies: Mutex<VecDeque<String>>,
    deltas: Vec<String>,
    delay: Duration,
    requests: Mutex<Vec<ChatRequest>>,
    streams_dropped: Arc<AtomicBool>,
}

impl Scripted {
    fn new(replies: &[&str], deltas: &[&str]) -> Arc<Self> {
        Arc::new(Self {
            replies: Mutex::new(replies.iter().map(|s| s.to_string()).collect()),
            deltas: deltas.iter().map(|s| s.to_string()).collect(),
            delay: Duration::ZERO,
            requests: Mutex::new(Vec::new()),
            streams_dropped: Arc::new(AtomicBool::new(false)),
        })
    }
}

struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[async_trait]
impl ChatModel for Scripted {
    fn provider(&self) -> &str {
        "scripted"
    }
    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, LlmError> {
        self.requests.lock().unwrap().push(req);
        let text = self
            .replies
            .lock()
            .unwrap()
            .pop_front()
            .ok_or_else(|| LlmError::Protocol("script exhausted".into()))?;
        Ok(ChatResponse { text, usage: None })
    }
    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, LlmError> {
        self.requests.lock().unwrap().push(req);
        let deltas = self.deltas.clone();
        let delay = self.delay;
        let flag = DropFlag(self.streams_dropped.clone());
        let s = futures_util::stream::unfold((0usize, flag), move |(i, flag)| {
            let deltas = deltas.clone();
            async move {
                if i > deltas.len() {
                    return None;
                }
                tokio::time::sleep(delay).await;
                if deltas.get(i).is_some_and(|d| d == "!timeout") {
                    return Some((Err(LlmError::Timeout), (i + 1, flag)));
                }
                let ev = if i == deltas.len() {
                    ChatEvent::Usage(Usage {
                        input_tokens: 100,
                        output_tokens: 20,
                    })
                } else {
                    ChatEvent::Delta(deltas[i].clone())
                };
                Some((Ok(ev), (i + 1, flag)))
            }
        });
        Ok(Box::pin(s))
    }
}

struct Registry(Arc<Scripted>);

impl ModelRegistry for Registry {
    fn route(&self, model: &str) -> Option<ModelRoute> {
        match model {
            EXTRACTIVE_MODEL => Some(ModelRoute::Extractive),
            "gpt-test" => Some(ModelRoute::Chat {
                model: self.0.clone(),
                upstream: "gpt-test-upstream".into(),
            }),
            _ => None,
        }
    }
    fn default_model(&self) -> &str {
        EXTRACTIVE_MODEL
    }
    fn price(&self, model: &str) -> Option<Price> {
        (model == "gpt-test").then_some(Price {
            input_per_mtok: 10.0,
            output_per_mtok: 30.0,
        })
    }
    fn models(&self) -> Vec<String> {
        vec![EXTRACTIVE_MODEL.into(), "gpt-test".into()]
    }
}

struct ReverseReranker(AtomicUsize);
impl Reranker for ReverseReranker {
    fn model_id(&self) -> &str {
        "test-cross-encoder"
    }
    fn score(&self, _q: &str, passages: &[&str]) -> anyhow::Result<Vec<f32>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok((0..passages.len()).map(|i| i as f32).collect())
    }
}

const CHUNKS: &[(&str, f32)] = &[
    (
        "Refunds for laptops are issued within 14 days of the return. Shipping is free.",
        0.9,
    ),
    (
        "A refund needs the original receipt. Stores open at nine.",
        0.8,
    ),
    ("Our office is in Lyon.", 0.5),
];

struct Env {
    store: Arc<dyn Store>,
    org: Org,
    ds: DataSource,
    model: Arc<Scripted>,
    _dir: tempfile::TempDir,
}

async fn env(model: Arc<Scripted>) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqlStore::open(&dir.path().join("t.db")).await.unwrap());
    let org = Org::new("o").unwrap();
    store.create_org(&org).await.unwrap();
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
    Env {
        store,
        org,
        ds,
        model,
        _dir: dir,
    }
}

impl Env {
    async fn agent(&self, model: &str, strategy: &str) -> Agent {
        let a = Agent::create(
            self.org.id.clone(),
            AgentInput {
                name: Some("a".into()),
                model: Some(model.into()),
                rag_strategy: Some(strategy.into()),
                data_source_ids: Some(vec![self.ds.id.to_string()]),
                ..Default::default()
            },
        )
        .unwrap();
        self.store.create_agent(&a).await.unwrap();
        a
    }

    fn answerer(
        &self,
        retriever: Arc<FixedRetriever>,
        reranker: Option<Arc<dyn Reranker>>,
    ) -> Arc<Answerer> {
        Arc::new(Answerer::new(
            self.store.clone(),
            retriever,
            Arc::new(Registry(self.model.clone())),
            reranker,
            None,
            AnswerConfig::default(),
        ))
    }

    fn caller(&self) -> Caller {
        Caller {
            org_id: self.org.id.clone(),
            key_id: None,
        }
    }
}

fn ask(agent: &Agent, q: &str, session: Option<&str>) -> QueryRequest {
    QueryRequest {
        agent_id: Some(agent.id.to_string()),
        query: Some(q.into()),
        session_id: session.map(str::to_owned),
        ..Default::default()
    }
}

#[tokio::test]
async fn extractive_answer_is_grounded_cited_and_recorded() {
    let e = env(Scripted::new(&[], &[])).await;
    let agent = e.agent("extractive", "redwood").await;
    let a = e.answerer(FixedRetriever::new(CHUNKS), None);
    let ans = a
        .answer(
            e.caller(),
            ask(&agent, "How are refunds for laptops handled?", None),
        )
        .await
        .unwrap();
    assert_eq!(ans.sources.len(), 2, "the chunk under 0.7 is not used");
    assert!(
        ans.response
            .contains("Refunds for laptops are issued within 14 days of the return [1]."),
        "{}",
        ans.response
    );
    assert!(!ans.response.contains("Lyon"));
    assert_eq!(ans.metadata.model, "extractive");
    assert_eq!(ans.metadata.cost_usd, 0.0);
    assert!(
        ans.metadata.tokens_input > ans.metadata.tokens_output && ans.metadata.tokens_output > 0
    );
    let stored = e
        .store
        .interactions()
        .get_interaction(&e.org.id, &ans.metadata.interaction_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.response.as_str(), &stored.sources),
        (ans.response.as_str(), &ans.sources)
    );
    assert_eq!(stored.status, InteractionStatus::Completed);
    assert_eq!(stored.rewritten_query, None, "redwood does not rewrite");
    let turns = e
        .store
        .interactions()
        .session_turns(&e.org.id, &ans.metadata.session_id, 10)
        .await
        .unwrap();
    assert_eq!(turns.len(), 2);
    assert_eq!(turns[1].sources.len(), 2);
    assert!(e.model.requests.lock().unwrap().is_empty());
}

#[tokio::test]
async fn no_relevant_chunk_gives_the_fixed_answer_without_a_model_call() {
    let e = env(Scripted::new(&[], &["should not be called"])).await;
    let agent = e.agent("gpt-test", "redwood").await;
    let a = e.answerer(
        FixedRetriever::new(&[("Our office is in Lyon.", 0.6)]),
        None,
    );
    let ans = a
        .answer(e.caller(), ask(&agent, "refunds?", None))
        .await
        .unwrap();
    assert_eq!(ans.response, "I don't have information about that.");
    assert!(ans.sources.is_empty());
    assert_eq!((ans.metadata.tokens_input, ans.metadata.cost_usd), (0, 0.0));
    assert!(e.model.requests.lock().unwrap().is_empty());
}

#[tokio::test]
async fn chat_answer_streams_tokens_and_prices_usage() {
    let e = env(Scripted::new(&[], &["Refunds take ", "14 days [1]."])).await;
    let agent = e.agent("gpt-test", "redwood").await;
    let a = e.answerer(FixedRetriever::new(CHUNKS), None);
    let mut rx = a
        .start(e.caller(), ask(&agent, "refunds?", None))
        .await
        .unwrap();
    let mut kinds = Vec::new();
    let mut text = String::new();
    let mut meta = None;
    while let Some(ev) = rx.recv().await {
        match ev {
            AnswerEvent::Sources(s) => kinds.push(format!("sources:{}", s.len())),
            AnswerEvent::Token(t) => {
                kinds.push("token".into());
                text.push_str(&t);
            }
            AnswerEvent::Done(m, _) => {
                kinds.push("done".into());
                meta = Some(m);
            }
            AnswerEvent::Error(e) => panic!("{e}"),
        }
    }
    assert_eq!(kinds, vec!["sources:2", "token", "token", "done"]);
    assert_eq!(text, "Refunds take 14 days [1].");
    let m = meta.unwrap();
    assert_eq!((m.tokens_input, m.tokens_output), (100, 20));
    assert!((m.cost_usd - (100.0 * 10.0 + 20.0 * 30.0) / 1e6).abs() < 1e-12);
    let req = e.model.requests.lock().unwrap()[0].clone();
    assert_eq!(req.model, "gpt-test-upstream");
    assert!(req
        .system
        .as_deref()
        .unwrap()
        .contains("[1] Policy\nRefunds for laptops"));
    assert!(
        !req.system.as_deref().unwrap().contains("Lyon"),
        "only grounded chunks are given"
    );
}

#[tokio::test]
async fn cedar_rewrites_with_the_llm_and_generates_for_the_original_query() {
    let e = env(Scripted::new(
        &["How long do laptop refunds take?"],
        &["14 days [1]."],
    ))
    .await;
    let agent = e.agent("gpt-test", "cedar").await;
    let retriever = FixedRetriever::new(CHUNKS);
    let a = e.answerer(retriever.clone(), None);
    let first = a
        .answer(
            e.caller(),
            ask(&agent, "Tell me about laptop refunds", None),
        )
        .await
        .unwrap();
    let sid = first.metadata.session_id.to_string();
    // The first turn has no history: no rewrite call, only generation.
    assert_eq!(e.model.requests.lock().unwrap().len(), 1);
    let second = a
        .answer(
            e.caller(),
            ask(&agent, "How long does it take?", Some(&sid)),
        )
        .await
        .unwrap();
    assert_eq!(second.metadata.session_id.to_string(), sid);
    let q = retriever.queries.lock().unwrap().clone();
    assert_eq!(q.last().unwrap(), "How long do laptop refunds take?");
    let reqs = e.model.requests.lock().unwrap().clone();
    let rewrite = &reqs[1];
    assert_eq!(
        rewrite.messages.len(),
        3,
        "two history turns and the new question"
    );
    let gen = &reqs[2];
    assert_eq!(
        gen.messages.last().unwrap().content,
        "How long does it take?"
    );
    assert_eq!(gen.messages.len(), 3);
    let stored = e
        .store
        .interactions()
        .get_interaction(&e.org.id, &second.metadata.interaction_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.rewritten_query.as_deref(),
        Some("How long do laptop refunds take?")
    );
}

#[tokio::test]
async fn cedar_offline_carries_terms_of_earlier_turns() {
    let e = env(Scripted::new(&[], &[])).await;
    let agent = e.agent("extractive", "cedar").await;
    let retriever = FixedRetriever::new(CHUNKS);
    let a = e.answerer(retriever.clone(), None);
    let first = a
        .answer(
            e.caller(),
            ask(&agent, "What is the refund policy for laptops?", None),
        )
        .await
        .unwrap();
    let sid = first.metadata.session_id.to_string();
    a.answer(
        e.caller(),
        ask(&agent, "How long does it take?", Some(&sid)),
    )
    .await
    .unwrap();
    let q = retriever.queries.lock().unwrap().clone();
    assert_eq!(q[1], "How long does it take? refund policy laptops");
}

#[tokio::test]
async fn cypress_expands_reranks_with_the_llm_and_drops_unsupported_citations() {
    let e = env(Scripted::new(
        &[
            "laptop refund duration\nreturn policy",
            "2, 1",
            "1: yes\n2: no",
        ],
        &[
            "A refund needs the original receipt [1]. ",
            "Stores open at nine [2].",
        ],
    ))
    .await;
    let agent = e.agent("gpt-test", "cypress").await;
    let retriever = FixedRetriever::new(CHUNKS);
    let a = e.answerer(retriever.clone(), None);
    let ans = a
        .answer(e.caller(), ask(&agent, "How do refunds work?", None))
        .await
        .unwrap();
    assert_eq!(
        retriever.queries.lock().unwrap().clone(),
        vec![
            "How do refunds work?",
            "laptop refund duration",
            "return policy"
        ]
    );
    assert_eq!(ans.metadata.reranker.as_deref(), Some("llm"));
    assert!(
        ans.sources[0].chunk_text.starts_with("A refund needs"),
        "LLM order applied"
    );
    assert_eq!(
        ans.response,
        "A refund needs the original receipt [1]. Stores open at nine."
    );
}

#[tokio::test]
async fn cypress_offline_reports_no_reranker_and_uses_a_cross_encoder_when_given() {
    let e = env(Scripted::new(&[], &[])).await;
    let agent = e.agent("extractive", "cypress").await;
    let a = e.answerer(FixedRetriever::new(CHUNKS), None);
    let ans = a
        .answer(
            e.caller(),
            ask(&agent, "How do refunds for laptops work?", None),
        )
        .await
        .unwrap();
    assert_eq!(ans.metadata.reranker.as_deref(), Some("none"));
    assert!(ans.response.contains("[1]"));

    let rr = Arc::new(ReverseReranker(AtomicUsize::new(0)));
    let a = e.answerer(FixedRetriever::new(CHUNKS), Some(rr.clone()));
    let ans = a
        .answer(
            e.caller(),
            ask(&agent, "How do refunds for laptops work?", None),
        )
        .await
        .unwrap();
    assert_eq!(ans.metadata.reranker.as_deref(), Some("test-cross-encoder"));
    assert_eq!(rr.0.load(Ordering::SeqCst), 1);
    assert!(
        ans.sources[0].chunk_text.starts_with("A refund needs"),
        "reranker order applied"
    );
}

#[tokio::test]
async fn request_errors() {
    let e = env(Scripted::new(&[], &[])).await;
    let agent = e.agent("extractive", "cedar").await;
    let a = e.answerer(FixedRetriever::new(CHUNKS), None);
    let code = |r: Result<_, twig_core::Error>| {
        r.map(|_: twig_core::interaction::Answer| ())
            .unwrap_err()
            .code()
            .http_status()
    };
    assert_eq!(
        code(
            a.answer(
                e.caller(),
                QueryRequest {
                    query: Some("x".into()),
                    ..Default::default()
                }
            )
            .await
        ),
        400
    );
    assert_eq!(
        code(a.answer(e.caller(), ask(&agent, "  ", None)).await),
        400
    );
    assert_eq!(
        code(
            a.answer(
                e.caller(),
                QueryRequest {
                    temperature: Some(3.0),
                    ..ask(&agent, "q", None)
                }
            )
            .await
        ),
        400
    );
    assert_eq!(
        code(
            a.answer(e.caller(), ask(&agent, "q", Some("sess_nope")))
                .await
        ),
        404
    );
    let other = Caller {
        org_id: OrgId::generate(),
        key_id: None,
    };
    assert_eq!(code(a.answer(other, ask(&agent, "q", None)).await), 404);

    // A session of another agent is not found.
    let first = a
        .answer(e.caller(), ask(&agent, "refunds", None))
        .await
        .unwrap();
    let agent2 = e.agent("extractive", "cedar").await;
    let sid = first.metadata.session_id.to_string();
    assert_eq!(
        code(a.answer(e.caller(), ask(&agent2, "q", Some(&sid))).await),
        404
    );

    let mut inactive = agent.clone();
    inactive
        .apply(AgentInput {
            status: Some("inactive".into()),
            ..Default::default()
        })
        .unwrap();
    e.store.update_agent(&inactive).await.unwrap();
    let err = a
        .answer(e.caller(), ask(&agent, "q", None))
        .await
        .unwrap_err();
    assert_eq!(err.code().http_status(), 400);
    assert!(err.to_string().contains("inactive"));

    let unserved = e.agent("claude-x", "cedar").await;
    let err = a
        .answer(e.caller(), ask(&unserved, "q", None))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("extractive, gpt-test"), "{err}");
    // Only the one answered query was recorded.
    let listed = e
        .store
        .interactions()
        .list_interactions(&e.org.id, &InteractionFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!(listed.total, 1);
}

#[tokio::test]
async fn dropping_the_receiver_cancels_the_provider_call_and_records_what_was_sent() {
    let mut m = Scripted::new(&[], &["one ", "two ", "three ", "four "]);
    Arc::get_mut(&mut m).unwrap().delay = Duration::from_millis(100);
    let e = env(m).await;
    let agent = e.agent("gpt-test", "redwood").await;
    let a = e.answerer(FixedRetriever::new(CHUNKS), None);
    let mut rx = a
        .start(e.caller(), ask(&agent, "refunds?", None))
        .await
        .unwrap();
    assert!(matches!(rx.recv().await, Some(AnswerEvent::Sources(_))));
    assert!(matches!(rx.recv().await, Some(AnswerEvent::Token(t)) if t == "one "));
    drop(rx);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let listed = loop {
        let l = e
            .store
            .interactions()
            .list_interactions(&e.org.id, &InteractionFilter::default(), Page::default())
            .await
            .unwrap();
        if l.total == 1 || tokio::time::Instant::now() > deadline {
            break l;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(listed.items[0].status, InteractionStatus::Cancelled);
    assert_eq!(listed.items[0].response, "one ");
    assert!(
        e.model.streams_dropped.load(Ordering::SeqCst),
        "provider stream dropped"
    );
}

#[tokio::test]
async fn expiry_job_deletes_expired_sessions_only() {
    use twig_jobs::{Runner, RunnerConfig};
    let e = env(Scripted::new(&[], &[])).await;
    let agent = e.agent("extractive", "redwood").await;
    let cfg = AnswerConfig {
        session_retention: chrono::Duration::milliseconds(1),
        ..Default::default()
    };
    let short = Arc::new(Answerer::new(
        e.store.clone(),
        FixedRetriever::new(CHUNKS),
        Arc::new(Registry(e.model.clone())),
        None,
        None,
        cfg,
    ));
    let gone = short
        .answer(e.caller(), ask(&agent, "refunds", None))
        .await
        .unwrap()
        .metadata
        .session_id;
    let kept = e
        .answerer(FixedRetriever::new(CHUNKS), None)
        .answer(e.caller(), ask(&agent, "refunds", None))
        .await
        .unwrap()
        .metadata
        .session_id;
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        twig_answer::sessions::enqueue_sweeps(e.store.as_ref())
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        twig_answer::sessions::enqueue_sweeps(e.store.as_ref())
            .await
            .unwrap(),
        0,
        "deduplicated"
    );
    let runner = Runner::new(e.store.clone(), RunnerConfig::default()).register(Arc::new(
        twig_answer::sessions::ExpireSessions::new(e.store.clone()),
    ));
    assert!(runner.run_once().await.unwrap());
    let s = e.store.interactions();
    assert!(s
        .session_turns(&e.org.id, &gone, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.session_turns(&e.org.id, &kept, 10).await.unwrap().len(),
        2
    );
}

#[tokio::test]
async fn a_provider_failure_midway_ends_with_an_error_event_and_a_failed_record() {
    let e = env(Scripted::new(
        &[],
        &["Refunds take ", "!timeout", "never sent"],
    ))
    .await;
    let agent = e.agent("gpt-test", "redwood").await;
    let a = e.answerer(FixedRetriever::new(CHUNKS), None);
    let mut rx = a
        .start(e.caller(), ask(&agent, "refunds?", None))
        .await
        .unwrap();
    assert!(matches!(rx.recv().await, Some(AnswerEvent::Sources(_))));
    assert!(matches!(rx.recv().await, Some(AnswerEvent::Token(t)) if t == "Refunds take "));
    match rx.recv().await {
        Some(AnswerEvent::Error(err)) => assert_eq!(err.code().http_status(), 503, "{err}"),
        other => panic!("expected an error event, got {other:?}"),
    }
    assert!(rx.recv().await.is_none(), "nothing after the error");
    let listed = e
        .store
        .interactions()
        .list_interactions(&e.org.id, &InteractionFilter::default(), Page::default())
        .await
        .unwrap();
    let i = &listed.items[0];
    assert_eq!(
        (i.status, i.response.as_str()),
        (InteractionStatus::Failed, "Refunds take ")
    );
    assert!(
        i.error.as_deref().unwrap().contains("timed out"),
        "{:?}",
        i.error
    );
    // A failed first answer creates no session and points at none.
    assert_eq!(i.session_id, None);
}
