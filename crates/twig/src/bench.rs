//! `twig bench retrieval`: retrieval quality and speed on a BEIR data set, through
//! the same ingestion entry point and search code as the server. With `[rerank]
//! enabled`, it also reranks hybrid's top 50 with the cross-encoder (as cypress does).

use crate::config::Settings;
use anyhow::{bail, Context};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use twig_core::datasource::{DataSource, DataSourceInput};
use twig_core::id::DocumentId;
use twig_core::llm::Reranker;
use twig_core::org::Org;
use twig_core::retrieval::{
    ChunkingOptions, DocumentInput, Embedder, SearchHit, SearchMode, SearchRequest, SectionInput,
};
use twig_index::beir::BeirDoc;
use twig_index::eval::{evaluate, Metrics};

/// Hybrid candidates the cross-encoder reranks per query (cypress retrieves top 50).
const RERANK_CANDIDATES: usize = 50;

/// Documents per ingestion call (one store transaction each, one index commit per sync).
const INGEST_BATCH: usize = 64;

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The `p`th percentile of sorted values (nearest rank).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn metrics_json(m: &Metrics) -> serde_json::Value {
    json!({"ndcg_at_10": m.ndcg_at_10, "recall_at_10": m.recall_at_10, "recall_at_100": m.recall_at_100, "mrr_at_10": m.mrr_at_10})
}

