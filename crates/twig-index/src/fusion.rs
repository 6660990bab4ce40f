//! Fusion of lexical and vector result lists.
//!
//! Two methods: reciprocal-rank fusion ([`reciprocal_rank_fusion`]) and a
//! calibrated score blend ([`score_fusion`]). Both return [`FusedHit`]s carrying
//! each retriever's raw score and rank plus a [`FusedHit::similarity_score`] that
//! means the same thing for every result.

use std::collections::HashMap;

/// A retriever result: chunk id and the retriever's raw score (BM25 or cosine).
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Chunk id.
    pub chunk_id: String,
    /// Raw score; higher is better.
    pub score: f32,
}

/// Where one retriever placed a fused result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetrieverHit {
    /// 1-based rank in that retriever's list.
    pub rank: usize,
    /// Raw score from that retriever.
    pub score: f32,
}

/// One fused result.
#[derive(Debug, Clone, PartialEq)]
pub struct FusedHit {
    /// Chunk id.
    pub chunk_id: String,
    /// 1-based rank in the fused list.
    pub rank: usize,
    /// Score the fused list is sorted by (RRF sum or blended score); only
    /// comparable within one list.
    pub fused_score: f32,
    /// Lexical (BM25) placement, if the lexical retriever found it.
    pub lexical: Option<RetrieverHit>,
    /// Vector (cosine) placement, if the vector retriever found it.
    pub vector: Option<RetrieverHit>,
    /// `clamp(cos(query_embedding, chunk_embedding), 0, 1)`, for every result,
    /// lexical-only hits included. The cosine comes from the caller's callback,
    /// else from the vector hit's score, else is 0 (no embedding known).
    /// Same meaning across queries and retrievers, so a fixed grounding
    /// threshold (e.g. 0.7) can be applied to it.
    pub similarity_score: f32,
}

/// Settings for [`reciprocal_rank_fusion`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RrfConfig {
    /// Rank offset `k` in `w / (k + rank)`; 60 per Cormack et al.
    pub k: f32,
    /// Weight of the lexical list.
    pub lexical_weight: f32,
    /// Weight of the vector list.
    pub vector_weight: f32,
}

impl Default for RrfConfig {
    fn default() -> Self {
        Self {
            k: 60.0,
            lexical_weight: 1.0,
            vector_weight: 1.0,
        }
    }
}

/// How BM25 scores are mapped to [0, 1] before blending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalization {
    /// `(s - min) / (max - min)` over the lexical list (1 when all equal).
    MinMax,
    /// Logistic of the z-score over the lexical list: `1 / (1 + e^-z)`.
    ZScore,
}

/// Settings for [`score_fusion`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreFusionConfig {
    /// Weight of the similarity score; `1 - alpha` goes to normalised BM25.
    pub alpha: f32,
    /// BM25 normalisation.
    pub normalization: Normalization,
}

impl Default for ScoreFusionConfig {
    fn default() -> Self {
        Self {
            alpha: 0.5,
            normalization: Normalization::MinMax,
        }
    }
}

struct Candidate {
    chunk_id: String,
    lexical: Option<RetrieverHit>,
    vector: Option<RetrieverHit>,
}

/// Union of both lists in first-seen order; duplicates keep their best rank.
fn candidates(lexical: &[Hit], vector: &[Hit]) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (is_vector, list) in [(false, lexical), (true, vector)] {
        for (i, h) in list.iter().enumerate() {
            let slot = *index.entry(h.chunk_id.as_str()).or_insert_with(|| {
                out.push(Candidate {
                    chunk_id: h.chunk_id.clone(),
                    lexical: None,
                    vector: None,
                });
                out.len() - 1
            });
            let field = if is_vector {
                &mut out[slot].vector
            } else {
                &mut out[slot].lexical
            };
            field.get_or_insert(RetrieverHit {
                rank: i + 1,
                score: h.score,
            });
        }
    }
    out
}

fn similarity(c: &Candidate, cosine: &dyn Fn(&str) -> Option<f32>) -> f32 {
    let cos = cosine(&c.chunk_id)
        .or(c.vector.map(|v| v.score))
        .unwrap_or(0.0);
    if cos.is_nan() {
        0.0
    } else {
        cos.clamp(0.0, 1.0)
    }
}

