//! The chat-model port: what answer generation asks of an LLM provider, and the
//! registry that maps an agent's `model` name to a provider (or to the offline
//! extractive answerer). Providers live in `twig-llm`; the answering pipeline
//! in `twig-answer` only knows these traits.

use async_trait::async_trait;
use futures_core::Stream;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Model name of the offline extractive answerer.
pub const EXTRACTIVE_MODEL: &str = "extractive";

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The end user.
    User,
    /// The model.
    Assistant,
}

/// One turn of a conversation sent to a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    /// Speaker.
    pub role: Role,
    /// Text.
    pub content: String,
}

/// A generation request, already mapped to the provider's model name.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The provider's model name (after the registry's name mapping).
    pub model: String,
    /// System instructions.
    pub system: Option<String>,
    /// Conversation, oldest first; the last one is the user's.
    pub messages: Vec<ChatMessage>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Output length limit.
    pub max_tokens: Option<u32>,
}

/// Token counts a provider reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u32,
    /// Generated tokens.
    pub output_tokens: u32,
}

/// A whole (non-streamed) answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    /// Generated text.
    pub text: String,
    /// Usage, when the provider reported it.
    pub usage: Option<Usage>,
}

/// One event of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// Next piece of text.
    Delta(String),
    /// Token counts (usually last).
    Usage(Usage),
}

/// A streamed answer; dropping it cancels the provider call.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatEvent, LlmError>> + Send>>;

/// Why a provider call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LlmError {
    /// The provider refused for rate (429), after our retries.
    #[error("the model provider is rate limiting requests")]
    RateLimited {
        /// Its `Retry-After`, when given.
        retry_after: Option<Duration>,
    },
    /// The provider failed (5xx), after our retries.
    #[error("the model provider failed with status {status}: {message}")]
    Upstream {
        /// HTTP status.
        status: u16,
        /// Its error message, trimmed.
        message: String,
    },
    /// The provider rejected the request (4xx other than 429): key, model name, input.
    #[error("the model provider rejected the request ({status}): {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Its error message, trimmed.
        message: String,
    },
    /// No answer in time.
    #[error("the model provider timed out")]
    Timeout,
    /// Not called: the circuit breaker is open after repeated failures.
    #[error("the model provider is unavailable: {0}")]
    Unavailable(String),
    /// Could not connect, or the answer did not follow the wire format.
    #[error("model provider error: {0}")]
    Protocol(String),
}

/// A chat-completion provider (OpenAI-compatible, Anthropic, ...).
#[async_trait]
pub trait ChatModel: Send + Sync + 'static {
    /// Provider name, for logs and metadata (e.g. `openai`).
    fn provider(&self) -> &str;
    /// Generates a whole answer.
    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, LlmError>;
    /// Generates an answer as a stream of deltas.
    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, LlmError>;
}

/// Price of a model, in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Price {
    /// Per million prompt tokens.
    pub input_per_mtok: f64,
    /// Per million generated tokens.
    pub output_per_mtok: f64,
}

impl Price {
    /// Cost of a call with `usage`.
    pub fn cost(&self, usage: Usage) -> f64 {
        (usage.input_tokens as f64 * self.input_per_mtok
            + usage.output_tokens as f64 * self.output_per_mtok)
            / 1_000_000.0
    }
}

/// Where an agent's `model` name leads.
#[derive(Clone)]
pub enum ModelRoute {
    /// The offline extractive answerer.
    Extractive,
    /// A provider, with the model name it knows.
    Chat {
        /// The provider.
        model: Arc<dyn ChatModel>,
        /// The provider's name for the model.
        upstream: String,
    },
}

/// Maps agent model names to providers; configured in `twig.toml` `[llm]`.
pub trait ModelRegistry: Send + Sync + 'static {
    /// The route for `model`, or `None` when no configured provider serves it.
    fn route(&self, model: &str) -> Option<ModelRoute>;
    /// Model of new agents that name none.
    fn default_model(&self) -> &str;
    /// Price of `model`, when the price table has it.
    fn price(&self, model: &str) -> Option<Price>;
    /// Every model name a route exists for (for error messages).
    fn models(&self) -> Vec<String>;
}

/// A registry with no providers: only the extractive answerer.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExtractiveOnly;

impl ModelRegistry for ExtractiveOnly {
    fn route(&self, model: &str) -> Option<ModelRoute> {
        (model == EXTRACTIVE_MODEL).then_some(ModelRoute::Extractive)
    }
    fn default_model(&self) -> &str {
        EXTRACTIVE_MODEL
    }
    fn price(&self, _model: &str) -> Option<Price> {
        None
    }
    fn models(&self) -> Vec<String> {
        vec![EXTRACTIVE_MODEL.to_owned()]
    }
}

/// A cross-encoder (or other) reranker: scores how well each passage answers a query.
pub trait Reranker: Send + Sync + 'static {
    /// Model identifier, reported in answer metadata.
    fn model_id(&self) -> &str;
    /// One relevance score per passage (higher is better); blocking, run off the async runtime.
    fn score(&self, query: &str, passages: &[&str]) -> anyhow::Result<Vec<f32>>;
}
