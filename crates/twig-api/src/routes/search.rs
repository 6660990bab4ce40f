//! `POST /api/v1/semantic-search`: retrieve chunks without generation.

use crate::auth::{Authed, Read};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::AppState;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use twig_core::agent::parse_data_source_ids;
use twig_core::id::{ChunkId, DataSourceId, DocumentId, OrgId};
use twig_core::retrieval::{SearchMode, SearchRequest};
use twig_core::store::StoreError;
use twig_core::validate::required;
use twig_core::Error;
use utoipa::ToSchema;

/// Largest `top_k`.
const MAX_TOP_K: i64 = 100;

/// Body of a semantic search.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SemanticSearchInput {
    /// What to search for (required), at most 8192 bytes of UTF-8.
    #[schema(value_type = String, max_length = 8192, pattern = r"\S", example = "password reset")]
    pub query: Option<String>,
    /// The caller's organisation (see `GET /api/v1/me`); required.
    #[schema(value_type = OrgId)]
    pub org_id: Option<String>,
    /// Results wanted, 1 to 100 (default 10).
    #[schema(minimum = 1, maximum = 100, example = 5)]
    #[serde(default, deserialize_with = "twig_core::validate::opt_integer")]
    pub top_k: Option<i64>,
    /// Minimum `similarity_score`, 0 to 1.
    #[schema(minimum = 0.0, maximum = 1.0, example = 0.7)]
    pub similarity_threshold: Option<f64>,
    /// Search only these data sources of the caller's organisation (at most 100, no repeats).
    #[schema(value_type = Option<Vec<DataSourceId>>, max_items = 100)]
    pub data_source_ids: Option<Vec<String>>,
    /// `hybrid` (default), `lexical` or `vector`.
    #[schema(value_type = Option<SearchModeName>)]
    pub mode: Option<String>,
}

/// Which retrievers a search uses.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only
#[schema(rename_all = "lowercase")]
pub enum SearchModeName {
    /// BM25 and vectors, fused.
    Hybrid,
    /// BM25 only.
    Lexical,
    /// Vectors only.
    Vector,
}

/// One result.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChunkResult {
    /// Chunk id.
    pub chunk_id: ChunkId,
    /// Chunk text.
    pub text: String,
    /// `(1 + cosine(query, chunk)) / 2` in [0, 1] (lexical-only mode: `bm25 / (bm25 + 10)`).
    pub similarity_score: f32,
    /// Document id.
    pub document_id: DocumentId,
    /// Document title.
    pub document_title: String,
    /// Document URL, if any.
    pub document_url: Option<String>,
    /// Data source of the document.
    pub data_source_id: DataSourceId,
}

/// Search metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchMetadata {
    /// Chunks in the searched scope.
    pub total_chunks_searched: u64,
    /// Server time for the search.
    pub latency_ms: u64,
    /// `hybrid`, `lexical` or `vector`: the retrievers that ran.
    #[schema(value_type = SearchModeName)]
    pub search_mode: SearchMode,
    /// Embedding model, null in lexical-only mode.
    pub embedding_model: Option<String>,
}

/// Response of a semantic search.
#[derive(Debug, Serialize, ToSchema)]
pub struct SemanticSearchOutput {
    /// Best first.
    pub chunks: Vec<ChunkResult>,
    /// The query's embedding (empty in lexical-only mode).
    pub query_embedding: Vec<f32>,
    /// Metadata.
    pub metadata: SearchMetadata,
}

/// Retrieves chunks of the caller's organisation. Requires Read scope.
#[utoipa::path(post, path = "/api/v1/semantic-search", tag = "search", request_body = SemanticSearchInput,
    security(("bearer" = [])), responses((status = 200, body = SemanticSearchOutput), (status = "4XX", body = ErrorBody)))]
pub async fn semantic_search(
    State(s): State<AppState>,
    auth: Authed<Read>,
    Json(input): Json<SemanticSearchInput>,
) -> Result<axum::Json<SemanticSearchOutput>, ApiError> {
    Ok(axum::Json(run(&s, &auth.key.org_id, input).await?))
}

/// Validates and runs a search for the caller's organisation `caller` (also used by the MCP
/// server's `search_knowledge`).
pub(crate) async fn run(
    s: &AppState,
    caller: &OrgId,
    input: SemanticSearchInput,
) -> Result<SemanticSearchOutput, Error> {
    let started = Instant::now();
    let query = required(input.query, "query")?;
    if query.trim().is_empty() {
        return Err(Error::invalid_field("query", "query must not be empty"));
    }
    let org = OrgId::parse(&required(input.org_id, "org_id")?)
        .map_err(|e| Error::invalid_field("org_id", e.to_string()))?;
    if &org != caller {
        // Indistinguishable from an organisation that does not exist.
        return Err(Error::not_found("Organisation", org.as_str()));
    }
    let top_k = input.top_k.unwrap_or(10);
    if !(1..=MAX_TOP_K).contains(&top_k) {
        return Err(Error::invalid_field(
            "top_k",
            format!("top_k must be between 1 and {MAX_TOP_K}, got {top_k}"),
        ));
    }
    let threshold = match input.similarity_threshold {
        Some(t) if !(0.0..=1.0).contains(&t) => {
            return Err(Error::invalid_field(
                "similarity_threshold",
                format!("similarity_threshold must be between 0 and 1, got {t}"),
            ))
        }
        t => t.map(|t| t as f32),
    };
    let mode = match input.mode.as_deref() {
        None | Some("hybrid") => SearchMode::Hybrid,
        Some("lexical") => SearchMode::Lexical,
        Some("vector") => SearchMode::Vector,
        Some(m) => {
            return Err(Error::invalid_field(
                "mode",
                format!("mode must be hybrid, lexical or vector, got {m:?}"),
            ))
        }
    };
    let data_source_ids = match input.data_source_ids {
        None => None,
        Some(ids) => {
            let ids = parse_data_source_ids(&ids)?;
            let mut unknown = Vec::new();
            for id in &ids {
                if s.store.get_data_source(&org, id).await?.is_none() {
                    unknown.push(id.clone());
                }
            }
            if !unknown.is_empty() {
                return Err(Error::from(StoreError::UnknownDataSources(unknown)));
            }
            Some(ids)
        }
    };
    let res = s
        .retriever
        .search(SearchRequest {
            org_id: org,
            query,
            top_k: top_k as usize,
            similarity_threshold: threshold,
            data_source_ids,
            mode,
            want_query_embedding: true,
        })
        .await?;
    let chunks = res
        .hits
        .into_iter()
        .map(|h| ChunkResult {
            chunk_id: h.chunk_id,
            text: h.text,
            similarity_score: h.similarity_score,
            document_id: h.document_id,
            document_title: h.document_title,
            document_url: h.document_url,
            data_source_id: h.data_source_id,
        })
        .collect();
    Ok(SemanticSearchOutput {
        chunks,
        query_embedding: res.query_embedding.unwrap_or_default(),
        metadata: SearchMetadata {
            total_chunks_searched: res.total_chunks_searched,
            latency_ms: started.elapsed().as_millis() as u64,
            search_mode: res.mode,
            embedding_model: res.embedding_model,
        },
    })
}
