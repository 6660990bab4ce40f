//! Re-embedding every chunk with another model (`twig reindex`).

use super::{MODEL_META_KEY, REINDEXING};
use crate::chunk::retrieval_text;
use std::sync::Arc;
use twig_core::retrieval::Embedder;
use twig_core::store::Store;

/// Documents re-embedded per batch.
const BATCH: u32 = 32;

/// Re-embeds every chunk in `store` with `embedder` and records its model; returns the chunks done.
///
/// Chunk boundaries are kept (the source text is not stored). The model key is
/// marked "reindexing" first, so an interrupted run is refused at the next start
/// until it is run again; the server must be stopped meanwhile.
pub async fn reindex(store: Arc<dyn Store>, embedder: Arc<dyn Embedder>) -> anyhow::Result<u64> {
    let docs = store.documents();
    docs.set_meta(
        MODEL_META_KEY,
        &format!("{REINDEXING}{}", embedder.model_id()),
    )
    .await?;
    let mut after = None;
    let mut done = 0u64;
    loop {
        let ids = docs.document_ids(after.as_ref(), BATCH).await?;
        let Some(last) = ids.last().cloned() else {
            break;
        };
        after = Some(last);
        for id in ids {
            let Some((doc, mut chunks)) = docs.document_with_chunks(&id).await? else {
                continue;
            };
            let texts: Vec<String> = chunks
                .iter()
                .map(|c| retrieval_text(&doc.title, &c.heading_path, &c.text))
                .collect();
            let e = embedder.clone();
            let vectors = tokio::task::spawn_blocking(move || {
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                e.embed(&refs)
            })
            .await??;
            for (c, v) in chunks.iter_mut().zip(vectors) {
                c.embedding = Some(v);
            }
            docs.upsert_document(&doc, &chunks).await?;
            done += chunks.len() as u64;
        }
    }
    docs.set_meta(MODEL_META_KEY, embedder.model_id()).await?;
    Ok(done)
}
