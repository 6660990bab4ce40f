//! One org's vectors: structure-of-arrays rows with tombstones.

use std::collections::HashMap;
use std::sync::Arc;

use super::simd::{dot, scan, Kernel, Scored, TopK};

/// Compact when at least this many rows are dead and they are a quarter of all rows.
const COMPACT_MIN_DEAD: usize = 1024;

pub(super) struct Partition {
    dim: usize,
    /// Row-major vectors, `dim` floats per row.
    data: Vec<f32>,
    chunk_ids: Vec<Arc<str>>,
    /// Interned data-source index per row.
    ds: Vec<u32>,
    alive: Vec<bool>,
    dead: usize,
    ds_index: HashMap<String, u32>,
    doc_rows: HashMap<String, Vec<u32>>,
    chunk_rows: HashMap<Arc<str>, u32>,
}

impl Partition {
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            data: Vec::new(),
            chunk_ids: Vec::new(),
            ds: Vec::new(),
            alive: Vec::new(),
            dead: 0,
            ds_index: HashMap::new(),
            doc_rows: HashMap::new(),
            chunk_rows: HashMap::new(),
        }
    }

    /// Rows including tombstones (the scan length).
    pub fn rows(&self) -> usize {
        self.alive.len()
    }

    pub fn live(&self) -> usize {
        self.rows() - self.dead
    }

    pub fn chunk_id(&self, row: u32) -> &str {
        &self.chunk_ids[row as usize]
    }

    /// Appends a normalised vector.
    pub fn push(&mut self, chunk_id: &str, doc_id: &str, data_source_id: &str, v: &[f32]) {
        let row = self.rows() as u32;
        let next = self.ds_index.len() as u32;
        let ds = *self
            .ds_index
            .entry(data_source_id.to_string())
            .or_insert(next);
        let id: Arc<str> = Arc::from(chunk_id);
        self.data.extend_from_slice(v);
        self.chunk_ids.push(id.clone());
        self.ds.push(ds);
        self.alive.push(true);
        self.chunk_rows.insert(id, row);
        self.doc_rows
            .entry(doc_id.to_string())
            .or_default()
            .push(row);
    }

    /// Tombstones a document's rows, compacting when enough are dead.
    pub fn remove_doc(&mut self, doc_id: &str) {
        let Some(rows) = self.doc_rows.remove(doc_id) else {
            return;
        };
        for r in rows {
            let r = r as usize;
            if std::mem::replace(&mut self.alive[r], false) {
                self.dead += 1;
                if self.chunk_rows.get(&self.chunk_ids[r]) == Some(&(r as u32)) {
                    self.chunk_rows.remove(&self.chunk_ids[r]);
                }
            }
        }
        if self.dead >= COMPACT_MIN_DEAD && self.dead * 4 >= self.rows() {
            self.compact();
        }
    }

    /// Moves live rows down in place and renumbers the row maps.
    fn compact(&mut self) {
        let dim = self.dim;
        let mut remap = vec![u32::MAX; self.rows()];
        let mut w = 0;
        for (r, slot) in remap.iter_mut().enumerate() {
            if !self.alive[r] {
                continue;
            }
            if w != r {
                self.data.copy_within(r * dim..(r + 1) * dim, w * dim);
                self.chunk_ids.swap(w, r);
                self.ds[w] = self.ds[r];
            }
            *slot = w as u32;
            w += 1;
        }
        self.data.truncate(w * dim);
        self.chunk_ids.truncate(w);
        self.ds.truncate(w);
        self.alive = vec![true; w];
        self.dead = 0;
        for rows in self.doc_rows.values_mut() {
            for r in rows.iter_mut() {
                *r = remap[*r as usize];
            }
        }
        for r in self.chunk_rows.values_mut() {
            *r = remap[*r as usize];
        }
        self.data.shrink_to_fit();
    }

    /// Filtered exact top-k; splits the rows across `threads` scoped threads.
    pub fn search(
        &self,
        kernel: Kernel,
        q: &[f32],
        data_source_ids: Option<&[String]>,
        k: usize,
        threads: usize,
    ) -> Vec<Scored> {
        let allowed: Option<Vec<bool>> = data_source_ids.map(|ids| {
            let mut mask = vec![false; self.ds_index.len()];
            for id in ids {
                if let Some(&i) = self.ds_index.get(id) {
                    mask[i as usize] = true;
                }
            }
            mask
        });
        if allowed.as_ref().is_some_and(|m| !m.contains(&true)) {
            return Vec::new();
        }
        let accept = |row: usize| {
            self.alive[row] && allowed.as_ref().is_none_or(|m| m[self.ds[row] as usize])
        };
        let n = self.rows();
        // TopK preallocates `k`; cap it by what the partition can return.
        let k = k.min(self.live());
        if k == 0 {
            return Vec::new();
        }
        if threads <= 1 {
            return scan(kernel, &self.data, self.dim, q, 0..n, accept, k).into_sorted();
        }
        let per = n.div_ceil(threads);
        let mut top = TopK::new(k);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let range = (t * per).min(n)..((t + 1) * per).min(n);
                    let accept = &accept;
                    s.spawn(move || scan(kernel, &self.data, self.dim, q, range, accept, k))
                })
                .collect();
            for h in handles {
                match h.join() {
                    Ok(part) => top.merge(part),
                    Err(p) => std::panic::resume_unwind(p),
                }
            }
        });
        top.into_sorted()
    }

    /// Cosine of `q` with each known chunk.
    pub fn similarities(&self, kernel: Kernel, q: &[f32], ids: &[&str]) -> HashMap<String, f32> {
        ids.iter()
            .filter_map(|id| {
                let r = *self.chunk_rows.get(*id)? as usize;
                let v = &self.data[r * self.dim..(r + 1) * self.dim];
                Some((id.to_string(), dot(kernel, v, q)))
            })
            .collect()
    }
}
