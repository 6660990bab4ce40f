//! Answers and what is kept of them: sources, answer metadata, interactions
//! (one per query, with feedback) and multi-turn sessions.

use crate::agent::RagStrategy;
use crate::error::Error;
use crate::id::{AgentId, ChunkId, InteractionId, KeyId, OrgId, SessionId};
use crate::time::{self, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A chunk given to the model, as returned with an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Source {
    /// Chunk id.
    pub chunk_id: ChunkId,
    /// Title of the chunk's document.
    pub document_title: String,
    /// URL of the chunk's document, if any.
    pub document_url: Option<String>,
    /// `(1 + cosine(query, chunk)) / 2` of the query the chunk was retrieved for.
    pub similarity_score: f32,
    /// The chunk's text, exactly as given to the model.
    pub chunk_text: String,
}

/// `metadata` of an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AnswerMetadata {
    /// The stored interaction.
    pub interaction_id: InteractionId,
    /// Server time from request to answer.
    pub latency_ms: u64,
    /// Prompt tokens (provider usage; extractive: the embedder's tokenizer).
    pub tokens_input: u32,
    /// Answer tokens.
    pub tokens_output: u32,
    /// From the configured price table; 0 when the model has no price.
    pub cost_usd: f64,
    /// Strategy that ran.
    #[schema(value_type = String)]
    pub rag_strategy: RagStrategy,
    /// Model name (the agent's).
    pub model: String,
    /// Session the turn was added to (new when the request named none).
    pub session_id: SessionId,
    /// cypress only: what reranked the candidates (a cross-encoder's model id, `llm`, or
    /// `none` when no reranker ran).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reranker: Option<String>,
}

/// A complete answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Answer {
    /// The answer text, with citation markers `[n]` pointing into `sources` (1-based).
    pub response: String,
    /// Every chunk given to the model, in the order of the markers.
    pub sources: Vec<Source>,
    /// Metadata.
    pub metadata: AnswerMetadata,
}

/// Feedback on an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Feedback {
    /// Helpful.
    Positive,
    /// Not helpful.
    Negative,
}

impl Feedback {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Positive => "positive",
            Self::Negative => "negative",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Positive, Self::Negative]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// How a query ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InteractionStatus {
    /// Answered.
    Completed,
    /// Failed; `error` says why.
    Failed,
    /// The client went away while the answer streamed; `response` is what it was sent.
    Cancelled,
}

impl InteractionStatus {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Completed, Self::Failed, Self::Cancelled]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// One query and its answer, as stored and listed.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Interaction {
    /// Its id.
    pub id: InteractionId,
    /// Owning organisation.
    #[serde(skip)]
    pub org_id: OrgId,
    /// Agent asked.
    pub agent_id: AgentId,
    /// Session the query belonged to.
    pub session_id: Option<SessionId>,
    /// API key that asked.
    pub key_id: Option<KeyId>,
    /// The user's query.
    pub query: String,
    /// The query retrieval ran for (cedar/cypress rewrite), when it differs.
    pub rewritten_query: Option<String>,
    /// The answer (what the client was sent).
    pub response: String,
    /// Chunks given to the model.
    pub sources: Vec<Source>,
    /// Model name.
    pub model: String,
    /// Strategy.
    #[schema(value_type = String)]
    pub rag_strategy: RagStrategy,
    /// Prompt tokens.
    pub tokens_input: u32,
    /// Answer tokens.
    pub tokens_output: u32,
    /// Cost in US dollars.
    pub cost_usd: f64,
    /// Server time.
    pub latency_ms: u64,
    /// `completed`, `failed` or `cancelled`.
    pub status: InteractionStatus,
    /// Why it failed.
    pub error: Option<String>,
    /// `positive`, `negative` or null.
    pub feedback: Option<Feedback>,
    /// Comment given with the feedback.
    pub feedback_comment: Option<String>,
    /// When.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// Feedback filter of the interaction list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackFilter {
    /// With this feedback.
    Is(Feedback),
    /// Without feedback.
    None,
}

/// Filters of `GET /interactions`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InteractionFilter {
    /// Of this agent.
    pub agent_id: Option<AgentId>,
    /// At or after.
    pub start: Option<Timestamp>,
    /// Before.
    pub end: Option<Timestamp>,
    /// By feedback.
    pub feedback: Option<FeedbackFilter>,
}

/// Speaker of a session turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TurnRole {
    /// The end user.
    User,
    /// The agent.
    Assistant,
}

impl TurnRole {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::User, Self::Assistant]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// One turn of a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Turn {
    /// Who spoke.
    pub role: TurnRole,
    /// What was said.
    pub content: String,
    /// When.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: Timestamp,
    /// Chunks the answer was grounded on (assistant turns).
    pub sources: Vec<ChunkId>,
}

/// A multi-turn conversation with one agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Its id.
    pub id: SessionId,
    /// Owning organisation.
    pub org_id: OrgId,
    /// The agent it talks to.
    pub agent_id: AgentId,
    /// First turn.
    pub created_at: Timestamp,
    /// Last turn.
    pub updated_at: Timestamp,
    /// Deleted after this (last activity + retention).
    pub expires_at: Timestamp,
}

/// Turns to add to a session with an interaction (the session is created if new).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionAppend {
    /// The session.
    pub session_id: SessionId,
    /// Its agent (checked against an existing session's).
    pub agent_id: AgentId,
    /// New turns, oldest first.
    pub turns: Vec<Turn>,
    /// New expiry.
    pub expires_at: Timestamp,
}

/// Parses a `feedback` value of a feedback request.
pub fn parse_feedback(s: &str) -> Result<Feedback, Error> {
    Feedback::parse(s).ok_or_else(|| {
        Error::invalid_field(
            "feedback",
            format!("feedback must be positive or negative, got {s:?}"),
        )
    })
}
