//! BM25 quality on BEIR SciFact (test split):
//! `cargo run --example scifact_lexical -- /work/shared/datasets/scifact`
//!
//! Env knobs for tuning: TWIG_STEM, TWIG_STOP, TWIG_FOLD (0/1), TWIG_TITLE_WEIGHT (f32).

use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::path::Path;
use std::time::Instant;

use twig_index::eval::evaluate;
use twig_index::lexical::{AnalyzerConfig, LexicalConfig};
use twig_index::{chunk_text, ChunkingConfig, IndexOp, LexicalIndex, WhitespaceCounter};

fn env_flag(name: &str, default: bool) -> bool {
    std::env::var(name).map_or(default, |v| v != "0")
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/work/shared/datasets/scifact".into());
    let dir = Path::new(&dir);
    let config = LexicalConfig {
        analyzer: AnalyzerConfig {
            stem: env_flag("TWIG_STEM", true),
            stop_words: env_flag("TWIG_STOP", true),
            ascii_folding: env_flag("TWIG_FOLD", true),
        },
        title_weight: std::env::var("TWIG_TITLE_WEIGHT")
            .map_or(Ok(LexicalConfig::default().title_weight), |v| v.parse())?,
        ..LexicalConfig::default()
    };
    println!("{config:?}");

    let data = twig_index::beir::load(dir)?;
    let (docs, queries, qrels) = (data.corpus, data.queries, data.qrels);

    let tmp = tempfile::tempdir()?;
    let index = LexicalIndex::open_with(tmp.path(), config)?;
    let t = Instant::now();
    let chunking = ChunkingConfig::default();
    let mut ops = Vec::new();
    let mut chunk_doc: HashMap<String, String> = HashMap::new();
    for d in &docs {
        for c in chunk_text(&d.text, &WhitespaceCounter, &chunking)? {
            let chunk_id = format!("{}#{}", d.id, c.position);
            chunk_doc.insert(chunk_id.clone(), d.id.clone());
            ops.push(IndexOp::AddChunk {
                chunk_id,
                doc_id: d.id.clone(),
                org_id: "org".into(),
                data_source_id: "scifact".into(),
                title: d.title.clone(),
                heading_path: c.heading_path,
                text: c.text,
            });
        }
    }
    index.apply(&ops, 1)?;
    println!(
        "indexed {} docs as {} chunks in {:.2?}",
        docs.len(),
        ops.len(),
        t.elapsed()
    );

    let t = Instant::now();
    let mut run: HashMap<String, Vec<String>> = HashMap::new();
    for q in &queries {
        let hits = index.search("org", None, &q.text, 300)?;
        // Document score = best chunk score: keep each doc's first (best) appearance.
        let mut seen = HashSet::new();
        let ranked: Vec<String> = hits
            .iter()
            .filter_map(|h| chunk_doc.get(&h.chunk_id))
            .filter(|d| seen.insert(d.as_str()))
            .take(100)
            .cloned()
            .collect();
        run.insert(q.id.clone(), ranked);
    }
    let elapsed = t.elapsed();
    let m = evaluate(&run, &qrels);
    println!(
        "{} queries in {:.2?} ({:.2?}/query)",
        m.queries,
        elapsed,
        elapsed / m.queries.max(1) as u32
    );
    println!(
        "nDCG@10 {:.4}  recall@10 {:.4}  recall@100 {:.4}  MRR@10 {:.4}",
        m.ndcg_at_10, m.recall_at_10, m.recall_at_100, m.mrr_at_10
    );
    Ok(())
}
