//! Dot-product kernels with runtime CPU dispatch and a filtered top-k scan.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::ops::Range;

/// Instruction set used for the scan, chosen once at runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// AVX-512F, 16 lanes.
    Avx512,
    /// AVX2 with FMA, 8 lanes.
    Avx2Fma,
    /// Portable code (SSE2 auto-vectorisation on the default x86-64 target).
    Scalar,
}

impl Kernel {
    /// Best kernel this CPU supports.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Kernel::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Kernel::Avx2Fma;
            }
        }
        Kernel::Scalar
    }

    /// Whether this CPU can run the kernel.
    pub fn supported(self) -> bool {
        match self {
            Kernel::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2Fma => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }
}

/// Portable dot product with 8 independent accumulators (vectorisable).
pub fn dot_scalar(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i + 32 <= n {
        for (j, s) in acc.iter_mut().enumerate() {
            let o = i + 8 * j;
            *s = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(o)), _mm256_loadu_ps(pb.add(o)), *s);
        }
        i += 32;
    }
    while i + 8 <= n {
        acc[0] = _mm256_fmadd_ps(
            _mm256_loadu_ps(pa.add(i)),
            _mm256_loadu_ps(pb.add(i)),
            acc[0],
        );
        i += 8;
    }
    let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let s = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    let mut total = _mm_cvtss_f32(s);
    while i < n {
        total += *pa.add(i) * *pb.add(i);
        i += 1;
    }
    total
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dot_avx512(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm512_setzero_ps(); 4];
    let mut i = 0;
    while i + 64 <= n {
        for (j, s) in acc.iter_mut().enumerate() {
            let o = i + 16 * j;
            *s = _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(o)), _mm512_loadu_ps(pb.add(o)), *s);
        }
        i += 64;
    }
    while i + 16 <= n {
        acc[0] = _mm512_fmadd_ps(
            _mm512_loadu_ps(pa.add(i)),
            _mm512_loadu_ps(pb.add(i)),
            acc[0],
        );
        i += 16;
    }
    if i < n {
        let m: __mmask16 = (1u16 << (n - i)) - 1;
        let x = _mm512_maskz_loadu_ps(m, pa.add(i));
        let y = _mm512_maskz_loadu_ps(m, pb.add(i));
        acc[1] = _mm512_fmadd_ps(x, y, acc[1]);
    }
    let s = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
    _mm512_reduce_add_ps(s)
}

/// Dot product with the given kernel; falls back to scalar if unsupported.
pub fn dot(kernel: Kernel, a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if kernel.supported() {
            match kernel {
                // SAFETY: the CPU supports the kernel's features (checked above).
                Kernel::Avx512 => return unsafe { dot_avx512(a, b) },
                Kernel::Avx2Fma => return unsafe { dot_avx2(a, b) },
                Kernel::Scalar => {}
            }
        }
    }
    let _ = kernel;
    dot_scalar(a, b)
}

/// Scored row, ordered by score then by lower row first.
#[derive(Debug, Clone, Copy)]
pub struct Scored {
    /// Dot product with the query.
    pub score: f32,
    /// Row in the partition.
    pub row: u32,
}

impl PartialEq for Scored {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Scored {}
impl PartialOrd for Scored {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scored {
    fn cmp(&self, o: &Self) -> Ordering {
        self.score
            .total_cmp(&o.score)
            .then_with(|| o.row.cmp(&self.row))
    }
}

/// Bounded min-heap keeping the best `k` entries.
pub struct TopK {
    k: usize,
    heap: BinaryHeap<Reverse<Scored>>,
}

impl TopK {
    /// Empty collector of the best `k`.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    /// Offers an entry; kept if among the best `k` so far.
    #[inline(always)]
    pub fn push(&mut self, s: Scored) {
        if self.heap.len() < self.k {
            self.heap.push(Reverse(s));
        } else if let Some(mut min) = self.heap.peek_mut() {
            if s > min.0 {
                *min = Reverse(s);
            }
        }
    }

    /// Offers every entry of `other`.
    pub fn merge(&mut self, other: TopK) {
        for Reverse(s) in other.heap {
            self.push(s);
        }
    }

    /// Entries best first.
    pub fn into_sorted(self) -> Vec<Scored> {
        let mut v: Vec<Scored> = self.heap.into_iter().map(|r| r.0).collect();
        v.sort_by(|a, b| b.cmp(a));
        v
    }
}

#[inline(always)]
fn scan_generic<A: Fn(usize) -> bool, D: Fn(&[f32]) -> f32>(
    data: &[f32],
    dim: usize,
    rows: Range<usize>,
    accept: A,
    dotq: D,
    k: usize,
) -> TopK {
    let mut top = TopK::new(k);
    for row in rows {
        if !accept(row) {
            continue;
        }
        let score = dotq(&data[row * dim..(row + 1) * dim]);
        top.push(Scored {
            score,
            row: row as u32,
        });
    }
    top
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn scan_avx512<A: Fn(usize) -> bool>(
    data: &[f32],
    dim: usize,
    q: &[f32],
    rows: Range<usize>,
    accept: A,
    k: usize,
) -> TopK {
    scan_generic(data, dim, rows, accept, |r| dot_avx512(r, q), k)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn scan_avx2<A: Fn(usize) -> bool>(
    data: &[f32],
    dim: usize,
    q: &[f32],
    rows: Range<usize>,
    accept: A,
    k: usize,
) -> TopK {
    scan_generic(data, dim, rows, accept, |r| dot_avx2(r, q), k)
}

/// Top-`k` rows in `rows` (of row-major `data`) accepted by `accept`, by dot product with `q`.
pub fn scan<A: Fn(usize) -> bool>(
    kernel: Kernel,
    data: &[f32],
    dim: usize,
    q: &[f32],
    rows: Range<usize>,
    accept: A,
    k: usize,
) -> TopK {
    #[cfg(target_arch = "x86_64")]
    {
        if kernel.supported() {
            match kernel {
                // SAFETY: the CPU supports the kernel's features (checked above).
                Kernel::Avx512 => return unsafe { scan_avx512(data, dim, q, rows, accept, k) },
                Kernel::Avx2Fma => return unsafe { scan_avx2(data, dim, q, rows, accept, k) },
                Kernel::Scalar => {}
            }
        }
    }
    scan_generic(data, dim, rows, accept, |r| dot_scalar(r, q), k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_agree() {
        for n in [0usize, 1, 7, 8, 15, 16, 33, 64, 100, 384, 385] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            for k in [Kernel::Scalar, Kernel::Avx2Fma, Kernel::Avx512] {
                let got = dot(k, &a, &b);
                assert!((got - naive).abs() < 1e-3, "{k:?} n={n}: {got} vs {naive}");
            }
        }
    }

    #[test]
    fn topk_keeps_best_in_order() {
        let mut t = TopK::new(3);
        for (i, s) in [0.1, 0.9, 0.5, 0.7, 0.2, 0.9].into_iter().enumerate() {
            t.push(Scored {
                score: s,
                row: i as u32,
            });
        }
        let rows: Vec<u32> = t.into_sorted().iter().map(|s| s.row).collect();
        assert_eq!(rows, vec![1, 5, 3]);
    }
}
