//! `POST /api/v1/query` end to end: the real binary with the real embedding model and the
//! extractive answerer. Documents are written by this test process through the engine's
//! ingestion entry point into the server's database; the server picks them up from the
//! change log (as it does for operator commands).

use crate::helpers::{assert_error, TestServer};
use serde_json::{json, Value};
use std::sync::Arc;
use twig_core::id::{DataSourceId, OrgId};
use twig_core::retrieval::{ChunkingOptions, DocumentInput, Embedder, Retriever, SectionInput};
use twig_index::engine::{Engine, EngineConfig};

const DOCS: &[(&str, &str)] = &[
    (
        "Model Y phone warranty",
        "The Model Y phone comes with a two-year warranty that covers manufacturing defects. \
         Warranty claims for the Model Y phone are handled in any of our stores.",
    ),
    (
        "Model X laptop warranty",
        "The Model X laptop has a one-year warranty. Accidental damage to the Model X laptop is not covered.",
    ),
    (
        "Model Y phone battery",
        "The Model Y phone battery lasts about thirty hours of normal use. \
         A full charge of the Model Y phone takes ninety minutes.",
    ),
    (
        "Refund policy",
        "Products can be returned within 30 days of purchase for a full refund. \
         Refunds are paid to the original card within five business days.",
    ),
];

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

/// A server with the real model, a data source holding `DOCS`, and an agent over it.
struct Setup {
    s: TestServer,
    ds: String,
    agent: String,
    _dir: tempfile::TempDir,
    _ingest_dir: tempfile::TempDir,
}

