//! The model registry: agent model names -> providers, built and validated from
//! `[llm]` at startup so a bad setting stops the server instead of failing queries.

use crate::config::{LlmConfig, ProviderConfig, ProviderKind};
use crate::prices::builtin_price;
use crate::providers::anthropic::{anthropic, AnthropicSettings, DEFAULT_VERSION};
use crate::providers::openai::{openai, Flavor, OpenAiSettings};
use std::collections::BTreeMap;
use std::sync::Arc;
use twig_core::llm::{ChatModel, ModelRegistry, ModelRoute, Price, EXTRACTIVE_MODEL};

/// Azure's `api-version` unless configured (the current GA inference version).
pub const AZURE_API_VERSION: &str = "2024-10-21";

/// Why `[llm]` cannot be used; lists every problem found, one per line.
#[derive(Debug, thiserror::Error)]
#[error("invalid [llm] settings:\n  {}", .0.join("\n  "))]
pub struct ConfigError(pub Vec<String>);

/// One routable model.
#[derive(Clone)]
struct Route {
    provider: String,
    model: Arc<dyn ChatModel>,
    upstream: String,
}

/// The registry built from `[llm]`.
pub struct Registry {
    routes: BTreeMap<String, Route>,
    default_model: String,
    prices: BTreeMap<String, Price>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("models", &self.routes.keys().collect::<Vec<_>>())
            .field("default_model", &self.default_model)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// Builds the registry, reading keys from the process environment.
    pub fn from_config(cfg: &LlmConfig) -> Result<Self, ConfigError> {
        Self::from_config_with_env(cfg, |name| std::env::var(name).ok())
    }

    /// Builds the registry with `env` as the environment (for tests).
    pub fn from_config_with_env(
        cfg: &LlmConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut errors = Vec::new();
        let mut routes: BTreeMap<String, Route> = BTreeMap::new();
        for (name, p) in &cfg.providers {
            let at = format!("llm.providers.{name}");
            let before = errors.len();
            check_provider(name, p, &at, &mut errors);
            let key = api_key(p, &at, &env, &mut errors);
            if errors.len() > before {
                continue;
            }
            let model = match build(name, p, key) {
                Ok(m) => m,
                Err(e) => {
                    errors.push(format!("{at}: {e}"));
                    continue;
                }
            };
            for (agent, upstream) in p.served() {
                if let Some(other) = routes.get(agent) {
                    errors.push(format!(
                        "model `{agent}` is served by two providers, `{}` and `{name}`; keep it in one",
                        other.provider
                    ));
                    continue;
                }
                routes.insert(
                    agent.to_owned(),
                    Route {
                        provider: name.clone(),
                        model: model.clone(),
                        upstream: upstream.to_owned(),
                    },
                );
            }
        }
        let mut prices = BTreeMap::new();
        for (model, p) in &cfg.prices {
            let ok = |v: f64| v.is_finite() && v >= 0.0;
            if !ok(p.input_per_mtok) || !ok(p.output_per_mtok) {
                errors.push(format!(
                    "llm.prices.\"{model}\": prices must be zero or positive numbers"
                ));
            }
            prices.insert(
                model.clone(),
                Price {
                    input_per_mtok: p.input_per_mtok,
                    output_per_mtok: p.output_per_mtok,
                },
            );
        }
        let default_model = match &cfg.default_model {
            Some(m) => {
                if m != EXTRACTIVE_MODEL && !routes.contains_key(m) && errors.is_empty() {
                    errors.push(format!(
                        "llm.default_model (TWIG_LLM__DEFAULT_MODEL): no provider serves `{m}`; served: {}",
                        served_list(&routes)
                    ));
                }
                m.clone()
            }
            None => first_model(cfg).unwrap_or_else(|| EXTRACTIVE_MODEL.to_owned()),
        };
        if !errors.is_empty() {
            return Err(ConfigError(errors));
        }
        Ok(Self {
            routes,
            default_model,
            prices,
        })
    }

    /// (agent model name, provider name, upstream name) of every provider route, for logs.
    pub fn describe(&self) -> Vec<(String, String, String)> {
        self.routes
            .iter()
            .map(|(m, r)| (m.clone(), r.provider.clone(), r.upstream.clone()))
            .collect()
    }
}