/// Runs the retrieval benchmark and prints its figures.
pub async fn retrieval(
    settings: &Settings,
    dataset: &Path,
    as_json: bool,
    max_docs: Option<usize>,
    database_url: Option<&str>,
) -> anyhow::Result<()> {
    let data = twig_index::beir::load(dataset)
        .with_context(|| format!("loading {}", dataset.display()))?;
    let (corpus, queries, qrels) = (data.corpus, data.queries, data.qrels);
    let corpus: Vec<BeirDoc> = match max_docs {
        Some(n) => corpus.into_iter().take(n).collect(),
        None => corpus,
    };
    if queries.is_empty() {
        bail!("no test query of {} has judgments", dataset.display());
    }

    let reranker = crate::rerank::reranker(settings).await?;
    if !as_json {
        eprintln!(
            "ingesting {} documents from {} ...",
            corpus.len(),
            dataset.display()
        );
    }
    let Indexed {
        _tmp,
        _db,
        settings,
        embedder,
        retriever,
        org,
        doc_to_corpus,
        chunks,
        ingest_secs,
        ..
    } = index_corpus(settings, &corpus, database_url).await?;

    let passages_per_s = match &embedder {
        Some(e) => embed_throughput(e.clone(), &corpus).await?,
        None => 0.0,
    };

    let modes: &[(SearchMode, &str)] = if embedder.is_some() {
        &[
            (SearchMode::Lexical, "lexical"),
            (SearchMode::Vector, "vector"),
            (SearchMode::Hybrid, "hybrid"),
        ]
    } else {
        &[(SearchMode::Lexical, "lexical")]
    };
    let mut results = serde_json::Map::new();
    let mut latencies = Vec::new();
    let mut rerank_run: HashMap<String, Vec<String>> = HashMap::new();
    let mut rerank_ms = Vec::new();
    for (mode, name) in modes {
        let mut run: HashMap<String, Vec<String>> = HashMap::new();
        for q in &queries {
            let t = Instant::now();
            let res = retriever
                .search(SearchRequest {
                    org_id: org.id.clone(),
                    query: q.text.clone(),
                    top_k: 100,
                    similarity_threshold: None,
                    data_source_ids: None,
                    mode: *mode,
                    want_query_embedding: false,
                })
                .await?;
            if *mode == SearchMode::Hybrid || (embedder.is_none() && *mode == SearchMode::Lexical) {
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            let ranked = to_docs(res.hits.iter(), &doc_to_corpus);
            if let (Some(rr), SearchMode::Hybrid) = (&reranker, mode) {
                let top: Vec<_> = res.hits.iter().take(RERANK_CANDIDATES).cloned().collect();
                let (order, ms) = rerank(rr.clone(), q.text.clone(), &top).await?;
                rerank_ms.push(ms);
                rerank_run.insert(
                    q.id.clone(),
                    to_docs(order.iter().map(|&i| &top[i]), &doc_to_corpus),
                );
            }
            run.insert(q.id.clone(), ranked);
        }
        results.insert((*name).to_owned(), metrics_json(&evaluate(&run, &qrels)));
    }
    let rerank_out = reranker.as_ref().map(|rr| {
        rerank_ms.sort_by(|a, b| a.total_cmp(b));
        json!({
            "model": rr.model_id(),
            "candidates": RERANK_CANDIDATES,
            "metrics": metrics_json(&evaluate(&rerank_run, &qrels)),
            "latency_ms": {"p50": percentile(&rerank_ms, 50.0), "p95": percentile(&rerank_ms, 95.0)},
        })
    });
    latencies.sort_by(|a, b| a.total_cmp(b));
    let out = json!({
        "lexical": results.get("lexical"),
        "vector": results.get("vector"),
        "hybrid": results.get("hybrid"),
        "hybrid_reranked": rerank_out,
        "ingest": {"chunks_per_s": chunks as f64 / ingest_secs, "passages_per_s": passages_per_s,
                   "documents": corpus.len(), "chunks": chunks, "seconds": ingest_secs},
        "latency_ms": {"p50": percentile(&latencies, 50.0), "p95": percentile(&latencies, 95.0), "p99": percentile(&latencies, 99.0)},
        "peak_rss_mb": peak_rss_mb(),
        "queries": queries.len(),
        "fusion": settings.search.fusion,
        "engine": if database_url.is_some() { "postgres" } else { "embedded" },
    });
    if as_json {
        println!("{out}");
    } else {
        print_table(&out);
    }
    Ok(())
}

/// A BEIR corpus indexed into a fresh temporary data dir, for the benchmarks.
pub struct Indexed {
    /// Keeps the data dir alive.
    pub _tmp: tempfile::TempDir,
    /// Keeps the scratch database alive (PostgreSQL runs).
    pub _db: Option<twig_store::scratch::ScratchDb>,
    /// The settings with `data_dir` pointing at it.
    pub settings: Settings,
    /// The store.
    pub store: Arc<dyn twig_core::store::Store>,
    /// The embedding model, unless lexical only.
    pub embedder: Option<Arc<dyn twig_core::retrieval::Embedder>>,
    /// The engine.
    pub retriever: Arc<dyn twig_core::retrieval::Retriever>,
    /// The organisation owning everything.
    pub org: Org,
    /// The data source holding the corpus.
    pub ds: DataSource,
    /// Stored document id -> BEIR corpus id.
    pub doc_to_corpus: HashMap<DocumentId, String>,
    /// Chunks created.
    pub chunks: u64,
    /// Seconds the ingestion took (store and model loading excluded).
    pub ingest_secs: f64,
}

/// Ingests `corpus` (one section per document, default chunking) into a new temporary data dir,
/// or, given a PostgreSQL server, into a scratch database there.
pub async fn index_corpus(
    settings: &Settings,
    corpus: &[BeirDoc],
    database_url: Option<&str>,
) -> anyhow::Result<Indexed> {
    let tmp = tempfile::tempdir()?;
    let mut settings = settings.clone();
    settings.data_dir = tmp.path().to_path_buf();
    let db = match database_url {
        Some(url) => Some(twig_store::scratch::ScratchDb::create_on(url).await?),
        None => None,
    };
    settings.database_url = db.as_ref().map(|d| d.url.clone());
    if db.is_some() && settings.secret_key.is_none() {
        settings.secret_key = Some(hex::encode(rand::random::<[u8; 32]>()));
    }
    let store = crate::cli::open_store(&settings).await?;
    let embedder = crate::retrieval::embedder(&settings).await?;
    let retriever = crate::retrieval::open_with(&settings, store.clone(), embedder.clone()).await?;
    let org = Org::new("bench")?;
    store.create_org(&org).await?;
    let ds = DataSource::create(
        org.id.clone(),
        DataSourceInput {
            kind: Some("file".into()),
            name: Some("corpus".into()),
            ..Default::default()
        },
    )?;
    store.create_data_source(&ds).await?;
    let started = Instant::now();
    let mut doc_to_corpus: HashMap<DocumentId, String> = HashMap::new();
    let mut chunks = 0u64;
    for batch in corpus.chunks(INGEST_BATCH) {
        let inputs: Vec<DocumentInput> = batch
            .iter()
            .map(|d| DocumentInput {
                org_id: org.id.clone(),
                data_source_id: ds.id.clone(),
                source_key: d.id.clone(),
                title: d.title.clone(),
                url: None,
                filename: None,
                metadata: Default::default(),
                sections: vec![SectionInput {
                    heading_path: vec![],
                    text: d.text.clone(),
                    page: None,
                }],
                chunking: ChunkingOptions::default(),
            })
            .collect();
        let outcomes = retriever.upsert_documents(inputs).await?;
        for (d, o) in batch.iter().zip(outcomes) {
            if let twig_core::retrieval::UpsertOutcome::Created(_, n)
            | twig_core::retrieval::UpsertOutcome::Replaced(_, n) = &o
            {
                chunks += u64::from(*n);
            }
            doc_to_corpus.insert(o.document_id().clone(), d.id.clone());
        }
    }
    Ok(Indexed {
        _tmp: tmp,
        _db: db,
        settings,
        store,
        embedder,
        retriever,
        org,
        ds,
        doc_to_corpus,
        chunks,
        ingest_secs: started.elapsed().as_secs_f64(),
    })
}

/// Corpus ids of `hits` in order, each document once.
fn to_docs<'a>(
    hits: impl Iterator<Item = &'a SearchHit>,
    doc_to_corpus: &HashMap<DocumentId, String>,
) -> Vec<String> {
    let mut seen = HashSet::new();
    hits.filter_map(|h| doc_to_corpus.get(&h.document_id).cloned())
        .filter(|d| seen.insert(d.clone()))
        .collect()
}

