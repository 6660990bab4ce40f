//! Chat-model providers behind `twig_core::llm::ChatModel`: any OpenAI-compatible
//! Chat Completions endpoint and Anthropic's Messages API, called with timeouts,
//! retries and a circuit breaker; the price table; and the model registry that
//! `twig.toml`'s `[llm]` section configures.

mod client;
pub mod config;
pub mod policy;
pub mod prices;
pub mod providers;
pub mod registry;

pub use config::{LlmConfig, PriceConfig, ProviderConfig, ProviderKind};
pub use policy::{Breaker, CallPolicy};
pub use registry::{ConfigError, Registry};
