//! Upserting documents: hash, skip unchanged, chunk, embed, store.

use super::{Counter, Engine};
use crate::chunk::{chunk_sections, retrieval_text, ChunkingConfig, Section};
use serde_json::json;
use sha2::{Digest, Sha256};
use twig_core::document::{Document, StoredChunk};
use twig_core::id::{ChunkId, DocumentId};
use twig_core::retrieval::{DocumentInput, UpsertOutcome};
use twig_core::{time, Error};

/// Longest source key accepted.
const MAX_SOURCE_KEY: usize = 2048;

/// SHA-256 of everything that determines a document's chunks and vectors.
fn content_hash(d: &DocumentInput, model: Option<&str>) -> String {
    let sections: Vec<_> = d
        .sections
        .iter()
        .map(|s| json!([s.heading_path, s.text, s.page]))
        .collect();
    let key = json!({
        "title": d.title, "url": d.url, "filename": d.filename, "sections": sections,
        "max_tokens": d.chunking.max_tokens, "overlap": d.chunking.overlap_tokens, "model": model,
    });
    hex::encode(Sha256::digest(key.to_string().as_bytes()))
}

/// A document that needs (re)indexing.
struct Plan {
    index: usize,
    input: DocumentInput,
    existing: Option<Document>,
    hash: String,
}

/// Chunks of one planned document, with their embeddings.
struct Prepared {
    chunks: Vec<StoredChunk>,
}

fn validate(d: &DocumentInput) -> Result<ChunkingConfig, Error> {
    if d.source_key.is_empty() || d.source_key.len() > MAX_SOURCE_KEY {
        return Err(Error::invalid(format!(
            "document source key must be 1 to {MAX_SOURCE_KEY} bytes"
        )));
    }
    let cfg = ChunkingConfig {
        max_tokens: d.chunking.max_tokens,
        overlap_tokens: d.chunking.overlap_tokens,
    };
    cfg.validate()
        .map_err(|e| Error::invalid(format!("invalid chunking settings: {e}")))?;
    Ok(cfg)
}

pub(super) async fn upsert(
    engine: &Engine,
    docs: Vec<DocumentInput>,
) -> Result<Vec<UpsertOutcome>, Error> {
    upsert_with(engine.store.as_ref(), engine.embedder.clone(), docs).await
}

/// Chunks, embeds and stores documents (the indexes follow the store's change log).
pub(super) async fn upsert_with(
    owner: &dyn twig_core::store::Store,
    embedder: Option<std::sync::Arc<dyn twig_core::retrieval::Embedder>>,
    docs: Vec<DocumentInput>,
) -> Result<Vec<UpsertOutcome>, Error> {
    let store = owner.documents();
    let model = embedder.as_ref().map(|e| e.model_id().to_owned());
    let mut outcomes: Vec<Option<UpsertOutcome>> = vec![None; docs.len()];
    // Validate the whole batch before writing anything, so a bad document changes nothing.
    let mut keys = std::collections::HashSet::new();
    for input in &docs {
        validate(input)?;
        if !keys.insert((&input.data_source_id, &input.source_key)) {
            return Err(Error::invalid(format!(
                "document source key {:?} appears twice in one batch",
                input.source_key
            )));
        }
    }
    let mut plans = Vec::new();
    for (index, input) in docs.into_iter().enumerate() {
        let hash = content_hash(&input, model.as_deref());
        let existing = store
            .find_document(&input.data_source_id, &input.source_key)
            .await?;
        if let Some(e) = &existing {
            if e.org_id != input.org_id {
                return Err(Error::Internal(anyhow::anyhow!(
                    "source key of another org's document"
                )));
            }
            if e.content_hash == hash {
                outcomes[index] = Some(UpsertOutcome::Unchanged(e.id.clone()));
                continue;
            }
        }
        plans.push(Plan {
            index,
            input,
            existing,
            hash,
        });
    }
    if plans.is_empty() {
        return Ok(outcomes.into_iter().flatten().collect());
    }

    // Chunking and embedding are CPU-bound: off the async runtime.
    let inputs: Vec<DocumentInput> = plans.iter().map(|p| p.input.clone()).collect();
    let prepared = tokio::task::spawn_blocking(move || prepare(&inputs, embedder))
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("chunking task failed: {e}")))??;

    let now = time::now();
    for (plan, prep) in plans.into_iter().zip(prepared) {
        let (id, created_at) = match &plan.existing {
            Some(e) => (e.id.clone(), e.created_at),
            None => (DocumentId::generate(), now),
        };
        let n = prep.chunks.len() as u32;
        let doc = Document {
            id: id.clone(),
            org_id: plan.input.org_id,
            data_source_id: plan.input.data_source_id,
            source_key: plan.input.source_key,
            title: plan.input.title,
            url: plan.input.url,
            filename: plan.input.filename,
            content_hash: plan.hash,
            metadata: plan.input.metadata,
            chunks: n,
            status: twig_core::document::DocumentStatus::Indexed,
            error: None,
            created_at,
            updated_at: now,
        };
        let chunks: Vec<StoredChunk> = prep
            .chunks
            .into_iter()
            .map(|c| StoredChunk {
                document_id: id.clone(),
                ..c
            })
            .collect();
        store.upsert_document(&doc, &chunks).await?;
        outcomes[plan.index] = Some(if plan.existing.is_some() {
            UpsertOutcome::Replaced(id, n)
        } else {
            UpsertOutcome::Created(id, n)
        });
    }
    Ok(outcomes.into_iter().flatten().collect())
}

/// Chunks every document and embeds all chunks in one batched call.
fn prepare(
    inputs: &[DocumentInput],
    embedder: Option<std::sync::Arc<dyn twig_core::retrieval::Embedder>>,
) -> Result<Vec<Prepared>, Error> {
    let counter = Counter(embedder.clone());
    let placeholder = DocumentId::from_trusted(String::new());
    let mut out = Vec::with_capacity(inputs.len());
    let mut texts = Vec::new();
    for d in inputs {
        let cfg = ChunkingConfig {
            max_tokens: d.chunking.max_tokens,
            overlap_tokens: d.chunking.overlap_tokens,
        };
        let sections: Vec<Section> = d
            .sections
            .iter()
            .map(|s| Section {
                heading_path: s.heading_path.clone(),
                text: s.text.clone(),
            })
            .collect();
        let chunks = chunk_sections(&sections, &counter, &cfg)
            .map_err(|e| Error::invalid(format!("chunking failed: {e}")))?;
        let mut stored = Vec::with_capacity(chunks.len());
        for c in chunks {
            texts.push(retrieval_text(&d.title, &c.heading_path, &c.text));
            stored.push(StoredChunk {
                id: ChunkId::generate(),
                document_id: placeholder.clone(),
                position: c.position as u32,
                page: d.sections.get(c.section).and_then(|s| s.page),
                text: c.text,
                heading_path: c.heading_path,
                token_count: c.token_count as u32,
                embedding: None,
            });
        }
        out.push(Prepared { chunks: stored });
    }
    if let Some(e) = &embedder {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vectors = e
            .embed(&refs)
            .map_err(|err| Error::Internal(err.context("embedding failed")))?;
        if vectors.len() != refs.len() {
            return Err(Error::Internal(anyhow::anyhow!(
                "embedder returned {} vectors for {} texts",
                vectors.len(),
                refs.len()
            )));
        }
        let mut it = vectors.into_iter();
        for p in &mut out {
            for c in &mut p.chunks {
                c.embedding = it.next();
            }
        }
    }
    Ok(out)
}
