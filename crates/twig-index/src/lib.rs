//! Retrieval building blocks for Twig: structure-aware chunking, a BM25 lexical
//! index (tantivy), an exact in-memory vector index, rank/score fusion and IR metrics.
//!
//! Everything here is storage-agnostic: the server owns the database and the
//! embedding model and feeds these components.

#![warn(missing_docs)]

pub mod beir;
pub mod chunk;
pub mod engine;
pub mod error;
pub mod eval;
pub mod fusion;
pub mod lexical;
pub mod vector;

pub use chunk::{
    chunk_markdown, chunk_sections, chunk_text, retrieval_text, Chunk, ChunkingConfig, Section,
    TokenCounter, WhitespaceCounter,
};
pub use error::{IndexError, Result};
pub use fusion::{FusedHit, Hit, RetrieverHit};
pub use lexical::{IndexOp, LexicalIndex};
pub use vector::{ChunkVector, VectorIndex, VectorRecord};