/// Indices of `hits` by descending cross-encoder score (title + chunk text), and the milliseconds it took.
async fn rerank(
    rr: Arc<dyn Reranker>,
    query: String,
    hits: &[SearchHit],
) -> anyhow::Result<(Vec<usize>, f64)> {
    let texts: Vec<String> = hits
        .iter()
        .map(|h| format!("{}\n{}", h.document_title, h.text))
        .collect();
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let t = Instant::now();
        let scores = rr.score(&query, &refs)?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        Ok((order, ms))
    })
    .await?
}

/// Passages per second of the bare embedder on the corpus's first 1,000 texts.
async fn embed_throughput(e: Arc<dyn Embedder>, corpus: &[BeirDoc]) -> anyhow::Result<f64> {
    let texts: Vec<String> = corpus
        .iter()
        .take(1000)
        .map(|d| format!("{}\n{}", d.title, d.text))
        .collect();
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let t = Instant::now();
        e.embed(&refs)?;
        Ok(refs.len() as f64 / t.elapsed().as_secs_f64())
    })
    .await?
}

fn print_table(out: &serde_json::Value) {
    println!(
        "{:<8} {:>9} {:>10} {:>11} {:>8}",
        "", "nDCG@10", "recall@10", "recall@100", "MRR@10"
    );
    for name in ["lexical", "vector", "hybrid"] {
        let m = &out[name];
        if m.is_null() {
            continue;
        }
        println!(
            "{:<8} {:>9.4} {:>10.4} {:>11.4} {:>8.4}",
            name,
            m["ndcg_at_10"].as_f64().unwrap_or(0.0),
            m["recall_at_10"].as_f64().unwrap_or(0.0),
            m["recall_at_100"].as_f64().unwrap_or(0.0),
            m["mrr_at_10"].as_f64().unwrap_or(0.0)
        );
    }
    let i = &out["ingest"];
    println!(
        "ingest: {} documents, {} chunks in {:.1}s: {:.1} chunks/s; embedding alone {:.1} passages/s",
        i["documents"], i["chunks"], i["seconds"].as_f64().unwrap_or(0.0), i["chunks_per_s"].as_f64().unwrap_or(0.0),
        i["passages_per_s"].as_f64().unwrap_or(0.0)
    );
    let r = &out["hybrid_reranked"];
    if !r.is_null() {
        let m = &r["metrics"];
        println!(
            "{:<8} {:>9.4} {:>10.4} {:>11} {:>8.4}   (hybrid top {} reranked by {}; rerank p50 {:.0} ms, p95 {:.0} ms per query)",
            "+rerank",
            m["ndcg_at_10"].as_f64().unwrap_or(0.0),
            m["recall_at_10"].as_f64().unwrap_or(0.0),
            "-",
            m["mrr_at_10"].as_f64().unwrap_or(0.0),
            r["candidates"],
            r["model"].as_str().unwrap_or(""),
            r["latency_ms"]["p50"].as_f64().unwrap_or(0.0),
            r["latency_ms"]["p95"].as_f64().unwrap_or(0.0),
        );
    }
    let l = &out["latency_ms"];
    println!(
        "search latency ({} queries, top_k 100, query embedding included): p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms",
        out["queries"], l["p50"].as_f64().unwrap_or(0.0), l["p95"].as_f64().unwrap_or(0.0), l["p99"].as_f64().unwrap_or(0.0)
    );
    println!(
        "peak RSS: {:.0} MB; fusion: {}; engine: {}",
        out["peak_rss_mb"].as_f64().unwrap_or(0.0),
        out["fusion"],
        out["engine"]
    );
}
