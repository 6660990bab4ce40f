//! The `[llm]` section of `twig.toml`: providers, the default model and prices.

use crate::policy::CallPolicy;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// `[llm]`: which models agents can use and where they are served.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// Model of new agents that name none. Unset: `extractive` without providers,
    /// else the first model of the first provider (by provider name).
    pub default_model: Option<String>,
    /// Providers by a name of the operator's choice.
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Prices per model name, overriding the built-in table.
    pub prices: BTreeMap<String, PriceConfig>,
}

/// Which API a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenAI Chat Completions (OpenAI, Ollama, vLLM, llama.cpp, LM Studio, ...).
    #[default]
    OpenAi,
    /// Azure OpenAI (Chat Completions with deployment URLs and an `api-key` header).
    Azure,
    /// Anthropic Messages.
    Anthropic,
}

impl ProviderKind {
    /// The name used in config.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Azure => "azure",
            ProviderKind::Anthropic => "anthropic",
        }
    }
}

/// `[llm.providers.NAME]`: one endpoint and the models it serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderConfig {
    /// `openai`, `azure` or `anthropic`.
    pub kind: ProviderKind,
    /// Base URL; defaults to the vendor's (`openai`, `anthropic`); required for `azure`.
    pub base_url: Option<String>,
    /// Environment variable holding the key (the key itself never goes in a file).
    /// Unset or empty: no key (local servers).
    pub api_key_env: Option<String>,
    /// `azure`: the `api-version` query; `anthropic`: the `anthropic-version` header.
    pub api_version: Option<String>,
    /// Model names agents use, served under the same name upstream unless mapped.
    pub models: Vec<String>,
    /// Agent model name -> the provider's model (or Azure deployment) name; the
    /// agent names here are served too.
    pub upstream: BTreeMap<String, String>,
    /// `openai`/`azure`: body field of the output limit (`max_tokens` or `max_completion_tokens`).
    pub max_tokens_field: String,
    /// `openai`/`azure`: ask for token usage in streams (`stream_options.include_usage`).
    pub stream_usage: bool,
    /// `anthropic`: `max_tokens` when the agent sets none (the API requires one).
    pub default_max_tokens: u32,
    /// Milliseconds to connect.
    pub connect_timeout_ms: u64,
    /// Streaming: milliseconds from the request to the first text.
    pub first_byte_timeout_ms: u64,
    /// Streaming: longest silence between events, in milliseconds.
    pub idle_timeout_ms: u64,
    /// Non-streaming: milliseconds for the whole answer.
    pub request_timeout_ms: u64,
    /// Retries after a 429, 5xx or connection failure (never after other 4xx).
    pub max_retries: u32,
    /// First backoff in milliseconds; doubles per retry, with jitter.
    pub backoff_base_ms: u64,
    /// Largest backoff in milliseconds.
    pub backoff_max_ms: u64,
    /// A `Retry-After` longer than this (ms) fails the call at once instead of waiting.
    pub retry_after_max_ms: u64,
    /// Consecutive failures that open the circuit breaker.
    pub breaker_failures: u32,
    /// Milliseconds an open breaker refuses calls before one probe.
    pub breaker_cooldown_ms: u64,
    /// Calls and open streams at once; more are refused (503-like), not queued.
    pub max_in_flight: usize,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        let p = CallPolicy::default();
        let ms = |d: Duration| d.as_millis() as u64;
        Self {
            kind: ProviderKind::OpenAi,
            base_url: None,
            api_key_env: None,
            api_version: None,
            models: Vec::new(),
            upstream: BTreeMap::new(),
            max_tokens_field: "max_tokens".into(),
            stream_usage: true,
            default_max_tokens: 1024,
            connect_timeout_ms: ms(p.connect_timeout),
            first_byte_timeout_ms: ms(p.first_byte_timeout),
            idle_timeout_ms: ms(p.idle_timeout),
            request_timeout_ms: ms(p.request_timeout),
            max_retries: p.max_retries,
            backoff_base_ms: ms(p.backoff_base),
            backoff_max_ms: ms(p.backoff_max),
            retry_after_max_ms: ms(p.retry_after_max),
            breaker_failures: p.breaker_failures,
            breaker_cooldown_ms: ms(p.breaker_cooldown),
            max_in_flight: p.max_in_flight,
        }
    }
}

impl ProviderConfig {
    /// The call policy these settings describe.
    pub fn policy(&self) -> CallPolicy {
        let ms = Duration::from_millis;
        CallPolicy {
            connect_timeout: ms(self.connect_timeout_ms),
            first_byte_timeout: ms(self.first_byte_timeout_ms),
            idle_timeout: ms(self.idle_timeout_ms),
            request_timeout: ms(self.request_timeout_ms),
            max_retries: self.max_retries,
            backoff_base: ms(self.backoff_base_ms),
            backoff_max: ms(self.backoff_max_ms),
            retry_after_max: ms(self.retry_after_max_ms),
            breaker_failures: self.breaker_failures,
            breaker_cooldown: ms(self.breaker_cooldown_ms),
            max_in_flight: self.max_in_flight,
        }
    }

    /// Every agent model name served, each with its upstream name.
    pub fn served(&self) -> BTreeMap<&str, &str> {
        let mut out: BTreeMap<&str, &str> = self
            .models
            .iter()
            .map(|m| (m.as_str(), m.as_str()))
            .collect();
        for (agent, up) in &self.upstream {
            out.insert(agent, up);
        }
        out
    }
}

/// `[llm.prices."MODEL"]`: US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceConfig {
    /// Per million prompt tokens.
    pub input_per_mtok: f64,
    /// Per million generated tokens.
    pub output_per_mtok: f64,
}