/// Sorts by fused score (ties: best single-list rank, then chunk id) and assigns ranks.
fn finish(mut scored: Vec<(Candidate, f32, f32)>) -> Vec<FusedHit> {
    let best_rank = |c: &Candidate| {
        c.lexical
            .map_or(usize::MAX, |h| h.rank)
            .min(c.vector.map_or(usize::MAX, |h| h.rank))
    };
    scored.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| best_rank(&a.0).cmp(&best_rank(&b.0)))
            .then_with(|| a.0.chunk_id.cmp(&b.0.chunk_id))
    });
    scored
        .into_iter()
        .enumerate()
        .map(|(i, (c, fused, sim))| FusedHit {
            chunk_id: c.chunk_id,
            rank: i + 1,
            fused_score: fused,
            lexical: c.lexical,
            vector: c.vector,
            similarity_score: sim,
        })
        .collect()
}

/// Reciprocal-rank fusion: `sum_lists w / (k + rank)`.
///
/// `cosine(chunk_id)` returns the query/chunk cosine when known (e.g. from
/// [`crate::VectorIndex::similarities`] or the database); it only feeds
/// `similarity_score`, not the order.
pub fn reciprocal_rank_fusion(
    lexical: &[Hit],
    vector: &[Hit],
    config: &RrfConfig,
    cosine: &dyn Fn(&str) -> Option<f32>,
) -> Vec<FusedHit> {
    let scored = candidates(lexical, vector)
        .into_iter()
        .map(|c| {
            let part =
                |h: Option<RetrieverHit>, w: f32| h.map_or(0.0, |h| w / (config.k + h.rank as f32));
            let fused =
                part(c.lexical, config.lexical_weight) + part(c.vector, config.vector_weight);
            let sim = similarity(&c, cosine);
            (c, fused, sim)
        })
        .collect();
    finish(scored)
}

/// Score blend: `alpha * similarity_score + (1 - alpha) * norm(bm25)`.
///
/// Every candidate gets its real cosine through `cosine` (lexical-only hits
/// included), so only BM25 needs normalising; a candidate the lexical list
/// did not return gets `norm = 0`.
pub fn score_fusion(
    lexical: &[Hit],
    vector: &[Hit],
    config: &ScoreFusionConfig,
    cosine: &dyn Fn(&str) -> Option<f32>,
) -> Vec<FusedHit> {
    let norm = normalizer(lexical, config.normalization);
    let scored = candidates(lexical, vector)
        .into_iter()
        .map(|c| {
            let sim = similarity(&c, cosine);
            let lex = c.lexical.map_or(0.0, |h| norm(h.score));
            let fused = config.alpha * sim + (1.0 - config.alpha) * lex;
            (c, fused, sim)
        })
        .collect();
    finish(scored)
}

