//! Chat-model providers behind `twig_core::llm::ChatModel`: any OpenAI-compatible
//! Chat Completions endpoint and Anthropic's Messages API, called with timeouts,
//! retries and a circuit breaker; the price table; and the model registry that
//! `twig.toml`'s `[llm]` section configures.

mod client;
pub mod policy;
pub mod providers;

pub use policy::{Breaker, CallPolicy};
