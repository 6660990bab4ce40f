//! The retrieval port: ingest documents into the indexes, and search them.

use crate::error::Result;
use crate::id::{ChunkId, DataSourceId, DocumentId, OrgId};
use async_trait::async_trait;
use serde::Serialize;
use serde_json::{Map, Value};

/// A sentence-embedding model; blocking calls, run off the async runtime by the caller.
pub trait Embedder: Send + Sync + 'static {
    /// Stable model identifier stored with the index (vectors of different models never mix).
    fn model_id(&self) -> &str;
    /// Vector dimension.
    fn dim(&self) -> usize;
    /// Longest input in tokens; longer texts are truncated.
    fn max_tokens(&self) -> usize;
    /// Unit-length embeddings of `texts`, in order.
    fn embed(&self, texts: &[&str]) -> anyhow::Result<Vec<Vec<f32>>>;
    /// Tokens in `text` (no special tokens), by the model's tokenizer.
    fn count_tokens(&self, text: &str) -> usize;
    /// Byte ranges of the tokens of `text`, so chunking can cut at token boundaries.
    fn token_offsets(&self, text: &str) -> Vec<(usize, usize)>;
}

/// Byte ranges of the whitespace-separated words of `text`: the token model of
/// tokenizer-free setups (remote embedders, lexical-only mode).
pub fn word_offsets(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}

/// A run of text under a heading path (page set for PDFs and slides).
#[derive(Debug, Clone, PartialEq)]
pub struct SectionInput {
    /// Enclosing headings, outermost first.
    pub heading_path: Vec<String>,
    /// Body text.
    pub text: String,
    /// 1-based page, when the format has pages.
    pub page: Option<u32>,
}

/// Chunking budget for one data source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkingOptions {
    /// Largest chunk, in the embedding model's tokens.
    pub max_tokens: usize,
    /// Tokens repeated from the end of the previous chunk.
    pub overlap_tokens: usize,
}

impl Default for ChunkingOptions {
    fn default() -> Self {
        Self {
            max_tokens: 512,
            overlap_tokens: 50,
        }
    }
}

/// A document to ingest: the single entry point ingestion calls.
#[derive(Debug, Clone)]
pub struct DocumentInput {
    /// Tenant.
    pub org_id: OrgId,
    /// Data source.
    pub data_source_id: DataSourceId,
    /// Identity inside the data source (URL, path, external id).
    pub source_key: String,
    /// Title (used for citations and retrieval).
    pub title: String,
    /// URL for citations.
    pub url: Option<String>,
    /// Original file name.
    pub filename: Option<String>,
    /// Source-specific metadata.
    pub metadata: Map<String, Value>,
    /// Structured content.
    pub sections: Vec<SectionInput>,
    /// Chunking budget.
    pub chunking: ChunkingOptions,
}

/// What an upsert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpsertOutcome {
    /// Same content as stored: nothing was re-embedded or re-indexed.
    Unchanged(DocumentId),
    /// New document with this many chunks.
    Created(DocumentId, u32),
    /// Changed document; its chunks were replaced atomically.
    Replaced(DocumentId, u32),
}

impl UpsertOutcome {
    /// The document's id.
    pub fn document_id(&self) -> &DocumentId {
        match self {
            Self::Unchanged(d) | Self::Created(d, _) | Self::Replaced(d, _) => d,
        }
    }
}

/// Which retrievers a search uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// BM25 and vectors, fused.
    Hybrid,
    /// BM25 only.
    Lexical,
    /// Vectors only.
    Vector,
}

/// A search.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// Tenant; results never leave it.
    pub org_id: OrgId,
    /// User text.
    pub query: String,
    /// Results wanted.
    pub top_k: usize,
    /// Minimum `similarity_score`.
    pub similarity_threshold: Option<f32>,
    /// Restrict to these data sources (inside the indexes, not after).
    pub data_source_ids: Option<Vec<DataSourceId>>,
    /// Retrievers to use; `Hybrid` falls back to `Lexical` without an embedder.
    pub mode: SearchMode,
    /// Whether to return the query's embedding.
    pub want_query_embedding: bool,
}

/// How one retriever ranked a result.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RetrieverRank {
    /// 1-based rank.
    pub rank: usize,
    /// Raw score (BM25, or cosine).
    pub score: f32,
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// Chunk id.
    pub chunk_id: ChunkId,
    /// Chunk text.
    pub text: String,
    /// In [0, 1]; see the engine's documentation for its exact meaning.
    pub similarity_score: f32,
    /// Document id.
    pub document_id: DocumentId,
    /// Document title.
    pub document_title: String,
    /// Document URL.
    pub document_url: Option<String>,
    /// Data source.
    pub data_source_id: DataSourceId,
    /// Headings enclosing the chunk.
    pub heading_path: Vec<String>,
    /// Page, when known.
    pub page: Option<u32>,
    /// BM25's view, if it found the chunk.
    pub lexical: Option<RetrieverRank>,
    /// The vector index's view, if it found the chunk.
    pub vector: Option<RetrieverRank>,
    /// Score the final order was decided by.
    pub fused_score: f32,
}

/// Results and what it took.
#[derive(Debug, Clone)]
pub struct SearchResults {
    /// Best first.
    pub hits: Vec<SearchHit>,
    /// The query's embedding, when asked for and available.
    pub query_embedding: Option<Vec<f32>>,
    /// Chunks in the searched scope.
    pub total_chunks_searched: u64,
    /// Retrievers actually used.
    pub mode: SearchMode,
    /// Embedding model used, if any.
    pub embedding_model: Option<String>,
}

/// Retrieval status for readiness and metadata.
#[derive(Debug, Clone, Serialize)]
pub struct RetrievalStatus {
    /// `hybrid` with an embedder, `lexical` without.
    pub mode: SearchMode,
    /// Model id, if any.
    pub embedding_model: Option<String>,
}

/// Ingest into, and search, an organisation's knowledge.
#[async_trait]
pub trait Retriever: Send + Sync + 'static {
    /// Chunks, embeds, stores and indexes documents; unchanged ones cost nothing.
    async fn upsert_documents(&self, docs: Vec<DocumentInput>) -> Result<Vec<UpsertOutcome>>;
    /// Removes a document from storage and every index; false if it did not exist.
    async fn delete_document(&self, org: &OrgId, id: &DocumentId) -> Result<bool>;
    /// Applies changes other writers logged (e.g. a deleted data source) to the indexes.
    async fn sync(&self) -> Result<()>;
    /// Searches.
    async fn search(&self, req: SearchRequest) -> Result<SearchResults>;
    /// Mode and model.
    fn status(&self) -> RetrievalStatus;
}
