//! In-process sentence embeddings with all-MiniLM-L6-v2 on the CPU, and a
//! cross-encoder reranker (ms-marco-MiniLM-L6-v2 shape) on the same forward pass.
//!
//! The BERT forward pass is hand-written for this one architecture (packed
//! sequences without padding, prepacked weights, AVX-512 sgemm where the CPU
//! has it, `matrixmultiply` elsewhere) because generic tensor crates were ~4x
//! slower than PyTorch here.

mod encoder;
pub mod fetch;
mod kernels;
mod model;
pub mod openai;
mod rerank;
pub mod rerank_fetch;

pub use encoder::{Encoder, EncoderOptions};
pub use fetch::{default_model_dir, ensure_model, ModelFiles, MODEL_SHA256};
pub use rerank::{CrossEncoder, CrossEncoderOptions, RERANK_MODEL_ID};
pub use rerank_fetch::{default_rerank_dir, ensure_reranker, verify_reranker_dir};

/// Hugging Face id of the model this crate runs.
pub const MODEL_ID: &str = "sentence-transformers/all-MiniLM-L6-v2";

/// Width of the embedding vectors.
pub const EMBEDDING_DIM: usize = 384;

/// Errors from fetching, loading or running the embedding model.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// A filesystem operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Every way of obtaining the model failed.
    #[error("could not obtain the model files: {0}")]
    Fetch(String),
    /// A model file did not have the expected sha256.
    #[error("checksum mismatch for {file}: expected {expected}, got {actual}")]
    Checksum {
        /// The file that was checked.
        file: String,
        /// The expected sha256 (hex).
        expected: String,
        /// The sha256 that was computed (hex).
        actual: String,
    },
    /// The weights file is malformed or does not match the architecture.
    #[error("invalid model weights: {0}")]
    Weights(String),
    /// The config file is malformed or describes another architecture.
    #[error("invalid model config: {0}")]
    Config(String),
    /// The tokenizer failed to load or to encode.
    #[error("tokenizer error: {0}")]
    Tokenizer(String),
    /// A worker thread panicked while embedding.
    #[error("embedding worker failed: {0}")]
    Worker(String),
}

impl EmbedError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        EmbedError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Internals exposed only for the benchmarks in `examples/`; not a stable API.
#[doc(hidden)]
pub mod bench_internals {
    pub use crate::kernels::{isa, sgemm_acc, AlignedVec, PackedWeight};
}

impl twig_core::retrieval::Embedder for Encoder {
    fn model_id(&self) -> &str {
        Encoder::model_id(self)
    }

    fn dim(&self) -> usize {
        Encoder::dim(self)
    }

    fn max_tokens(&self) -> usize {
        self.options().max_seq_len
    }

    fn embed(&self, texts: &[&str]) -> anyhow::Result<Vec<Vec<f32>>> {
        let started = std::time::Instant::now();
        let out = Encoder::embed(self, texts)?;
        record(self.model_id(), texts.len(), started);
        Ok(out)
    }

    fn count_tokens(&self, text: &str) -> usize {
        Encoder::count_tokens(self, text)
    }

    fn token_offsets(&self, text: &str) -> Vec<(usize, usize)> {
        Encoder::token_offsets(self, text)
    }
}

/// Counts one embedding batch, its passages and its time (Prometheus, when installed).
pub(crate) fn record(model: &str, passages: usize, started: std::time::Instant) {
    let model = model.to_owned();
    metrics::counter!("twig_embedding_batches_total", "model" => model.clone()).increment(1);
    metrics::counter!("twig_embedding_passages_total", "model" => model.clone())
        .increment(passages as u64);
    metrics::histogram!("twig_embedding_batch_duration_seconds", "model" => model)
        .record(started.elapsed().as_secs_f64());
}
