//! Typed errors for the crate.

use thiserror::Error;

/// Errors returned by twig-index components.
#[derive(Debug, Error)]
pub enum IndexError {
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A vector has the wrong dimension.
    #[error("vector dimension mismatch: expected {expected}, got {got}")]
    DimensionMismatch {
        /// Dimension of the index.
        expected: usize,
        /// Dimension supplied.
        got: usize,
    },
    /// A vector is zero or contains NaN/infinite values, so it has no direction.
    #[error("invalid vector: {0}")]
    InvalidVector(String),
    /// `apply` was called with a sequence number below the last committed one.
    #[error("sequence number {got} is below the last committed {last}")]
    SeqRegression {
        /// Last committed sequence number.
        last: u64,
        /// Sequence number supplied.
        got: u64,
    },
    /// The commit payload in the index directory could not be parsed.
    #[error("corrupt commit payload: {0:?}")]
    CorruptPayload(String),
    /// A stored document lacks its chunk id.
    #[error("indexed document has no chunk_id")]
    MissingChunkId,
    /// The HuggingFace tokenizer failed to load or configure.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A lock was poisoned by a panicking thread.
    #[error("lock poisoned")]
    Poisoned,
    /// Error from tantivy.
    #[error("tantivy: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// Error opening the index directory.
    #[error("index directory: {0}")]
    OpenDirectory(#[from] tantivy::directory::error::OpenDirectoryError),
    /// I/O error.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// Result alias for this crate.
pub type Result<T, E = IndexError> = std::result::Result<T, E>;