fn served_list(routes: &BTreeMap<String, Route>) -> String {
    std::iter::once(EXTRACTIVE_MODEL)
        .chain(routes.keys().map(String::as_str))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first model of the first provider by name, when any is configured.
fn first_model(cfg: &LlmConfig) -> Option<String> {
    let p = cfg.providers.values().next()?;
    p.models
        .first()
        .or_else(|| p.upstream.keys().next())
        .cloned()
}

fn check_provider(name: &str, p: &ProviderConfig, at: &str, errors: &mut Vec<String>) {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        errors.push(format!(
            "{at}: provider names use letters, digits, `-` and `_`"
        ));
    }
    if let Some(url) = &p.base_url {
        match reqwest::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => errors.push(format!("{at}.base_url: {url:?} is not an http(s) URL")),
        }
    } else if p.kind == ProviderKind::Azure {
        errors.push(format!(
            "{at}.base_url: Azure needs the resource URL, e.g. https://RESOURCE.openai.azure.com"
        ));
    }
    if p.api_version.is_some() && p.kind == ProviderKind::OpenAi {
        errors.push(format!(
            "{at}.api_version: only `azure` and `anthropic` providers take an API version"
        ));
    }
    if !matches!(
        p.max_tokens_field.as_str(),
        "max_tokens" | "max_completion_tokens"
    ) {
        errors.push(format!(
            "{at}.max_tokens_field: must be \"max_tokens\" or \"max_completion_tokens\", got {:?}",
            p.max_tokens_field
        ));
    }
    if p.default_max_tokens == 0 {
        errors.push(format!("{at}.default_max_tokens: must be at least 1"));
    }
    let served = p.served();
    if served.is_empty() {
        errors.push(format!(
            "{at}.models: the provider serves no model; list the model names agents use"
        ));
    }
    for (agent, upstream) in served {
        if agent.trim().is_empty() || agent.chars().any(char::is_whitespace) {
            errors.push(format!("{at}.models: {agent:?} is not a model name"));
        } else if agent == EXTRACTIVE_MODEL {
            errors.push(format!(
                "{at}.models: `{EXTRACTIVE_MODEL}` is the built-in offline answerer, not a provider model"
            ));
        }
        if upstream.trim().is_empty() {
            errors.push(format!(
                "{at}.upstream: `{agent}` maps to an empty model name"
            ));
        }
    }
    for (field, v) in [
        ("connect_timeout_ms", p.connect_timeout_ms),
        ("first_byte_timeout_ms", p.first_byte_timeout_ms),
        ("idle_timeout_ms", p.idle_timeout_ms),
        ("request_timeout_ms", p.request_timeout_ms),
        ("breaker_cooldown_ms", p.breaker_cooldown_ms),
        ("breaker_failures", u64::from(p.breaker_failures)),
        ("max_in_flight", p.max_in_flight as u64),
    ] {
        if v == 0 {
            errors.push(format!("{at}.{field}: must be positive"));
        }
    }
    if p.backoff_base_ms > p.backoff_max_ms {
        errors.push(format!(
            "{at}.backoff_base_ms: must not exceed backoff_max_ms ({})",
            p.backoff_max_ms
        ));
    }
}

/// The key from the environment variable `api_key_env` names.
fn api_key(
    p: &ProviderConfig,
    at: &str,
    env: &impl Fn(&str) -> Option<String>,
    errors: &mut Vec<String>,
) -> Option<String> {
    let var = p.api_key_env.as_deref().filter(|v| !v.is_empty());
    let Some(var) = var else {
        let hosted = match p.kind {
            ProviderKind::Anthropic | ProviderKind::Azure => true,
            ProviderKind::OpenAi => p.base_url.is_none(),
        };
        if hosted {
            errors.push(format!(
                "{at}.api_key_env: a `{}` provider needs a key; name the environment variable that holds it",
                p.kind.as_str()
            ));
        }
        return None;
    };
    match env(var).filter(|k| !k.trim().is_empty()) {
        Some(k) => Some(k.trim().to_owned()),
        None => {
            errors.push(format!(
                "{at}.api_key_env: the environment variable `{var}` is not set"
            ));
            None
        }
    }
}

fn build(
    name: &str,
    p: &ProviderConfig,
    api_key: Option<String>,
) -> Result<Arc<dyn ChatModel>, twig_core::llm::LlmError> {
    let policy = p.policy();
    match p.kind {
        ProviderKind::OpenAi | ProviderKind::Azure => {
            let flavor = match p.kind {
                ProviderKind::Azure => Flavor::Azure {
                    api_version: p
                        .api_version
                        .clone()
                        .unwrap_or_else(|| AZURE_API_VERSION.into()),
                },
                _ => Flavor::OpenAi,
            };
            let settings = OpenAiSettings {
                base_url: p
                    .base_url
                    .clone()
                    .unwrap_or_else(|| "https://api.openai.com/v1".into()),
                api_key,
                flavor,
                max_tokens_field: p.max_tokens_field.clone(),
                stream_usage: p.stream_usage,
            };
            openai(name, settings, policy)
        }
        ProviderKind::Anthropic => {
            let settings = AnthropicSettings {
                base_url: p
                    .base_url
                    .clone()
                    .unwrap_or_else(|| "https://api.anthropic.com/v1".into()),
                api_key,
                version: p
                    .api_version
                    .clone()
                    .unwrap_or_else(|| DEFAULT_VERSION.into()),
                default_max_tokens: p.default_max_tokens,
            };
            anthropic(name, settings, policy)
        }
    }
}

