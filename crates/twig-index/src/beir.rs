//! Loading a BEIR data set (corpus.jsonl, queries.jsonl, qrels/test.tsv) for benchmarks.

use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// One corpus document.
#[derive(Debug, Clone, Deserialize)]
pub struct BeirDoc {
    /// Corpus id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Title (may be empty).
    #[serde(default)]
    pub title: String,
    /// Body.
    pub text: String,
}

/// One query: only its id and text; BEIR's `metadata` can leak the answers and is never read.
#[derive(Debug, Clone, Deserialize)]
pub struct BeirQuery {
    /// Query id.
    #[serde(rename = "_id")]
    pub id: String,
    /// The query text.
    pub text: String,
}

/// A loaded data set: the corpus, the judged test queries, and their relevant documents.
#[derive(Debug, Clone)]
pub struct Beir {
    /// All documents, in file order.
    pub corpus: Vec<BeirDoc>,
    /// Test queries that have at least one judgment.
    pub queries: Vec<BeirQuery>,
    /// Query id to relevant document ids (score > 0).
    pub qrels: HashMap<String, HashSet<String>>,
}

/// Why a data set could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BeirError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A line is not the expected JSON.
    #[error("{path}:{line}: {source}")]
    Json {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// The cause.
        source: serde_json::Error,
    },
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, BeirError> {
    let text = std::fs::read_to_string(path).map_err(|source| BeirError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v = serde_json::from_str(line).map_err(|source| BeirError::Json {
            path: path.display().to_string(),
            line: i + 1,
            source,
        })?;
        out.push(v);
    }
    Ok(out)
}

/// Loads `dir` in BEIR layout, keeping only the test queries that have judgments.
pub fn load(dir: &Path) -> Result<Beir, BeirError> {
    let corpus: Vec<BeirDoc> = read_jsonl(&dir.join("corpus.jsonl"))?;
    let queries: Vec<BeirQuery> = read_jsonl(&dir.join("queries.jsonl"))?;
    let qrels_path = dir.join("qrels").join("test.tsv");
    let text = std::fs::read_to_string(&qrels_path).map_err(|source| BeirError::Io {
        path: qrels_path.display().to_string(),
        source,
    })?;
    let mut qrels: HashMap<String, HashSet<String>> = HashMap::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() >= 3 && cols[2].trim().parse::<i64>().unwrap_or(0) > 0 {
            qrels
                .entry(cols[0].to_owned())
                .or_default()
                .insert(cols[1].to_owned());
        }
    }
    let queries = queries
        .into_iter()
        .filter(|q| qrels.contains_key(&q.id))
        .collect();
    Ok(Beir {
        corpus,
        queries,
        qrels,
    })
}
