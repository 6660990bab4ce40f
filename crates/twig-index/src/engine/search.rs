//! Hybrid search: both retrievers inside the org/data-source filter, fused.

use super::Engine;
use crate::fusion::{
    reciprocal_rank_fusion, score_fusion, FusedHit, Hit, Normalization, RrfConfig,
    ScoreFusionConfig,
};
use std::collections::HashMap;
use twig_core::id::ChunkId;
use twig_core::retrieval::{RetrieverRank, SearchHit, SearchMode, SearchRequest, SearchResults};
use twig_core::Error;

/// Longest query accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 8192;
/// BM25 saturation constant of the lexical-only similarity, `bm25 / (bm25 + K)`.
const LEXICAL_SIMILARITY_K: f32 = 10.0;

/// How the two ranked lists are combined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fusion {
    /// Reciprocal-rank fusion with offset `k`.
    Rrf {
        /// Rank offset.
        k: f32,
    },
    /// `alpha * similarity + (1 - alpha) * minmax(bm25)`.
    Score {
        /// Weight of the vector similarity.
        alpha: f32,
    },
}

impl Default for Fusion {
    fn default() -> Self {
        Fusion::Rrf { k: 60.0 }
    }
}

/// `(1 + cos) / 2`, the documented similarity.
fn rescale(cos: f32) -> f32 {
    ((1.0 + cos) / 2.0).clamp(0.0, 1.0)
}

pub(super) async fn run(engine: &Engine, req: SearchRequest) -> Result<SearchResults, Error> {
    let query = req.query.trim().to_owned();
    if query.is_empty() {
        return Err(Error::invalid_field("query", "query must not be empty"));
    }
    if query.len() > MAX_QUERY_BYTES {
        return Err(Error::invalid_field(
            "query",
            format!("query must be at most {MAX_QUERY_BYTES} bytes"),
        ));
    }
    let mode = match (req.mode, &engine.embedder) {
        (SearchMode::Lexical, _) => SearchMode::Lexical,
        (_, None) => SearchMode::Lexical,
        (m, Some(_)) => m,
    };
    let ds: Option<Vec<String>> = req
        .data_source_ids
        .as_ref()
        .map(|v| v.iter().map(|d| d.to_string()).collect());
    let org = req.org_id.to_string();
    let k = req.top_k.max(1);
    let candidates = engine.config.candidates.max(k);
    let fusion = engine.config.fusion;
    let embedder = engine.embedder.clone();
    let lexical = engine.lexical.clone();
    let vector = engine.vector.clone();

    // Embedding and scanning are CPU-bound: off the async runtime.
    let (fused, query_embedding) = tokio::task::spawn_blocking(
        move || -> anyhow::Result<(Vec<FusedHit>, Option<Vec<f32>>)> {
            let qvec = match (&embedder, mode) {
                (Some(e), SearchMode::Hybrid | SearchMode::Vector) => {
                    Some(e.embed(&[query.as_str()])?.remove(0))
                }
                _ => None,
            };
            let lex_hits: Vec<Hit> = if mode == SearchMode::Vector {
                Vec::new()
            } else {
                lexical.search(&org, ds.as_deref(), &query, candidates)?
            };
            let (vec_hits, cosines): (Vec<Hit>, HashMap<String, f32>) = match (&vector, &qvec) {
                (Some(v), Some(q)) => {
                    let hits = v.search(&org, ds.as_deref(), q, candidates)?;
                    let missing: Vec<&str> = lex_hits
                        .iter()
                        .filter(|h| !hits.iter().any(|x| x.chunk_id == h.chunk_id))
                        .map(|h| h.chunk_id.as_str())
                        .collect();
                    let mut cos = v.similarities(&org, q, &missing)?;
                    for h in &hits {
                        cos.insert(h.chunk_id.clone(), h.score);
                    }
                    (hits, cos)
                }
                _ => (Vec::new(), HashMap::new()),
            };
            let sim = |id: &str| -> Option<f32> {
                match mode {
                    SearchMode::Lexical => lex_hits
                        .iter()
                        .find(|h| h.chunk_id == id)
                        .map(|h| h.score / (h.score + LEXICAL_SIMILARITY_K)),
                    _ => cosines.get(id).map(|c| rescale(*c)),
                }
            };
            let fused = match fusion {
                Fusion::Rrf { k } => reciprocal_rank_fusion(
                    &lex_hits,
                    &vec_hits,
                    &RrfConfig {
                        k,
                        lexical_weight: 1.0,
                        vector_weight: 1.0,
                    },
                    &sim,
                ),
                Fusion::Score { alpha } => score_fusion(
                    &lex_hits,
                    &vec_hits,
                    &ScoreFusionConfig {
                        alpha,
                        normalization: Normalization::MinMax,
                    },
                    &sim,
                ),
            };
            Ok((fused, qvec))
        },
    )
    .await
    .map_err(|e| Error::Internal(anyhow::anyhow!("search task failed: {e}")))?
    .map_err(Error::Internal)?;

    let threshold = req.similarity_threshold.unwrap_or(0.0);
    let selected: Vec<FusedHit> = fused
        .into_iter()
        .filter(|h| h.similarity_score >= threshold)
        .take(k)
        .collect();
    let ids: Vec<ChunkId> = selected
        .iter()
        .map(|h| ChunkId::from_trusted(h.chunk_id.clone()))
        .collect();
    let docs = engine.store.documents();
    let details = docs.chunk_details(&req.org_id, &ids).await?;
    let mut by_id: HashMap<String, _> = details
        .into_iter()
        .map(|d| (d.chunk.id.to_string(), d))
        .collect();
    let hits = selected
        .into_iter()
        .filter_map(|h| {
            // A chunk replaced between the index read and this lookup is skipped, never half-shown.
            let d = by_id.remove(&h.chunk_id)?;
            Some(SearchHit {
                chunk_id: d.chunk.id,
                text: d.chunk.text,
                similarity_score: h.similarity_score,
                document_id: d.chunk.document_id,
                document_title: d.document_title,
                document_url: d.document_url,
                data_source_id: d.data_source_id,
                heading_path: d.chunk.heading_path,
                page: d.chunk.page,
                lexical: h.lexical.map(|r| RetrieverRank {
                    rank: r.rank,
                    score: r.score,
                }),
                vector: h.vector.map(|r| RetrieverRank {
                    rank: r.rank,
                    score: r.score,
                }),
                fused_score: h.fused_score,
            })
        })
        .collect();
    let total_chunks_searched = docs
        .count_chunks(&req.org_id, req.data_source_ids.as_deref())
        .await?;
    Ok(SearchResults {
        hits,
        query_embedding: if req.want_query_embedding {
            query_embedding
        } else {
            None
        },
        total_chunks_searched,
        mode,
        embedding_model: engine.embedder.as_ref().map(|e| e.model_id().to_owned()),
    })
}
