//! `twig bench answer`: the answering pipeline on a BEIR data set, per strategy:
//! latency without the model's time, and answer recall@k (the share of answers whose
//! sources include a document judged relevant).

use crate::bench::percentile;
use crate::config::Settings;
use anyhow::{bail, Context};
use serde_json::json;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use twig_answer::{AnswerEvent, Answerer, Caller, QueryRequest};
use twig_core::agent::{Agent, AgentInput};
use twig_core::id::ChunkId;
use twig_core::llm::ExtractiveOnly;
use twig_index::beir::BeirDoc;

/// Runs the answering benchmark and prints its figures.
pub async fn answer(
    settings: &Settings,
    dataset: &Path,
    as_json: bool,
    max_docs: Option<usize>,
    max_queries: Option<usize>,
) -> anyhow::Result<()> {
    let data = twig_index::beir::load(dataset)
        .with_context(|| format!("loading {}", dataset.display()))?;
    let corpus: Vec<BeirDoc> = match max_docs {
        Some(n) => data.corpus.into_iter().take(n).collect(),
        None => data.corpus,
    };
    let queries: Vec<_> = data
        .queries
        .into_iter()
        .take(max_queries.unwrap_or(usize::MAX))
        .collect();
    if queries.is_empty() {
        bail!("no test query of {} has judgments", dataset.display());
    }
    if !as_json {
        eprintln!(
            "ingesting {} documents from {} ...",
            corpus.len(),
            dataset.display()
        );
    }
    let crate::bench::Indexed {
        _tmp,
        settings,
        store,
        embedder,
        retriever,
        org,
        ds,
        doc_to_corpus,
        ..
    } = crate::bench::index_corpus(settings, &corpus, None).await?;
    let config = settings.answer.pipeline();
    let threshold = config.similarity_threshold;
    let answerer = Arc::new(Answerer::new(
        store.clone(),
        retriever,
        Arc::new(ExtractiveOnly),
        None,
        embedder,
        config,
    ));
    let caller = Caller {
        org_id: org.id.clone(),
        key_id: None,
    };
    let mut out = serde_json::Map::new();
    for strategy in ["redwood", "cedar", "cypress"] {
        let agent = Agent::create(
            org.id.clone(),
            AgentInput {
                name: Some(strategy.into()),
                rag_strategy: Some(strategy.into()),
                data_source_ids: Some(vec![ds.id.to_string()]),
                ..Default::default()
            },
        )?;
        store.create_agent(&agent).await?;
        let mut latencies = Vec::with_capacity(queries.len());
        let (mut found, mut answered, mut k) = (0usize, 0usize, 0usize);
        for q in &queries {
            let mut rx = answerer
                .start(
                    caller.clone(),
                    QueryRequest {
                        agent_id: Some(agent.id.to_string()),
                        query: Some(q.text.clone()),
                        ..Default::default()
                    },
                )
                .await?;
            let mut sources: Vec<ChunkId> = Vec::new();
            while let Some(ev) = rx.recv().await {
                match ev {
                    AnswerEvent::Sources(s) => {
                        sources = s.into_iter().map(|s| s.chunk_id).collect()
                    }
                    AnswerEvent::Token(_) => {}
                    AnswerEvent::Done(_, timing) => {
                        latencies.push((timing.total - timing.llm).as_secs_f64() * 1000.0);
                    }
                    AnswerEvent::Error(e) => bail!("query {} failed: {e}", q.id),
                }
            }
            k = k.max(sources.len());
            if sources.is_empty() {
                continue;
            }
            answered += 1;
            let details = store.documents().chunk_details(&org.id, &sources).await?;
            let docs: HashSet<&String> = details
                .iter()
                .filter_map(|d| doc_to_corpus.get(&d.chunk.document_id))
                .collect();
            if data
                .qrels
                .get(&q.id)
                .is_some_and(|rel| rel.iter().any(|r| docs.contains(r)))
            {
                found += 1;
            }
        }
        latencies.sort_by(|a, b| a.total_cmp(b));
        let n = queries.len() as f64;
        out.insert(
            strategy.to_owned(),
            json!({
                "p50_ms": percentile(&latencies, 50.0),
                "p95_ms": percentile(&latencies, 95.0),
                "answer_recall": found as f64 / n,
                "answered": answered as f64 / n,
                "k": k,
            }),
        );
    }
    let out = json!({
        "strategies": out,
        "queries": queries.len(),
        "documents": corpus.len(),
        "similarity_threshold": (f64::from(threshold) * 1000.0).round() / 1000.0,
        "model": "extractive",
    });
    if as_json {
        println!("{out}");
        return Ok(());
    }
    println!(
        "{:<8} {:>8} {:>8} {:>14} {:>9} {:>4}",
        "", "p50 ms", "p95 ms", "answer recall", "answered", "k"
    );
    for s in ["redwood", "cedar", "cypress"] {
        let m = &out["strategies"][s];
        println!(
            "{:<8} {:>8.2} {:>8.2} {:>14.4} {:>9.4} {:>4}",
            s,
            m["p50_ms"].as_f64().unwrap_or(0.0),
            m["p95_ms"].as_f64().unwrap_or(0.0),
            m["answer_recall"].as_f64().unwrap_or(0.0),
            m["answered"].as_f64().unwrap_or(0.0),
            m["k"]
        );
    }
    println!(
        "{} queries over {} documents; extractive answerer; similarity threshold {}; \
         latency excludes model time and includes retrieval, composition and recording the interaction",
        out["queries"], out["documents"], out["similarity_threshold"]
    );
    Ok(())
}