/// Maps raw BM25 scores of `list` into [0, 1].
fn normalizer(list: &[Hit], method: Normalization) -> Box<dyn Fn(f32) -> f32> {
    if list.is_empty() {
        return Box::new(|_| 0.0);
    }
    let n = list.len() as f32;
    match method {
        Normalization::MinMax => {
            let min = list.iter().map(|h| h.score).fold(f32::INFINITY, f32::min);
            let max = list
                .iter()
                .map(|h| h.score)
                .fold(f32::NEG_INFINITY, f32::max);
            let span = max - min;
            Box::new(move |s| if span > 0.0 { (s - min) / span } else { 1.0 })
        }
        Normalization::ZScore => {
            let mean = list.iter().map(|h| h.score).sum::<f32>() / n;
            let var = list.iter().map(|h| (h.score - mean).powi(2)).sum::<f32>() / n;
            let sd = var.sqrt();
            Box::new(move |s| {
                let z = if sd > 0.0 { (s - mean) / sd } else { 0.0 };
                1.0 / (1.0 + (-z).exp())
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(ids: &[(&str, f32)]) -> Vec<Hit> {
        ids.iter()
            .map(|(id, s)| Hit {
                chunk_id: id.to_string(),
                score: *s,
            })
            .collect()
    }

    #[test]
    fn rrf_sums_reciprocal_ranks() {
        let lex = hits(&[("a", 12.0), ("b", 8.0), ("c", 1.0)]);
        let vec = hits(&[("b", 0.9), ("d", 0.8), ("a", 0.5)]);
        let cos = |id: &str| match id {
            "a" => Some(0.5),
            "b" => Some(0.9),
            "c" => Some(-0.2),
            "d" => Some(0.8),
            _ => None,
        };
        let f = reciprocal_rank_fusion(&lex, &vec, &RrfConfig::default(), &cos);
        let ids: Vec<&str> = f.iter().map(|h| h.chunk_id.as_str()).collect();
        // a: 1/61 + 1/63, b: 1/62 + 1/61 -> tie-free: b > a? 1/62+1/61 = 0.03252, 1/61+1/63 = 0.03227.
        assert_eq!(ids, vec!["b", "a", "d", "c"]);
        assert!((f[0].fused_score - (1.0 / 62.0 + 1.0 / 61.0)).abs() < 1e-6);
        assert_eq!(
            f[0].lexical,
            Some(RetrieverHit {
                rank: 2,
                score: 8.0
            })
        );
        assert_eq!(
            f[0].vector,
            Some(RetrieverHit {
                rank: 1,
                score: 0.9
            })
        );
        assert_eq!(f[3].similarity_score, 0.0); // negative cosine clamps to 0
        assert_eq!(f[3].vector, None);
        assert_eq!(
            f.iter().map(|h| h.rank).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
    }

    #[test]
    fn similarity_falls_back_to_vector_score() {
        let vec = hits(&[("x", 0.75)]);
        let lex = hits(&[("y", 3.0)]);
        let f = reciprocal_rank_fusion(&lex, &vec, &RrfConfig::default(), &|_| None);
        let by_id: HashMap<_, _> = f.iter().map(|h| (h.chunk_id.as_str(), h)).collect();
        assert_eq!(by_id["x"].similarity_score, 0.75);
        assert_eq!(by_id["y"].similarity_score, 0.0);
    }

    #[test]
    fn score_fusion_min_max() {
        let lex = hits(&[("a", 10.0), ("b", 5.0), ("c", 0.0)]);
        let vec = hits(&[("c", 0.9)]);
        let cos = |id: &str| match id {
            "a" => Some(0.2),
            "b" => Some(0.6),
            "c" => Some(0.9),
            _ => None,
        };
        let cfg = ScoreFusionConfig {
            alpha: 0.5,
            normalization: Normalization::MinMax,
        };
        let f = score_fusion(&lex, &vec, &cfg, &cos);
        let got: Vec<(&str, f32)> = f
            .iter()
            .map(|h| (h.chunk_id.as_str(), h.fused_score))
            .collect();
        // a: .5*.2+.5*1 = .6, b: .5*.6+.5*.5 = .55, c: .5*.9+0 = .45
        let want = [("a", 0.6), ("b", 0.55), ("c", 0.45)];
        for ((gi, gs), (wi, ws)) in got.iter().zip(want) {
            assert_eq!(*gi, wi);
            assert!((gs - ws).abs() < 1e-6);
        }
    }

    #[test]
    fn zscore_is_monotonic_and_bounded() {
        let lex = hits(&[("a", 9.0), ("b", 4.0), ("c", 1.0)]);
        let cfg = ScoreFusionConfig {
            alpha: 0.0,
            normalization: Normalization::ZScore,
        };
        let f = score_fusion(&lex, &[], &cfg, &|_| None);
        assert_eq!(f[0].chunk_id, "a");
        assert!(f.windows(2).all(|w| w[0].fused_score > w[1].fused_score));
        assert!(f.iter().all(|h| (0.0..=1.0).contains(&h.fused_score)));
    }

    #[test]
    fn empty_inputs() {
        assert!(reciprocal_rank_fusion(&[], &[], &RrfConfig::default(), &|_| None).is_empty());
        assert!(score_fusion(&[], &[], &ScoreFusionConfig::default(), &|_| None).is_empty());
    }
}
