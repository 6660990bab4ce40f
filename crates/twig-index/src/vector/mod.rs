//! Exact in-memory cosine index: per-org contiguous f32 rows, SIMD scan,
//! tombstones with in-place compaction, and an `RwLock` for concurrent readers.

mod partition;
pub mod simd;

use std::collections::HashMap;
use std::sync::RwLock;

use partition::Partition;
pub use simd::Kernel;

use crate::error::{IndexError, Result};
use crate::fusion::Hit;

/// Rows per thread below which a search stays on the calling thread.
const PARALLEL_MIN_ROWS: usize = 64 * 1024;

/// One chunk's embedding, for [`VectorIndex::upsert_document`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkVector {
    /// Chunk id returned by searches.
    pub chunk_id: String,
    /// Embedding (normalised on insert).
    pub vector: Vec<f32>,
}

/// A full record, for bulk [`VectorIndex::load`].
#[derive(Debug, Clone, PartialEq)]
pub struct VectorRecord {
    /// Chunk id returned by searches.
    pub chunk_id: String,
    /// Owning document.
    pub doc_id: String,
    /// Tenant.
    pub org_id: String,
    /// Data source, for filters.
    pub data_source_id: String,
    /// Embedding (normalised on insert).
    pub vector: Vec<f32>,
}

#[derive(Default)]
struct Inner {
    orgs: HashMap<String, Partition>,
    /// Org holding each document, so deletes need only the doc id.
    doc_org: HashMap<String, String>,
}

/// Exact cosine-similarity index over L2-normalised vectors.
pub struct VectorIndex {
    dim: usize,
    kernel: Kernel,
    threads: usize,
    inner: RwLock<Inner>,
}