async fn setup(strategy: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let env = [("TWIG_EMBEDDING__PROVIDER", "local")];
    let first = TestServer::start_in(dir.path(), &env).await;
    let k = first.admin().to_owned();
    let me = first.get("/api/v1/me", &k).await;
    let org = me.body["org_id"].as_str().unwrap().to_owned();
    let r = first
        .post(
            "/api/v1/data-sources",
            &k,
            json!({"type": "file", "name": "products"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let ds = r.body["id"].as_str().unwrap().to_owned();
    assert!(first.stop().success());

    // Ingest through the engine's entry point into the server's database and lexical index
    // while it is stopped (the engine prunes the change log it applied, so two live engines
    // on one database would not both see a write).
    let ingest_dir = tempfile::tempdir().unwrap();
    let store = twig_store::open(&twig_store::default_url(dir.path()))
        .await
        .unwrap();
    let embedder = tokio::task::spawn_blocking(model).await.unwrap();
    let engine = Engine::open(
        store,
        Some(embedder),
        EngineConfig::new(dir.path().join("index").join("lexical")),
    )
    .await
    .unwrap();
    let docs = DOCS
        .iter()
        .map(|(title, text)| DocumentInput {
            org_id: OrgId::parse(&org).unwrap(),
            data_source_id: DataSourceId::parse(&ds).unwrap(),
            source_key: title.to_string(),
            title: title.to_string(),
            url: Some(format!(
                "https://example.com/{}",
                title.replace(' ', "-").to_lowercase()
            )),
            filename: None,
            metadata: Default::default(),
            sections: vec![SectionInput {
                heading_path: vec![],
                text: text.to_string(),
                page: None,
            }],
            chunking: ChunkingOptions::default(),
        })
        .collect();
    engine.upsert_documents(docs).await.unwrap();
    drop(engine);

    let mut s = TestServer::start_in(dir.path(), &env).await;
    s.key = Some(k.clone());
    let r = s
        .post(
            "/api/v1/semantic-search",
            &k,
            json!({"query": "Model Y phone warranty", "org_id": org}),
        )
        .await;
    assert_eq!(
        r.body["chunks"].as_array().map(Vec::len),
        Some(DOCS.len()),
        "{}",
        r.text
    );
    let r = s
        .post(
            "/api/v1/agents",
            &k,
            json!({"name": "Support", "data_source_ids": [ds], "rag_strategy": strategy}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let agent = r.body["id"].as_str().unwrap().to_owned();
    Setup {
        s,
        ds,
        agent,
        _dir: dir,
        _ingest_dir: ingest_dir,
    }
}

impl Setup {
    async fn ask(&self, query: &str, session: Option<&str>) -> crate::helpers::Resp {
        let mut body = json!({"agent_id": self.agent, "query": query});
        if let Some(sid) = session {
            body["session_id"] = json!(sid);
        }
        self.s.post("/api/v1/query", self.s.admin(), body).await
    }
}

#[tokio::test]
async fn follow_ups_are_answered_from_the_conversation() {
    let t = setup("cedar").await;
    let r = t
        .ask("How long does the Model Y phone battery last?", None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.body["response"]
            .as_str()
            .unwrap()
            .contains("thirty hours"),
        "{}",
        r.text
    );
    let m = &r.body["metadata"];
    let sid = m["session_id"].as_str().unwrap().to_owned();
    assert!(sid.starts_with("sess_"));
    assert!(m["interaction_id"].as_str().unwrap().starts_with("int_"));
    assert_eq!(m["rag_strategy"], "cedar");
    assert_eq!(m["model"], "extractive");
    assert!(m["tokens_input"].as_u64().unwrap() > 0 && m["tokens_output"].as_u64().unwrap() > 0);
    assert!(m["latency_ms"].is_u64() && m["cost_usd"].is_number());
    for src in r.body["sources"].as_array().unwrap() {
        assert!(src["chunk_id"].as_str().unwrap().starts_with("chk_"));
        assert!(src["similarity_score"].as_f64().unwrap() >= 0.7);
        assert!(src["document_url"]
            .as_str()
            .unwrap()
            .starts_with("https://example.com/"));
        assert!(src["chunk_text"].is_string() && src["document_title"].is_string());
    }

    // Without the conversation, "it" is not the phone.
    let alone = t.ask("Does it have a warranty?", None).await;
    let alone = alone.body["response"].as_str().unwrap();
    assert!(
        alone.contains("one-year") || !alone.contains("two-year"),
        "{alone}"
    );

    // "it" only means the phone through the first turn.
    let r = t.ask("Does it have a warranty?", Some(&sid)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["metadata"]["session_id"], sid.as_str());
    let titles: Vec<&str> = r.body["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["document_title"].as_str().unwrap())
        .collect();
    assert!(titles.contains(&"Model Y phone warranty"), "{}", r.text);
    let answer = r.body["response"].as_str().unwrap();
    assert!(
        answer.contains("two-year warranty") && !answer.contains("one-year"),
        "{answer}"
    );
    let n = titles
        .iter()
        .position(|t| *t == "Model Y phone warranty")
        .unwrap()
        + 1;
    assert!(answer.contains(&format!("[{n}]")), "{answer}");
    let id = r.body["metadata"]["interaction_id"].as_str().unwrap();
    let stored =
        t.s.get(&format!("/api/v1/interactions/{id}"), t.s.admin())
            .await;
    assert_eq!(stored.status, 200, "{}", stored.text);
    assert_eq!(stored.body["response"], answer);
    assert_eq!(stored.body["session_id"], sid.as_str());
    assert!(
        stored.body["rewritten_query"]
            .as_str()
            .unwrap()
            .contains("phone"),
        "{}",
        stored.text
    );
    assert_eq!(stored.body["status"], "completed");

    // The legacy path behaves the same and continues the session.
    let r = t
        .s
        .post("/api/chat", t.s.admin(), json!({"agent_id": t.agent, "query": "And how long does charging it take?", "session_id": sid}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.body["response"]
            .as_str()
            .unwrap()
            .contains("ninety minutes"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn unknown_topics_get_the_fixed_answer_and_bad_requests_are_refused() {
    let t = setup("redwood").await;
    let k = t.s.admin();
    let r = t.ask("Who painted the Mona Lisa in Florence?", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["response"], "I don't have information about that.");
    assert_eq!(r.body["sources"], json!([]));
    assert_eq!(r.body["metadata"]["rag_strategy"], "redwood");

    // A session of another agent is not found.
    let sid = r.body["metadata"]["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other =
        t.s.post(
            "/api/v1/agents",
            k,
            json!({"name": "Other", "data_source_ids": [t.ds]}),
        )
        .await;
    let other = other.body["id"].as_str().unwrap().to_owned();
    let r =
        t.s.post(
            "/api/v1/query",
            k,
            json!({"agent_id": other, "query": "warranty?", "session_id": sid}),
        )
        .await;
    assert_error(&r, 404, "not_found");
    let r = t.ask("warranty?", Some("sess_doesnotexist")).await;
    assert_error(&r, 404, "not_found");
    let r =
        t.s.post(
            "/api/v1/query",
            k,
            json!({"agent_id": "agent_nope", "query": "q"}),
        )
        .await;
    assert_error(&r, 404, "not_found");
    for bad in [
        json!({"query": "q"}),
        json!({"agent_id": t.agent}),
        json!({"agent_id": "ds_1", "query": "q"}),
        json!({"agent_id": t.agent, "query": "q", "temperature": 5}),
        json!({"agent_id": t.agent, "query": "q", "max_tokens": 0}),
        json!({"agent_id": t.agent, "query": "q", "color": "red"}),
    ] {
        let r = t.s.post("/api/v1/query", k, bad.clone()).await;
        assert_error(&r, 400, "invalid_request");
    }
    // An inactive agent: 400 naming the status.
    let r =
        t.s.put(
            &format!("/api/v1/agents/{other}"),
            k,
            json!({"status": "inactive"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r =
        t.s.post(
            "/api/v1/query",
            k,
            json!({"agent_id": other, "query": "warranty?"}),
        )
        .await;
    let msg = assert_error(&r, 400, "invalid_request");
    assert!(msg.contains("inactive"), "{msg}");
}

/// Parses an SSE body into (event, data) pairs.
fn sse(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .filter_map(|block| {
            let mut event = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event:") {
                    event = e.trim().to_owned();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.strip_prefix(' ').unwrap_or(d));
                }
            }
            (!event.is_empty()).then(|| (event, serde_json::from_str(&data).expect("JSON data")))
        })
        .collect()
}

#[tokio::test]
async fn streamed_answers_send_sources_tokens_done_and_match_the_record() {
    let t = setup("cypress").await;
    let k = t.s.admin();
    let r = t
        .s
        .raw(|c, base| {
            c.post(format!("{base}/api/v1/query"))
                .bearer_auth(k)
                .json(&json!({"agent_id": t.agent, "query": "How long is the warranty of the Model X laptop?", "stream": true}))
        })
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let events = sse(&r.text);
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(names.first(), Some(&"sources"), "{names:?}");
    assert_eq!(names.last(), Some(&"done"), "{names:?}");
    assert!(
        names[1..names.len() - 1].iter().all(|n| *n == "token") && names.len() > 3,
        "{names:?}"
    );
    let text: String = events
        .iter()
        .filter(|(e, _)| e == "token")
        .map(|(_, d)| d["text"].as_str().unwrap())
        .collect();
    assert!(text.contains("one-year warranty"), "{text}");
    let done = &events.last().unwrap().1;
    assert_eq!(done["rag_strategy"], "cypress");
    assert_eq!(done["reranker"], "none", "no cross-encoder configured");
    let id = done["interaction_id"].as_str().unwrap();
    let stored = t.s.get(&format!("/api/v1/interactions/{id}"), k).await;
    assert_eq!(stored.body["response"], text.as_str());
    assert_eq!(stored.body["sources"], events[0].1);
    assert_eq!(stored.body["session_id"], done["session_id"]);
    assert_eq!(stored.body["tokens_output"], done["tokens_output"]);
}

#[tokio::test]
async fn feedback_overwrites_and_filters_the_history() {
    let t = setup("redwood").await;
    let k = t.s.admin();
    let (_, exec_only) = t.s.key_with(&["execute"]).await;
    let mut ids = Vec::new();
    for q in [
        "Model X laptop warranty?",
        "Refund policy?",
        "Model Y phone battery?",
    ] {
        let r = t.ask(q, None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        ids.push(
            r.body["metadata"]["interaction_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let server = &t.s;
    let exec_only = exec_only.as_str();
    let fb = |id: &str, body: Value| {
        let path = format!("/api/v1/interactions/{id}/feedback");
        async move { server.post(&path, exec_only, body).await }
    };
    let r = fb(
        &ids[0],
        json!({"feedback": "positive", "comment": "Very helpful!"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (
            r.body["feedback"].as_str(),
            r.body["feedback_comment"].as_str()
        ),
        (Some("positive"), Some("Very helpful!"))
    );
    let r = fb(&ids[0], json!({"feedback": "negative"})).await;
    assert_eq!(
        (
            r.body["feedback"].as_str(),
            r.body["feedback_comment"].as_str()
        ),
        (Some("negative"), None)
    );
    assert_eq!(
        fb(&ids[1], json!({"feedback": "positive"})).await.status,
        200
    );
    assert_error(
        &fb(&ids[2], json!({"feedback": "meh"})).await,
        400,
        "invalid_request",
    );
    assert_error(&fb(&ids[2], json!({})).await, 400, "invalid_request");
    assert_error(
        &fb("int_missing", json!({"feedback": "positive"})).await,
        404,
        "not_found",
    );

    let list = |q: String| async move { server.get(&format!("/api/v1/interactions{q}"), k).await };
    let all = list(String::new()).await;
    assert_eq!(all.status, 200, "{}", all.text);
    assert_eq!(all.body["total"], 3);
    assert_eq!(
        (all.body["limit"].as_u64(), all.body["offset"].as_u64()),
        (Some(50), Some(0))
    );
    assert_eq!(
        all.body["interactions"][0]["id"],
        ids[2].as_str(),
        "newest first"
    );
    let ids_of = |r: &crate::helpers::Resp| -> Vec<String> {
        r.body["interactions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids_of(&list("?feedback=negative".into()).await),
        vec![ids[0].clone()]
    );
    assert_eq!(
        ids_of(&list("?feedback=positive".into()).await),
        vec![ids[1].clone()]
    );
    assert_eq!(
        ids_of(&list("?feedback=null".into()).await),
        vec![ids[2].clone()]
    );
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let r = list(format!(
        "?agent_id={}&start_date={today}&end_date={today}&limit=2&offset=1",
        t.agent
    ))
    .await;
    assert_eq!(
        (r.body["total"].as_u64(), ids_of(&r)),
        (Some(3), vec![ids[1].clone(), ids[0].clone()])
    );
    let r = list("?end_date=2000-01-01".into()).await;
    assert_eq!(r.body["total"], 0);
    let r = list("?agent_id=agent_other".into()).await;
    assert_eq!(r.body["total"], 0);
    for bad in [
        "?feedback=meh",
        "?start_date=yesterday",
        "?limit=0",
        "?agent_id=ds_1",
    ] {
        assert_error(&list(bad.into()).await, 400, "invalid_request");
    }
}
