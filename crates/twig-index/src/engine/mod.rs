//! The retrieval engine: twig-core's [`Retriever`] over the record store, an
//! embedding model, the BM25 index and the vector index.
//!
//! The store is the source of truth (documents, chunks, embeddings) and logs
//! every document change in the same transaction. Both indexes are derived:
//! they replay that log from the last change they applied, so a crash between
//! a commit and an index update heals on the next [`Engine::sync`] (run at
//! open, after each write, and on a timer for writes of other processes).
//!
//! `similarity_score` of a hit is `(1 + cos(q, c)) / 2`: the cosine similarity
//! of the query and chunk embeddings rescaled from [-1, 1] to [0, 1], computed
//! for every result (lexical-only hits included). With all-MiniLM-L6-v2,
//! unrelated text scores about 0.5, and 0.7 (cosine 0.4) marks clearly related
//! text. Without an embedder (lexical-only mode) it is `bm25 / (bm25 + 10)`.

mod ingest;
mod reindex;
mod search;
mod writer;

use crate::chunk::TokenCounter;
use crate::lexical::LexicalIndex;
use crate::vector::{VectorIndex, VectorRecord};
use crate::IndexOp;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use twig_core::id::{DocumentId, OrgId};
use twig_core::retrieval::{
    DocumentInput, Embedder, RetrievalStatus, Retriever, SearchMode, SearchRequest, SearchResults,
    UpsertOutcome,
};
use twig_core::store::Store;
use twig_core::Error;

pub use reindex::reindex;
pub use search::Fusion;
pub use writer::StoreWriter;

/// Store key of the embedding model the vectors were made with.
const MODEL_META_KEY: &str = "embedding_model";
/// Prefix of that key's value while a reindex runs (vectors of two models may coexist).
const REINDEXING: &str = "reindexing:";
/// Changes replayed per batch (one tantivy commit each).
const REPLAY_BATCH: u32 = 256;
/// Vectors loaded per page at startup.
const LOAD_PAGE: u32 = 2048;

/// Why the engine cannot open.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The index holds vectors of another model.
    #[error(
        "the index was built with embedding model {stored:?} but {configured:?} is configured; \
         vectors of different models are never mixed: run `twig reindex` to re-embed every chunk \
         with the configured model, or configure {stored:?} again"
    )]
    ModelMismatch {
        /// Model of the stored vectors.
        stored: String,
        /// Model now configured.
        configured: String,
    },
    /// A reindex stopped half way; vectors of two models coexist.
    #[error("a reindex was interrupted, so the index holds vectors of two models: run `twig reindex` again")]
    ReindexInterrupted,
    /// An index could not be opened.
    #[error("cannot open the search index: {0}")]
    Index(#[from] crate::IndexError),
    /// The store failed.
    #[error("cannot read the record store: {0:#}")]
    Store(anyhow::Error),
}

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Directory of the lexical index.
    pub index_dir: PathBuf,
    /// How lexical and vector lists are combined.
    pub fusion: Fusion,
    /// Candidates each retriever contributes before fusion (at least `top_k`).
    pub candidates: usize,
}

impl EngineConfig {
    /// Defaults for an index directory.
    pub fn new(index_dir: PathBuf) -> Self {
        Self {
            index_dir,
            fusion: Fusion::default(),
            candidates: 100,
        }
    }
}

/// Where search candidates come from.
enum Backend {
    /// This process's own indexes, derived from the store by replaying its change log.
    Local {
        lexical: Arc<LexicalIndex>,
        vector: Option<Arc<VectorIndex>>,
        /// Last change applied to the in-memory vector index.
        vector_seq: AtomicU64,
    },
    /// The database itself ([`Store::chunk_search`]): nothing is held here, so every node
    /// sees a write the moment it commits.
    Database {
        /// Change log high-water mark already pruned (pruning is a write under the global lock).
        pruned: AtomicU64,
    },
}

/// The retrieval engine (see the module docs).
pub struct Engine {
    store: Arc<dyn Store>,
    embedder: Option<Arc<dyn Embedder>>,
    backend: Backend,
    /// Serialises index updates so changes apply in log order.
    write_lock: tokio::sync::Mutex<()>,
    config: EngineConfig,
}

/// Counts tokens with the embedder's tokenizer, or by whitespace without one.
pub(crate) struct Counter(pub Option<Arc<dyn Embedder>>);

