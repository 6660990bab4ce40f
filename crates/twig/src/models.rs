//! Wiring of the chat models: the registry `[llm]` describes, validated at startup.

use crate::config::Settings;
use std::sync::Arc;
use twig_core::llm::ModelRegistry;
use twig_llm::Registry;

/// Builds the model registry; a bad provider setting or a missing key is an error.
pub fn open(settings: &Settings) -> anyhow::Result<Arc<dyn ModelRegistry>> {
    let registry = Registry::from_config(&settings.llm)?;
    let routes = registry.describe();
    if routes.is_empty() {
        tracing::info!("no LLM provider configured: answers use the offline extractive answerer");
    }
    for (model, provider, upstream) in routes {
        tracing::info!(%model, %provider, %upstream, "chat model available");
    }
    tracing::info!(
        default_model = registry.default_model(),
        "default model of new agents"
    );
    Ok(Arc::new(registry))
}