/// Checks and L2-normalises a vector.
fn normalized(dim: usize, v: &[f32]) -> Result<Vec<f32>> {
    if v.len() != dim {
        return Err(IndexError::DimensionMismatch {
            expected: dim,
            got: v.len(),
        });
    }
    if v.iter().any(|x| !x.is_finite()) {
        return Err(IndexError::InvalidVector("non-finite component".into()));
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 || !norm.is_finite() {
        return Err(IndexError::InvalidVector("zero norm".into()));
    }
    Ok(v.iter().map(|x| x / norm).collect())
}

impl VectorIndex {
    /// Empty index of `dim`-dimensional vectors, best SIMD kernel, one thread per search
    /// (the scan is memory-bound: a second thread did not pay on a 2-core host).
    pub fn new(dim: usize) -> Result<Self> {
        Self::with_options(dim, Kernel::detect(), 1)
    }

    /// Empty index with an explicit kernel (falls back to scalar if unsupported)
    /// and maximum number of threads per search.
    pub fn with_options(dim: usize, kernel: Kernel, threads: usize) -> Result<Self> {
        if dim == 0 {
            return Err(IndexError::InvalidConfig("dimension must be > 0".into()));
        }
        let mut idx = Self {
            dim,
            kernel,
            threads,
            inner: RwLock::new(Inner::default()),
        };
        idx.set_search_options(kernel, threads);
        Ok(idx)
    }

    /// Changes the scan kernel (scalar if unsupported) and threads per search.
    pub fn set_search_options(&mut self, kernel: Kernel, threads: usize) {
        self.kernel = if kernel.supported() {
            kernel
        } else {
            Kernel::Scalar
        };
        self.threads = threads.max(1);
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Kernel in use.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Replaces all vectors of `doc_id` with `chunks` in one step (readers see old or new).
    pub fn upsert_document(
        &self,
        doc_id: &str,
        org_id: &str,
        data_source_id: &str,
        chunks: &[ChunkVector],
    ) -> Result<()> {
        // Validate before locking so a bad vector changes nothing.
        let vectors = chunks
            .iter()
            .map(|c| normalized(self.dim, &c.vector))
            .collect::<Result<Vec<_>>>()?;
        let mut inner = self.inner.write().map_err(|_| IndexError::Poisoned)?;
        remove_doc(&mut inner, doc_id);
        if chunks.is_empty() {
            return Ok(());
        }
        let part = inner
            .orgs
            .entry(org_id.to_string())
            .or_insert_with(|| Partition::new(self.dim));
        for (c, v) in chunks.iter().zip(&vectors) {
            part.push(&c.chunk_id, doc_id, data_source_id, v);
        }
        inner.doc_org.insert(doc_id.to_string(), org_id.to_string());
        Ok(())
    }

    /// Removes all vectors of `doc_id`; returns whether it existed.
    pub fn delete_document(&self, doc_id: &str) -> Result<bool> {
        let mut inner = self.inner.write().map_err(|_| IndexError::Poisoned)?;
        Ok(remove_doc(&mut inner, doc_id))
    }

    /// Replaces the whole content with `records` (startup load from the database).
    /// Built off-lock, then swapped in; a record's doc must not span orgs.
    pub fn load(&self, records: impl IntoIterator<Item = VectorRecord>) -> Result<usize> {
        let mut fresh = Inner::default();
        let mut n = 0;
        for r in records {
            let v = normalized(self.dim, &r.vector)?;
            fresh
                .orgs
                .entry(r.org_id.clone())
                .or_insert_with(|| Partition::new(self.dim))
                .push(&r.chunk_id, &r.doc_id, &r.data_source_id, &v);
            fresh.doc_org.insert(r.doc_id, r.org_id);
            n += 1;
        }
        *self.inner.write().map_err(|_| IndexError::Poisoned)? = fresh;
        Ok(n)
    }

    /// Number of live vectors.
    pub fn len(&self) -> usize {
        self.inner
            .read()
            .map_or(0, |i| i.orgs.values().map(Partition::live).sum())
    }

    /// Whether the index holds no live vector.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Top-`k` chunks of `org_id` (optionally only in `data_source_ids`) by cosine
    /// similarity with `query`; filters are applied inside the scan.
    pub fn search(
        &self,
        org_id: &str,
        data_source_ids: Option<&[String]>,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<Hit>> {
        let q = normalized(self.dim, query)?;
        if k == 0 {
            return Ok(Vec::new());
        }
        let inner = self.inner.read().map_err(|_| IndexError::Poisoned)?;
        let Some(part) = inner.orgs.get(org_id) else {
            return Ok(Vec::new());
        };
        let scored = part.search(self.kernel, &q, data_source_ids, k, self.threads_for(part));
        Ok(scored
            .into_iter()
            .map(|s| Hit {
                chunk_id: part.chunk_id(s.row).to_string(),
                score: s.score,
            })
            .collect())
    }

    /// Cosine similarity between `query` and each listed chunk of `org_id` that is
    /// indexed (for [`crate::fusion`]'s `similarity_score`); unknown ids are absent.
    pub fn similarities(
        &self,
        org_id: &str,
        query: &[f32],
        chunk_ids: &[&str],
    ) -> Result<HashMap<String, f32>> {
        let q = normalized(self.dim, query)?;
        let inner = self.inner.read().map_err(|_| IndexError::Poisoned)?;
        let Some(part) = inner.orgs.get(org_id) else {
            return Ok(HashMap::new());
        };
        Ok(part.similarities(self.kernel, &q, chunk_ids))
    }

    fn threads_for(&self, part: &Partition) -> usize {
        (part.rows() / PARALLEL_MIN_ROWS).clamp(1, self.threads)
    }
}

fn remove_doc(inner: &mut Inner, doc_id: &str) -> bool {
    let Some(org) = inner.doc_org.remove(doc_id) else {
        return false;
    };
    if let Some(part) = inner.orgs.get_mut(&org) {
        part.remove_doc(doc_id);
        if part.live() == 0 {
            inner.orgs.remove(&org);
        }
    }
    true
}
