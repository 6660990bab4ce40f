//! A store-only [`Retriever`] for processes that ingest but do not serve search
//! (`twig worker`): documents are chunked, embedded and written to the store, whose
//! change log the serving process's [`Engine`](super::Engine) replays into its indexes.
//! It never touches the index files nor prunes the change log, so it can run beside
//! `twig serve` on the same database.

use super::{ingest, MODEL_META_KEY, REINDEXING};
use async_trait::async_trait;
use std::sync::Arc;
use twig_core::id::{DocumentId, OrgId};
use twig_core::retrieval::{
    DocumentInput, Embedder, RetrievalStatus, Retriever, SearchMode, SearchRequest, SearchResults,
    UpsertOutcome,
};
use twig_core::store::Store;
use twig_core::Error;

/// Writes documents to the store only (see the module docs).
pub struct StoreWriter {
    store: Arc<dyn Store>,
    embedder: Option<Arc<dyn Embedder>>,
}

impl StoreWriter {
    /// A writer; refuses an embedder other than the one the stored vectors were made with.
    pub async fn open(
        store: Arc<dyn Store>,
        embedder: Option<Arc<dyn Embedder>>,
    ) -> Result<Self, super::EngineError> {
        if let Some(e) = &embedder {
            let stored = store
                .documents()
                .meta(MODEL_META_KEY)
                .await
                .map_err(|e| super::EngineError::Store(anyhow::Error::from(e)))?;
            match stored {
                Some(s) if s.starts_with(REINDEXING) => {
                    return Err(super::EngineError::ReindexInterrupted)
                }
                Some(s) if s != e.model_id() => {
                    return Err(super::EngineError::ModelMismatch {
                        stored: s,
                        configured: e.model_id().to_owned(),
                    })
                }
                Some(_) => {}
                None => store
                    .documents()
                    .set_meta(MODEL_META_KEY, e.model_id())
                    .await
                    .map_err(|e| super::EngineError::Store(anyhow::Error::from(e)))?,
            }
        }
        Ok(Self { store, embedder })
    }
}

#[async_trait]
impl Retriever for StoreWriter {
    async fn upsert_documents(
        &self,
        docs: Vec<DocumentInput>,
    ) -> Result<Vec<UpsertOutcome>, Error> {
        ingest::upsert_with(self.store.as_ref(), self.embedder.clone(), docs).await
    }

    async fn delete_document(&self, org: &OrgId, id: &DocumentId) -> Result<bool, Error> {
        Ok(self
            .store
            .documents()
            .delete_document(org, id)
            .await?
            .is_some())
    }

    async fn sync(&self) -> Result<(), Error> {
        // The serving process owns the indexes and replays the change log itself.
        Ok(())
    }

    async fn search(&self, _req: SearchRequest) -> Result<SearchResults, Error> {
        Err(Error::Unavailable(
            "this process only ingests; search is served by `twig serve`".into(),
        ))
    }

    fn status(&self) -> RetrievalStatus {
        RetrievalStatus {
            mode: if self.embedder.is_some() {
                SearchMode::Hybrid
            } else {
                SearchMode::Lexical
            },
            embedding_model: self.embedder.as_ref().map(|e| e.model_id().to_owned()),
        }
    }
}
