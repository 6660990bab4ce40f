//! Wiring of the optional in-process cross-encoder reranker (`[rerank]`).

use crate::config::Settings;
use anyhow::Context;
use std::sync::Arc;
use twig_core::llm::Reranker;

/// Loads the cross-encoder when `rerank.enabled`, fetching its files first if missing;
/// `None` when disabled, without touching the disk.
pub async fn reranker(settings: &Settings) -> anyhow::Result<Option<Arc<dyn Reranker>>> {
    if !settings.rerank.enabled {
        return Ok(None);
    }
    let dir = settings.rerank_dir();
    let dir_shown = dir.clone();
    let sha = Some(settings.rerank.sha256.clone()).filter(|s| !s.is_empty());
    let threads = settings.rerank.threads;
    let ce = tokio::task::spawn_blocking(move || -> anyhow::Result<twig_embed::CrossEncoder> {
        let dir = twig_embed::ensure_reranker(&dir, sha.as_deref()).with_context(|| {
            format!(
                "rerank.enabled = true but the reranker is missing from {} and could not be fetched; \
                 install its files there (setting `rerank.model_dir`, TWIG_RERANK_MODEL_DIR) or set \
                 rerank.enabled = false (TWIG_RERANK__ENABLED=false)",
                dir.display()
            )
        })?;
        let mut opts = twig_embed::CrossEncoderOptions::default();
        if threads > 0 {
            opts.threads = threads;
        }
        twig_embed::CrossEncoder::load(&dir, opts)
            .with_context(|| format!("cannot load the reranker from {}", dir.display()))
    })
    .await
    .context("reranker loading task failed")??;
    tracing::info!(model = ce.model_id(), dir = %dir_shown.display(), "reranker loaded");
    Ok(Some(Arc::new(ce)))
}
