//! IR metrics with binary relevance (nDCG@k, recall@k, MRR@k), matching
//! `pytrec_eval`/BEIR conventions: a run's repeated ids count once, at their first rank.

use std::collections::{HashMap, HashSet};

/// Ids of `ranked` with later duplicates removed, cut at `k`.
fn top_unique<S: AsRef<str>>(ranked: &[S], k: usize) -> Vec<&str> {
    let mut seen = HashSet::new();
    ranked
        .iter()
        .map(AsRef::as_ref)
        .filter(|id| seen.insert(*id))
        .take(k)
        .collect()
}

/// nDCG@k: `sum_{rel at rank i} 1/log2(i+1)` over the ideal DCG; 0 if nothing is relevant.
pub fn ndcg_at_k<S: AsRef<str>>(ranked: &[S], relevant: &HashSet<String>, k: usize) -> f64 {
    if relevant.is_empty() {
        return 0.0;
    }
    let gain = |i: usize| 1.0 / ((i + 2) as f64).log2();
    let dcg: f64 = top_unique(ranked, k)
        .iter()
        .enumerate()
        .filter(|(_, id)| relevant.contains(**id))
        .map(|(i, _)| gain(i))
        .sum();
    let ideal: f64 = (0..relevant.len().min(k)).map(gain).sum();
    dcg / ideal
}

/// Recall@k: fraction of relevant ids in the top k; 0 if nothing is relevant.
pub fn recall_at_k<S: AsRef<str>>(ranked: &[S], relevant: &HashSet<String>, k: usize) -> f64 {
    if relevant.is_empty() {
        return 0.0;
    }
    let found = top_unique(ranked, k)
        .iter()
        .filter(|id| relevant.contains(**id))
        .count();
    found as f64 / relevant.len() as f64
}

/// MRR@k: reciprocal rank of the first relevant id within the top k, else 0.
pub fn mrr_at_k<S: AsRef<str>>(ranked: &[S], relevant: &HashSet<String>, k: usize) -> f64 {
    top_unique(ranked, k)
        .iter()
        .position(|id| relevant.contains(*id))
        .map_or(0.0, |i| 1.0 / (i + 1) as f64)
}

/// Mean metrics over a query set.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Metrics {
    /// Mean nDCG@10.
    pub ndcg_at_10: f64,
    /// Mean recall@10.
    pub recall_at_10: f64,
    /// Mean recall@100.
    pub recall_at_100: f64,
    /// Mean MRR@10.
    pub mrr_at_10: f64,
    /// Number of queries averaged (those in the qrels).
    pub queries: usize,
}

/// Averages the metrics over every query in `qrels`; a query missing from `run` scores 0.
pub fn evaluate(
    run: &HashMap<String, Vec<String>>,
    qrels: &HashMap<String, HashSet<String>>,
) -> Metrics {
    let mut m = Metrics::default();
    let empty = Vec::new();
    for (qid, rel) in qrels {
        let ranked = run.get(qid).unwrap_or(&empty);
        m.ndcg_at_10 += ndcg_at_k(ranked, rel, 10);
        m.recall_at_10 += recall_at_k(ranked, rel, 10);
        m.recall_at_100 += recall_at_k(ranked, rel, 100);
        m.mrr_at_10 += mrr_at_k(ranked, rel, 10);
    }
    let n = qrels.len().max(1) as f64;
    m.ndcg_at_10 /= n;
    m.recall_at_10 /= n;
    m.recall_at_100 /= n;
    m.mrr_at_10 /= n;
    m.queries = qrels.len();
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    }

    #[test]
    fn ndcg_hand_computed() {
        // Relevant at ranks 1 and 3 of two relevant: (1 + 1/log2(4)) / (1 + 1/log2(3)).
        let r = ["a", "x", "b", "y"];
        close(
            ndcg_at_k(&r, &rel(&["a", "b"]), 10),
            (1.0 + 0.5) / (1.0 + 1.0 / 3f64.log2()),
        );
        // Single relevant at rank 2: 1/log2(3).
        close(ndcg_at_k(&r, &rel(&["x"]), 10), 1.0 / 3f64.log2());
        // Cut-off excludes it.
        close(ndcg_at_k(&r, &rel(&["y"]), 3), 0.0);
        // Ideal DCG is capped at k.
        close(ndcg_at_k(&["a"], &rel(&["a", "b", "c"]), 1), 1.0);
        close(ndcg_at_k(&r, &rel(&[]), 10), 0.0);
    }

    #[test]
    fn duplicates_count_once() {
        let r = ["x", "x", "a"];
        close(ndcg_at_k(&r, &rel(&["a"]), 10), 1.0 / 3f64.log2());
        close(mrr_at_k(&r, &rel(&["a"]), 10), 0.5);
        close(recall_at_k(&["a", "a"], &rel(&["a", "b"]), 10), 0.5);
    }

    #[test]
    fn recall_and_mrr() {
        let r = ["x", "a", "y", "b", "c"];
        let rl = rel(&["a", "b", "z"]);
        close(recall_at_k(&r, &rl, 2), 1.0 / 3.0);
        close(recall_at_k(&r, &rl, 100), 2.0 / 3.0);
        close(mrr_at_k(&r, &rl, 10), 0.5);
        close(mrr_at_k(&r, &rl, 1), 0.0);
    }

    #[test]
    fn evaluate_averages_over_qrels() {
        let qrels: HashMap<String, HashSet<String>> = [
            ("q1".to_string(), rel(&["a"])),
            ("q2".to_string(), rel(&["b"])),
        ]
        .into_iter()
        .collect();
        let run: HashMap<String, Vec<String>> = [("q1".to_string(), vec!["a".to_string()])]
            .into_iter()
            .collect();
        let m = evaluate(&run, &qrels);
        close(m.ndcg_at_10, 0.5);
        close(m.mrr_at_10, 0.5);
        close(m.recall_at_100, 0.5);
        assert_eq!(m.queries, 2);
    }
}
