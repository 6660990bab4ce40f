//! The answering pipeline behind `POST /api/v1/query`.
//!
//! A query is validated against its agent and session, retrieved for by the
//! agent's strategy (redwood: the raw query; cedar: a standalone rewrite;
//! cypress: several expanded queries, fused and reranked), grounded (only
//! chunks at or above the similarity threshold are used; none means the fixed
//! no-answer text without a model call), answered by the agent's chat model or
//! the offline extractive answerer, streamed as events, and recorded as an
//! interaction with the session's new turns in one store write.

pub mod extractive;
mod pipeline;
pub mod sessions;
pub mod strategy;
pub mod text;

pub use pipeline::{pieces, Answerer, Timing, MAX_QUERY_BYTES};

use twig_core::id::{KeyId, OrgId};
use twig_core::interaction::{AnswerMetadata, Source};
use twig_core::Error;

/// Default answer when no chunk is relevant enough.
pub const DEFAULT_NO_ANSWER: &str = "I don't have information about that.";

/// Settings of the pipeline (`[answer]` in twig.toml).
#[derive(Debug, Clone)]
pub struct AnswerConfig {
    /// Answer when no chunk reaches the threshold.
    pub no_answer_text: String,
    /// Minimum `similarity_score` of a chunk given to the model.
    pub similarity_threshold: f32,
    /// Earlier session turns (messages) the strategies see.
    pub history_turns: usize,
    /// Sessions are deleted this long after their last turn.
    pub session_retention: chrono::Duration,
    /// Chunks retrieved by redwood and cedar.
    pub top_k: usize,
    /// Queries cypress searches (the question included).
    pub cypress_queries: usize,
    /// Candidates cypress retrieves per query.
    pub cypress_candidates: usize,
    /// Chunks cypress keeps after reranking.
    pub cypress_top: usize,
}

impl Default for AnswerConfig {
    fn default() -> Self {
        Self {
            no_answer_text: DEFAULT_NO_ANSWER.to_owned(),
            similarity_threshold: 0.7,
            history_turns: 4,
            session_retention: chrono::Duration::days(30),
            top_k: 8,
            cypress_queries: 4,
            cypress_candidates: 50,
            cypress_top: 10,
        }
    }
}

/// Who asks.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The caller's organisation.
    pub org_id: OrgId,
    /// The API key used, recorded with the interaction.
    pub key_id: Option<KeyId>,
}

/// A query as received (validated by the pipeline).
#[derive(Debug, Clone, Default)]
pub struct QueryRequest {
    /// Agent to ask (required).
    pub agent_id: Option<String>,
    /// The user's question (required).
    pub query: Option<String>,
    /// Session to continue; a new one when absent.
    pub session_id: Option<String>,
    /// Overrides the agent's temperature.
    pub temperature: Option<f64>,
    /// Overrides the agent's answer length limit.
    pub max_tokens: Option<i64>,
}

/// One event of an answer in progress.
#[derive(Debug)]
pub enum AnswerEvent {
    /// The chunks given to the model (always first).
    Sources(Vec<Source>),
    /// Next piece of the answer text.
    Token(String),
    /// Recorded; the metadata, and timing figures for benchmarks.
    Done(Box<AnswerMetadata>, Timing),
    /// Failed after the answer started (recorded as a failed interaction).
    Error(Error),
}