impl ModelRegistry for Registry {
    fn route(&self, model: &str) -> Option<ModelRoute> {
        if model == EXTRACTIVE_MODEL {
            return Some(ModelRoute::Extractive);
        }
        self.routes.get(model).map(|r| ModelRoute::Chat {
            model: r.model.clone(),
            upstream: r.upstream.clone(),
        })
    }

    fn default_model(&self) -> &str {
        &self.default_model
    }

    /// Configured price of the agent name, then of the upstream name, then the built-in ones.
    fn price(&self, model: &str) -> Option<Price> {
        let upstream = self.routes.get(model).map(|r| r.upstream.as_str());
        let names = std::iter::once(model).chain(upstream);
        names
            .clone()
            .find_map(|n| self.prices.get(n).copied())
            .or_else(|| names.into_iter().find_map(builtin_price))
    }

    fn models(&self) -> Vec<String> {
        std::iter::once(EXTRACTIVE_MODEL.to_owned())
            .chain(self.routes.keys().cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PriceConfig;

    fn provider(kind: ProviderKind, key_env: Option<&str>, models: &[&str]) -> ProviderConfig {
        ProviderConfig {
            kind,
            api_key_env: key_env.map(str::to_owned),
            models: models.iter().map(|m| m.to_string()).collect(),
            ..ProviderConfig::default()
        }
    }

    fn env(name: &str) -> Option<String> {
        match name {
            "OPENAI_API_KEY" => Some("sk-1".into()),
            "ANTHROPIC_API_KEY" => Some("sk-ant-1".into()),
            _ => None,
        }
    }

    fn err(cfg: &LlmConfig) -> String {
        Registry::from_config_with_env(cfg, env)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn no_providers_is_extractive_only() {
        let r = Registry::from_config_with_env(&LlmConfig::default(), env).unwrap();
        assert_eq!(r.default_model(), EXTRACTIVE_MODEL);
        assert!(matches!(
            r.route("extractive"),
            Some(ModelRoute::Extractive)
        ));
        assert!(r.route("gpt-4o").is_none());
        assert_eq!(r.models(), vec!["extractive"]);
    }

    #[test]
    fn routes_mapping_default_and_prices() {
        let mut openai = provider(
            ProviderKind::OpenAi,
            Some("OPENAI_API_KEY"),
            &["gpt-4o", "gpt-4o-mini"],
        );
        openai.upstream.insert("gpt-4".into(), "gpt-4o".into());
        let mut ollama = provider(ProviderKind::OpenAi, None, &[]);
        ollama.base_url = Some("http://127.0.0.1:11434/v1".into());
        ollama.upstream.insert("llama".into(), "llama3.2:3b".into());
        let cfg = LlmConfig {
            default_model: None,
            providers: BTreeMap::from([
                (
                    "claude".into(),
                    provider(
                        ProviderKind::Anthropic,
                        Some("ANTHROPIC_API_KEY"),
                        &["claude-3-sonnet", "claude-sonnet-4-5"],
                    ),
                ),
                ("ollama".into(), ollama),
                ("openai".into(), openai),
            ]),
            prices: BTreeMap::from([
                (
                    "gpt-4o".into(),
                    PriceConfig {
                        input_per_mtok: 1.0,
                        output_per_mtok: 2.0,
                    },
                ),
                (
                    "llama".into(),
                    PriceConfig {
                        input_per_mtok: 0.0,
                        output_per_mtok: 0.0,
                    },
                ),
            ]),
        };
        let r = Registry::from_config_with_env(&cfg, env).unwrap();
        assert_eq!(
            r.default_model(),
            "claude-3-sonnet",
            "first provider's first model"
        );
        let Some(ModelRoute::Chat { model, upstream }) = r.route("gpt-4") else {
            panic!()
        };
        assert_eq!(model.provider(), "openai");
        assert_eq!(upstream, "gpt-4o");
        let Some(ModelRoute::Chat { model, upstream }) = r.route("llama") else {
            panic!()
        };
        assert_eq!(
            (model.provider(), upstream.as_str()),
            ("ollama", "llama3.2:3b")
        );
        assert!(r.route("gpt-5").is_none());
        assert_eq!(
            r.models(),
            vec![
                "extractive",
                "claude-3-sonnet",
                "claude-sonnet-4-5",
                "gpt-4",
                "gpt-4o",
                "gpt-4o-mini",
                "llama"
            ]
        );
        // Config beats the built-in table, and applies through the mapping.
        assert_eq!(r.price("gpt-4o").unwrap().input_per_mtok, 1.0);
        assert_eq!(r.price("gpt-4").unwrap().input_per_mtok, 1.0);
        assert_eq!(r.price("gpt-4o-mini").unwrap().input_per_mtok, 0.15);
        assert_eq!(r.price("claude-3-sonnet").unwrap().output_per_mtok, 15.0);
        assert_eq!(r.price("llama"), Some(Price::default()));
        assert_eq!(r.price("nobody-knows"), None);
        assert!(!format!("{r:?}").contains("sk-"), "no key in Debug");

        let cfg = LlmConfig {
            default_model: Some("gpt-4o-mini".into()),
            ..cfg
        };
        let r = Registry::from_config_with_env(&cfg, env).unwrap();
        assert_eq!(r.default_model(), "gpt-4o-mini");
    }

    #[test]
    fn clear_errors() {
        let one = |p: ProviderConfig| LlmConfig {
            providers: BTreeMap::from([("p".into(), p)]),
            ..LlmConfig::default()
        };
        let e = err(&one(provider(
            ProviderKind::OpenAi,
            Some("MISSING_KEY"),
            &["gpt-4o"],
        )));
        assert!(
            e.contains("llm.providers.p.api_key_env") && e.contains("`MISSING_KEY` is not set"),
            "{e}"
        );
        let e = err(&one(provider(ProviderKind::Anthropic, None, &["claude"])));
        assert!(e.contains("needs a key"), "{e}");
        let e = err(&one(provider(ProviderKind::OpenAi, None, &["gpt-4o"])));
        assert!(
            e.contains("needs a key"),
            "the hosted OpenAI API needs one: {e}"
        );
        let e = err(&one(provider(
            ProviderKind::Azure,
            Some("OPENAI_API_KEY"),
            &["d"],
        )));
        assert!(e.contains("base_url") && e.contains("azure.com"), "{e}");
        let e = err(&one(provider(
            ProviderKind::OpenAi,
            Some("OPENAI_API_KEY"),
            &[],
        )));
        assert!(e.contains("serves no model"), "{e}");
        let e = err(&one(provider(
            ProviderKind::OpenAi,
            Some("OPENAI_API_KEY"),
            &["extractive"],
        )));
        assert!(e.contains("built-in offline answerer"), "{e}");
        let mut p = provider(ProviderKind::OpenAi, Some("OPENAI_API_KEY"), &["m"]);
        p.base_url = Some("localhost:8080".into());
        p.request_timeout_ms = 0;
        p.max_tokens_field = "max_output".into();
        let e = err(&one(p));
        assert!(e.contains("not an http(s) URL"), "{e}");
        assert!(e.contains("request_timeout_ms: must be positive"), "{e}");
        assert!(e.contains("max_tokens_field"), "{e}");

        let two = LlmConfig {
            providers: BTreeMap::from([
                (
                    "a".into(),
                    provider(ProviderKind::OpenAi, Some("OPENAI_API_KEY"), &["gpt-4o"]),
                ),
                (
                    "b".into(),
                    provider(ProviderKind::Azure, Some("OPENAI_API_KEY"), &["x"]),
                ),
            ]),
            ..LlmConfig::default()
        };
        let mut two = two;
        two.providers.get_mut("b").unwrap().base_url = Some("https://r.openai.azure.com".into());
        two.providers
            .get_mut("b")
            .unwrap()
            .upstream
            .insert("gpt-4o".into(), "dep".into());
        let e = err(&two);
        assert!(
            e.contains("`gpt-4o` is served by two providers, `a` and `b`"),
            "{e}"
        );

        let cfg = LlmConfig {
            default_model: Some("gpt-9".into()),
            ..LlmConfig::default()
        };
        let e = err(&cfg);
        assert!(
            e.contains("llm.default_model") && e.contains("served: extractive"),
            "{e}"
        );
        let cfg = LlmConfig {
            prices: BTreeMap::from([(
                "m".into(),
                PriceConfig {
                    input_per_mtok: -1.0,
                    output_per_mtok: 1.0,
                },
            )]),
            ..LlmConfig::default()
        };
        assert!(err(&cfg).contains("llm.prices.\"m\""));
    }
}
