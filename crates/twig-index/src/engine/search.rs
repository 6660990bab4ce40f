//! Hybrid search: both retrievers inside the org/data-source filter, fused.

use super::{Backend, Engine};
use crate::fusion::{
    reciprocal_rank_fusion, score_fusion, FusedHit, Hit, Normalization, RrfConfig,
    ScoreFusionConfig,
};
use crate::lexical::LexicalIndex;
use crate::vector::VectorIndex;
use std::collections::HashMap;
use std::sync::Arc;
use twig_core::id::ChunkId;
use twig_core::retrieval::{RetrieverRank, SearchHit, SearchMode, SearchRequest, SearchResults};
use twig_core::store::ScoredChunk;
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
    let k = req.top_k.max(1);
    let candidates = engine.config.candidates.max(k);
    let found = match &engine.backend {
        Backend::Local {
            lexical, vector, ..
        } => local_candidates(engine, lexical, vector, &req, &query, mode, candidates).await?,
        Backend::Database { .. } => {
            database_candidates(engine, &req, &query, mode, candidates).await?
        }
    };
    let Candidates {
        lex_hits,
        vec_hits,
        cosines,
        query_embedding,
    } = found;
    let sim = |id: &str| -> Option<f32> {
        match mode {
            SearchMode::Lexical => lex_hits
                .iter()
                .find(|h| h.chunk_id == id)
                .map(|h| h.score / (h.score + LEXICAL_SIMILARITY_K)),
            _ => cosines.get(id).map(|c| rescale(*c)),
        }
    };
    let fused = match engine.config.fusion {
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

/// Both retrievers' lists, the cosine of every listed chunk, and the query's embedding.
struct Candidates {
    lex_hits: Vec<Hit>,
    vec_hits: Vec<Hit>,
    cosines: HashMap<String, f32>,
    query_embedding: Option<Vec<f32>>,
}

/// Embeds the query when the mode needs a vector (CPU-bound: off the async runtime).
async fn embed_query(
    engine: &Engine,
    query: &str,
    mode: SearchMode,
) -> Result<Option<Vec<f32>>, Error> {
    let Some(e) = engine.embedder.clone() else {
        return Ok(None);
    };
    if mode == SearchMode::Lexical {
        return Ok(None);
    }
    let q = query.to_owned();
    let v = tokio::task::spawn_blocking(move || e.embed(&[q.as_str()]))
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("embedding task failed: {e}")))?
        .map_err(Error::Internal)?;
    Ok(v.into_iter().next())
}

/// Candidates from this process's own indexes.
async fn local_candidates(
    engine: &Engine,
    lexical: &Arc<LexicalIndex>,
    vector: &Option<Arc<VectorIndex>>,
    req: &SearchRequest,
    query: &str,
    mode: SearchMode,
    candidates: usize,
) -> Result<Candidates, Error> {
    let qvec = embed_query(engine, query, mode).await?;
    let ds: Option<Vec<String>> = req
        .data_source_ids
        .as_ref()
        .map(|v| v.iter().map(|d| d.to_string()).collect());
    let org = req.org_id.to_string();
    let query = query.to_owned();
    let lexical = lexical.clone();
    let vector = vector.clone();
    // Scanning is CPU-bound: off the async runtime.
    tokio::task::spawn_blocking(move || -> anyhow::Result<Candidates> {
        let lex_hits: Vec<Hit> = if mode == SearchMode::Vector {
            Vec::new()
        } else {
            lexical.search(&org, ds.as_deref(), &query, candidates)?
        };
        let (vec_hits, cosines) = match (&vector, &qvec) {
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
        Ok(Candidates {
            lex_hits,
            vec_hits,
            cosines,
            query_embedding: qvec,
        })
    })
    .await
    .map_err(|e| Error::Internal(anyhow::anyhow!("search task failed: {e}")))?
    .map_err(Error::Internal)
}

fn hits(found: Vec<ScoredChunk>) -> Vec<Hit> {
    found
        .into_iter()
        .map(|c| Hit {
            chunk_id: c.chunk_id.to_string(),
            score: c.score,
        })
        .collect()
}

/// Candidates computed by the database (see [`ChunkSearch`]).
async fn database_candidates(
    engine: &Engine,
    req: &SearchRequest,
    query: &str,
    mode: SearchMode,
    candidates: usize,
) -> Result<Candidates, Error> {
    let search = engine
        .store
        .chunk_search()
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("the store has no in-database search")))?;
    let ds = req.data_source_ids.as_deref();
    let qvec = embed_query(engine, query, mode).await?;
    let lexical = async {
        if mode == SearchMode::Vector {
            Ok(Vec::new())
        } else {
            search.lexical(&req.org_id, ds, query, candidates).await
        }
    };
    let vector = async {
        match &qvec {
            Some(q) => search.nearest(&req.org_id, ds, q, candidates).await,
            None => Ok(Vec::new()),
        }
    };
    let (lex, vec) = tokio::try_join!(lexical, vector)?;
    let mut cosines: HashMap<String, f32> = vec
        .iter()
        .map(|h| (h.chunk_id.to_string(), h.score))
        .collect();
    if let Some(q) = &qvec {
        let missing: Vec<ChunkId> = lex
            .iter()
            .filter(|h| !cosines.contains_key(h.chunk_id.as_str()))
            .map(|h| h.chunk_id.clone())
            .collect();
        for c in search.cosines(&req.org_id, q, &missing).await? {
            cosines.insert(c.chunk_id.to_string(), c.score);
        }
    }
    Ok(Candidates {
        lex_hits: hits(lex),
        vec_hits: hits(vec),
        cosines,
        query_embedding: qvec,
    })
}
