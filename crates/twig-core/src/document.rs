//! Documents and chunks: what ingestion produces and retrieval searches.

use crate::id::{ChunkId, DataSourceId, DocumentId, OrgId};
use crate::time::{self, Timestamp};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A document inside a data source.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Document {
    /// Its id.
    pub id: DocumentId,
    /// Owning organisation.
    #[serde(skip)]
    pub org_id: OrgId,
    /// Data source it belongs to.
    pub data_source_id: DataSourceId,
    /// Identity inside the data source (URL, path, external id); re-ingesting the same key replaces.
    #[serde(skip)]
    pub source_key: String,
    /// Title used for citations and retrieval.
    pub title: String,
    /// Where it can be read, for citations.
    pub url: Option<String>,
    /// Original file name, for uploads.
    pub filename: Option<String>,
    /// SHA-256 of the indexed content; unchanged content is not re-embedded.
    pub content_hash: String,
    /// Source-specific metadata.
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// Number of chunks.
    pub chunks: u32,
    /// Ingestion state.
    pub status: DocumentStatus,
    /// Why ingestion failed, when it did.
    pub error: Option<String>,
    /// First ingestion.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last change of content.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// Ingestion state of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum DocumentStatus {
    /// Stored, waiting for the sync job.
    Queued,
    /// Being parsed, chunked and embedded.
    Processing,
    /// Chunks searchable.
    #[default]
    Indexed,
    /// Could not be ingested; `error` says why.
    Failed,
}

impl DocumentStatus {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Indexed => "indexed",
            Self::Failed => "failed",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Queued, Self::Processing, Self::Indexed, Self::Failed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// Documents of a data source by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DocumentCounts {
    /// Waiting.
    pub queued: u64,
    /// In progress.
    pub processing: u64,
    /// Searchable.
    pub indexed: u64,
    /// Failed.
    pub failed: u64,
}

impl DocumentCounts {
    /// All documents.
    pub fn total(&self) -> u64 {
        self.queued + self.processing + self.indexed + self.failed
    }
}

/// A chunk as stored, with its embedding (the vector index's source of truth).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredChunk {
    /// Its id.
    pub id: ChunkId,
    /// Owning document.
    pub document_id: DocumentId,
    /// 0-based order in the document.
    pub position: u32,
    /// The chunk's text.
    pub text: String,
    /// Headings enclosing it.
    pub heading_path: Vec<String>,
    /// Length in the embedding model's tokens.
    pub token_count: u32,
    /// Page (PDF, slides), for citations.
    pub page: Option<u32>,
    /// Unit-length embedding, absent in lexical-only mode.
    pub embedding: Option<Vec<f32>>,
}

/// A chunk with what a search result shows about its document.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkDetail {
    /// The chunk.
    pub chunk: StoredChunk,
    /// Data source of its document.
    pub data_source_id: DataSourceId,
    /// Document title.
    pub document_title: String,
    /// Document URL.
    pub document_url: Option<String>,
}

/// One row of the change log that derived indexes replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexChange {
    /// Monotonic sequence number.
    pub seq: u64,
    /// Document whose chunks changed (or vanished).
    pub document_id: DocumentId,
}

/// A chunk's vector with the keys the vector index filters on.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorRow {
    /// Chunk id.
    pub chunk_id: ChunkId,
    /// Its document.
    pub document_id: DocumentId,
    /// Tenant.
    pub org_id: OrgId,
    /// Data source.
    pub data_source_id: DataSourceId,
    /// Unit-length embedding.
    pub embedding: Vec<f32>,
}

/// Encodes an embedding for storage (little-endian f32).
pub fn encode_embedding(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Decodes a stored embedding; `None` if the length is not a multiple of 4.
pub fn decode_embedding(b: &[u8]) -> Option<Vec<f32>> {
    if !b.len().is_multiple_of(4) {
        return None;
    }
    Some(
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}