impl TokenCounter for Counter {
    fn count(&self, text: &str) -> usize {
        match &self.0 {
            Some(e) => e.count_tokens(text),
            None => crate::WhitespaceCounter.count(text),
        }
    }

    fn token_offsets(&self, text: &str) -> Vec<(usize, usize)> {
        match &self.0 {
            Some(e) => e.token_offsets(text),
            None => crate::WhitespaceCounter.token_offsets(text),
        }
    }
}

fn store_err(e: twig_core::store::StoreError) -> anyhow::Error {
    anyhow::Error::from(e)
}

impl Engine {
    /// Opens the indexes, loads vectors from the store and catches up with its change log.
    pub async fn open(
        store: Arc<dyn Store>,
        embedder: Option<Arc<dyn Embedder>>,
        config: EngineConfig,
    ) -> Result<Engine, EngineError> {
        let docs = store.documents();
        if let Some(e) = &embedder {
            match docs
                .meta(MODEL_META_KEY)
                .await
                .map_err(|e| EngineError::Store(store_err(e)))?
            {
                Some(stored) if stored != e.model_id() => {
                    return Err(EngineError::ModelMismatch {
                        stored,
                        configured: e.model_id().to_owned(),
                    })
                }
                Some(_) => {}
                None => docs
                    .set_meta(MODEL_META_KEY, e.model_id())
                    .await
                    .map_err(|e| EngineError::Store(store_err(e)))?,
            }
        }
        if let Some(search) = store.chunk_search() {
            search
                .prepare(embedder.as_ref().map(|e| e.dim()))
                .await
                .map_err(|e| EngineError::Store(store_err(e)))?;
            tracing::info!("search runs in the database");
            return Ok(Engine {
                store,
                embedder,
                backend: Backend::Database {
                    pruned: AtomicU64::new(0),
                },
                write_lock: tokio::sync::Mutex::new(()),
                config,
            });
        }
        let dir = config.index_dir.clone();
        let lexical = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir).map_err(crate::IndexError::from)?;
            LexicalIndex::open(&dir)
        })
        .await
        .map_err(|e| EngineError::Store(anyhow::anyhow!("index open task failed: {e}")))??;
        // Everything up to `seq` is in the rows loaded below; later changes are replayed by sync.
        let seq = docs
            .last_change()
            .await
            .map_err(|e| EngineError::Store(store_err(e)))?;
        let vector = match &embedder {
            None => None,
            Some(e) => {
                let index = VectorIndex::new(e.dim())?;
                let mut records = Vec::new();
                let mut after = None;
                loop {
                    let rows = docs
                        .vector_rows(after.as_ref(), LOAD_PAGE)
                        .await
                        .map_err(|e| EngineError::Store(store_err(e)))?;
                    let Some(last) = rows.last() else { break };
                    after = Some(last.chunk_id.clone());
                    records.extend(rows.into_iter().map(|r| VectorRecord {
                        chunk_id: r.chunk_id.to_string(),
                        doc_id: r.document_id.to_string(),
                        org_id: r.org_id.to_string(),
                        data_source_id: r.data_source_id.to_string(),
                        vector: r.embedding,
                    }));
                }
                let n = index.load(records)?;
                tracing::info!(vectors = n, "vector index loaded");
                Some(Arc::new(index))
            }
        };
        let engine = Engine {
            store,
            embedder,
            backend: Backend::Local {
                lexical: Arc::new(lexical),
                vector,
                vector_seq: AtomicU64::new(seq),
            },
            write_lock: tokio::sync::Mutex::new(()),
            config,
        };
        engine
            .sync_indexes()
            .await
            .map_err(|e| EngineError::Store(anyhow::anyhow!("{e:#}")))?;
        Ok(engine)
    }

    /// Replays logged changes the indexes have not applied yet.
    async fn sync_indexes(&self) -> Result<(), Error> {
        let Backend::Local {
            lexical,
            vector,
            vector_seq,
        } = &self.backend
        else {
            return Ok(());
        };
        let _guard = self.write_lock.lock().await;
        let docs = self.store.documents();
        loop {
            let from = lexical.last_seq().min(vector_seq.load(Ordering::SeqCst));
            let changes = docs.changes_since(from, REPLAY_BATCH).await?;
            let Some(last) = changes.last().map(|c| c.seq) else {
                return Ok(());
            };
            // Latest state of each changed document, read back from the store.
            let mut touched: BTreeMap<DocumentId, ()> = BTreeMap::new();
            for c in &changes {
                touched.insert(c.document_id.clone(), ());
            }
            let mut ops = Vec::new();
            let mut vec_updates = Vec::new();
            for doc_id in touched.keys() {
                ops.push(IndexOp::DeleteDocument {
                    doc_id: doc_id.to_string(),
                });
                match docs.document_with_chunks(doc_id).await? {
                    None => vec_updates.push((doc_id.clone(), None)),
                    Some((doc, chunks)) => {
                        for c in &chunks {
                            ops.push(IndexOp::AddChunk {
                                chunk_id: c.id.to_string(),
                                doc_id: doc.id.to_string(),
                                org_id: doc.org_id.to_string(),
                                data_source_id: doc.data_source_id.to_string(),
                                title: doc.title.clone(),
                                heading_path: c.heading_path.clone(),
                                text: c.text.clone(),
                            });
                        }
                        vec_updates.push((doc_id.clone(), Some((doc, chunks))));
                    }
                }
            }
            let lexical = lexical.clone();
            let vector = vector.clone();
            let apply_lexical = last > lexical.last_seq();
            tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                if apply_lexical {
                    lexical.apply(&ops, last)?;
                }
                if let Some(v) = vector {
                    for (doc_id, state) in vec_updates {
                        match state {
                            None => {
                                v.delete_document(doc_id.as_str())?;
                            }
                            Some((doc, chunks)) => {
                                let cv: Vec<_> = chunks
                                    .into_iter()
                                    .filter_map(|c| {
                                        c.embedding.map(|vector| crate::ChunkVector {
                                            chunk_id: c.id.to_string(),
                                            vector,
                                        })
                                    })
                                    .collect();
                                v.upsert_document(
                                    doc.id.as_str(),
                                    doc.org_id.as_str(),
                                    doc.data_source_id.as_str(),
                                    &cv,
                                )?;
                            }
                        }
                    }
                }
                Ok(())
            })
            .await
            .map_err(|e| Error::Internal(anyhow::anyhow!("index task failed: {e}")))?
            .map_err(Error::Internal)?;
            vector_seq.store(last, Ordering::SeqCst);
            docs.prune_changes(last).await?;
        }
    }

    /// What the timer does: replays the log into local indexes, or, when the database
    /// searches, forgets the log that nothing replays.
    async fn catch_up(&self) -> Result<(), Error> {
        match &self.backend {
            Backend::Local { .. } => self.sync_indexes().await,
            Backend::Database { pruned } => {
                let docs = self.store.documents();
                let last = docs.last_change().await?;
                if last > pruned.load(Ordering::SeqCst) {
                    docs.prune_changes(last).await?;
                    pruned.store(last, Ordering::SeqCst);
                }
                Ok(())
            }
        }
    }

    /// Spawns a task that syncs the indexes every `every` (for writes made by other processes).
    pub fn spawn_sync_loop(
        self: &Arc<Self>,
        every: std::time::Duration,
    ) -> tokio::task::JoinHandle<()> {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some(engine) = me.upgrade() else { return };
                if let Err(e) = engine.catch_up().await {
                    tracing::warn!(error = %format!("{e:#}"), "index sync failed; will retry");
                }
            }
        })
    }

    /// The embedder, if any.
    pub fn embedder(&self) -> Option<&Arc<dyn Embedder>> {
        self.embedder.as_ref()
    }
}

#[async_trait]
impl Retriever for Engine {
    async fn upsert_documents(
        &self,
        docs: Vec<DocumentInput>,
    ) -> Result<Vec<UpsertOutcome>, Error> {
        let outcomes = ingest::upsert(self, docs).await?;
        self.sync_indexes().await?;
        Ok(outcomes)
    }

    async fn delete_document(&self, org: &OrgId, id: &DocumentId) -> Result<bool, Error> {
        let done = self
            .store
            .documents()
            .delete_document(org, id)
            .await?
            .is_some();
        self.sync_indexes().await?;
        Ok(done)
    }

    async fn sync(&self) -> Result<(), Error> {
        self.sync_indexes().await
    }

    async fn search(&self, req: SearchRequest) -> Result<SearchResults, Error> {
        let started = std::time::Instant::now();
        let mode = if self.embedder.is_some() {
            "hybrid"
        } else {
            "lexical"
        };
        let span = tracing::info_span!("search", mode, top_k = req.top_k);
        let out = tracing::Instrument::instrument(search::run(self, req), span).await;
        metrics::histogram!("twig_search_duration_seconds", "mode" => mode)
            .record(started.elapsed().as_secs_f64());
        out
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
