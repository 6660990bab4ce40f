//! Hot loops of the forward pass: sgemm, layer norm, GELU, attention.
//!
//! Elementwise kernels are plain loops compiled twice (AVX-512 and AVX2+FMA)
//! and picked at run time, so one binary runs everywhere and still vectorises.

use std::sync::OnceLock;

/// Columns of a prepacked weight panel: two AVX-512 registers.
pub const NR: usize = 32;
/// Rows of the sgemm micro-tile (2*MR accumulators + 2 B + 1 A register of 32).
pub const MR: usize = 14;
/// Bytes of packed A (MC rows x all of K) kept in L2 while every weight panel streams past.
const A_BLOCK_BYTES: usize = 384 * 1024;

/// Rows of A packed per block for depth `k`: as many MR groups as fit A_BLOCK_BYTES.
fn mc_for(k: usize) -> usize {
    (A_BLOCK_BYTES / (4 * k.max(1)) / MR).clamp(1, 16) * MR
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Isa {
    Avx512,
    Avx2,
    Scalar,
}

/// The best instruction set this CPU offers, detected once.
pub fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::env::var_os("TWIG_EMBED_NO_AVX512").is_none()
                && std::arch::is_x86_feature_detected!("avx512f")
            {
                return Isa::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Isa::Avx2;
            }
        }
        Isa::Scalar
    })
}

/// Defines `pub fn $name` whose body is compiled for AVX-512, AVX2+FMA and baseline.
macro_rules! multiversion {
    ($(#[$meta:meta])* pub fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        pub fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn inner($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                unsafe fn v512($($arg: $ty),*) { inner($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn v256($($arg: $ty),*) { inner($($arg),*) }
                match isa() {
                    // SAFETY: the CPU supports the enabled features (checked in isa()).
                    Isa::Avx512 => return unsafe { v512($($arg),*) },
                    Isa::Avx2 => return unsafe { v256($($arg),*) },
                    Isa::Scalar => {}
                }
            }
            inner($($arg),*)
        }
    };
}

// ---------------------------------------------------------------- sgemm

/// A weight matrix `W` (`n` x `k`, row-major as stored by PyTorch) laid out for `C += A * W^T`.
pub struct PackedWeight {
    pub n: usize,
    pub k: usize,
    data: AlignedVec,
    /// Row-major copy for CPUs without AVX-512 (fed to `matrixmultiply`).
    raw: Vec<f32>,
}

impl PackedWeight {
    /// Packs `w` (`n` rows of `k`) into 32-column panels, k-major inside.
    pub fn new(w: &[f32], n: usize, k: usize) -> Self {
        assert_eq!(w.len(), n * k);
        if isa() != Isa::Avx512 || !n.is_multiple_of(NR) {
            return PackedWeight {
                n,
                k,
                data: AlignedVec::zeros(0),
                raw: w.to_vec(),
            };
        }
        let mut data = AlignedVec::zeros(n * k);
        let out = data.as_mut_slice();
        let mut pos = 0;
        for j0 in (0..n).step_by(NR) {
            for p in 0..k {
                for j in 0..NR {
                    out[pos] = w[(j0 + j) * k + p];
                    pos += 1;
                }
            }
        }
        PackedWeight {
            n,
            k,
            data,
            raw: Vec::new(),
        }
    }
}

/// What the sgemm writes into C.
#[derive(Clone, Copy)]
pub enum Epilogue<'a> {
    /// `C += A W^T` (C was prefilled, e.g. with residual + bias).
    Acc,
    /// `C = A W^T + bias`.
    Bias(&'a [f32]),
    /// `C = gelu(A W^T + bias)`, applied while the tile is still in registers/L1.
    BiasGelu(&'a [f32]),
}

/// `c[m x n] += a[m x k] * w^T`, with row strides `lda` and `ldc`; `apack` is scratch.
pub fn sgemm_acc(
    m: usize,
    a: &[f32],
    lda: usize,
    w: &PackedWeight,
    c: &mut [f32],
    ldc: usize,
    apack: &mut AlignedVec,
) {
    sgemm(m, a, lda, w, c, ldc, Epilogue::Acc, apack)
}

/// `c[m x n] = epilogue(a[m x k] * w^T)`, with row strides `lda` and `ldc`; `apack` is scratch.
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    m: usize,
    a: &[f32],
    lda: usize,
    w: &PackedWeight,
    c: &mut [f32],
    ldc: usize,
    epi: Epilogue,
    apack: &mut AlignedVec,
) {
    let (n, k) = (w.n, w.k);
    if m == 0 {
        return;
    }
    assert!(lda >= k && ldc >= n && a.len() >= (m - 1) * lda + k && c.len() >= (m - 1) * ldc + n);
    if let Epilogue::Bias(b) | Epilogue::BiasGelu(b) = epi {
        assert_eq!(b.len(), n);
    }
    if w.raw.is_empty() {
        #[cfg(target_arch = "x86_64")]
        {
            apack.resize(mc_for(k) * k);
            // SAFETY: the packed layout only exists when AVX-512 was detected; bounds asserted above.
            unsafe {
                avx512::sgemm(
                    m,
                    n,
                    k,
                    a.as_ptr(),
                    lda,
                    w.data.as_slice().as_ptr(),
                    c.as_mut_ptr(),
                    ldc,
                    apack,
                    epi,
                )
            };
            return;
        }
    }
    if let Epilogue::Bias(b) | Epilogue::BiasGelu(b) = epi {
        for r in 0..m {
            c[r * ldc..r * ldc + n].copy_from_slice(b);
        }
    }
    // SAFETY: strides and extents were checked by the assert above.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            lda as isize,
            1,
            w.raw.as_ptr(),
            1,
            k as isize,
            1.0,
            c.as_mut_ptr(),
            ldc as isize,
            1,
        )
    }
    if let Epilogue::BiasGelu(_) = epi {
        for r in 0..m {
            gelu(&mut c[r * ldc..r * ldc + n]);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{gelu_inline, mc_for, AlignedVec, Epilogue, MR, NR};
    use std::arch::x86_64::*;

    /// No k blocking: each C tile is read and written once, the A block stays in
    /// L2 and each weight panel (k x 32) streams from L2/L3 past it.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn sgemm(
        m: usize,
        n: usize,
        k: usize,
        a: *const f32,
        lda: usize,
        packed: *const f32,
        c: *mut f32,
        ldc: usize,
        apack: &mut AlignedVec,
        epi: Epilogue,
    ) {
        let ap = apack.as_mut_slice().as_mut_ptr();
        let mc_max = mc_for(k);
        for i0 in (0..m).step_by(mc_max) {
            let mc = mc_max.min(m - i0);
            pack_a(mc, k, a.add(i0 * lda), lda, ap);
            for jp in 0..n / NR {
                let b = packed.add(jp * k * NR);
                let mut ir = 0;
                while ir < mc {
                    let rows = MR.min(mc - ir);
                    kernel(
                        k,
                        ap.add(ir * k),
                        b,
                        c.add((i0 + ir) * ldc + jp * NR),
                        ldc,
                        rows,
                        epi,
                        jp * NR,
                    );
                    ir += MR;
                }
            }
        }
    }

    /// Packs `mc` rows x `kc` columns of A into MR-row micro-panels, k-major, zero-padded.
    #[inline(always)]
    unsafe fn pack_a(mc: usize, kc: usize, a: *const f32, lda: usize, out: *mut f32) {
        let mut ir = 0;
        while ir < mc {
            let rows = MR.min(mc - ir);
            let dst = out.add(ir * kc);
            for i in 0..MR {
                if i < rows {
                    let src = a.add((ir + i) * lda);
                    for p in 0..kc {
                        *dst.add(p * MR + i) = *src.add(p);
                    }
                } else {
                    for p in 0..kc {
                        *dst.add(p * MR + i) = 0.0;
                    }
                }
            }
            ir += MR;
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn kernel(
        kc: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        rows: usize,
        epi: Epilogue,
        col: usize,
    ) {
        let mut acc0 = [_mm512_setzero_ps(); MR];
        let mut acc1 = [_mm512_setzero_ps(); MR];
        let mut a = a;
        let mut b = b;
        for _ in 0..kc {
            let b0 = _mm512_load_ps(b);
            let b1 = _mm512_load_ps(b.add(16));
            for i in 0..MR {
                let av = _mm512_set1_ps(*a.add(i));
                acc0[i] = _mm512_fmadd_ps(av, b0, acc0[i]);
                acc1[i] = _mm512_fmadd_ps(av, b1, acc1[i]);
            }
            a = a.add(MR);
            b = b.add(NR);
        }
        // Unrolled with a guard so the accumulators stay in registers.
        match epi {
            Epilogue::Acc => {
                for i in 0..MR {
                    if i < rows {
                        let cr = c.add(i * ldc);
                        _mm512_storeu_ps(cr, _mm512_add_ps(_mm512_loadu_ps(cr), acc0[i]));
                        _mm512_storeu_ps(
                            cr.add(16),
                            _mm512_add_ps(_mm512_loadu_ps(cr.add(16)), acc1[i]),
                        );
                    }
                }
            }
            Epilogue::Bias(bias) | Epilogue::BiasGelu(bias) => {
                let bp = bias.as_ptr().add(col);
                let (bias0, bias1) = (_mm512_loadu_ps(bp), _mm512_loadu_ps(bp.add(16)));
                for i in 0..MR {
                    if i < rows {
                        let cr = c.add(i * ldc);
                        _mm512_storeu_ps(cr, _mm512_add_ps(bias0, acc0[i]));
                        _mm512_storeu_ps(cr.add(16), _mm512_add_ps(bias1, acc1[i]));
                    }
                }
                if let Epilogue::BiasGelu(_) = epi {
                    for i in 0..rows {
                        gelu_inline(std::slice::from_raw_parts_mut(c.add(i * ldc), NR));
                    }
                }
            }
        }
    }
}

/// Scratch for [`attention_gemm`], reused across heads, sequences and layers.
#[derive(Default)]
pub struct AttnScratch {
    kpack: Option<AlignedVec>,
    vpack: Option<AlignedVec>,
    scores: Option<AlignedVec>,
}

/// Self-attention of one sequence, all heads, on the AVX-512 sgemm kernel.
///
/// Same contract as [`attention_head`] for every head at once.
/// Returns false without AVX-512.
#[allow(clippy::too_many_arguments)]
pub fn attention_gemm(
    n: usize,
    heads: usize,
    qkv: &[f32],
    ld: usize,
    kofs: usize,
    vofs: usize,
    out: &mut [f32],
    ldo: usize,
    s: &mut AttnScratch,
    apack: &mut AlignedVec,
) -> bool {
    if isa() != Isa::Avx512 || n == 0 {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let n32 = n.div_ceil(NR) * NR;
        assert!(
            qkv.len() >= (n - 1) * ld + vofs + heads * HEAD_DIM
                && out.len() >= (n - 1) * ldo + heads * HEAD_DIM
        );
        let kpack = s.kpack.get_or_insert_with(|| AlignedVec::zeros(0));
        let vpack = s.vpack.get_or_insert_with(|| AlignedVec::zeros(0));
        let scores = s.scores.get_or_insert_with(|| AlignedVec::zeros(0));
        kpack.resize(n32 * HEAD_DIM);
        vpack.resize(n * HEAD_DIM);
        scores.resize(n * n32);
        apack.resize((mc_for(HEAD_DIM) * HEAD_DIM).max(mc_for(n) * n));
        let scale = 1.0 / (HEAD_DIM as f32).sqrt();
        // Zero bias: the score tile is stored, not accumulated, so no memset.
        let zeros = vec![0.0f32; n32];
        for h in 0..heads {
            let o = h * HEAD_DIM;
            // K as 32-key panels, d-major: the "weights" of S = Q K^T.
            let kp = kpack.as_mut_slice();
            for jb in 0..n32 / NR {
                for d in 0..HEAD_DIM {
                    for l in 0..NR {
                        let j = jb * NR + l;
                        kp[(jb * HEAD_DIM + d) * NR + l] = if j < n {
                            qkv[j * ld + kofs + o + d]
                        } else {
                            0.0
                        };
                    }
                }
            }
            // V rows are already one 32-wide panel of P V.
            let vp = vpack.as_mut_slice();
            for j in 0..n {
                vp[j * HEAD_DIM..(j + 1) * HEAD_DIM]
                    .copy_from_slice(&qkv[j * ld + vofs + o..j * ld + vofs + o + HEAD_DIM]);
            }
            let sc = scores.as_mut_slice();
            // SAFETY: AVX-512 checked above; extents asserted and buffers sized above.
            unsafe {
                avx512::sgemm(
                    n,
                    n32,
                    HEAD_DIM,
                    qkv[o..].as_ptr(),
                    ld,
                    kpack.as_slice().as_ptr(),
                    sc.as_mut_ptr(),
                    n32,
                    apack,
                    Epilogue::Bias(&zeros),
                )
            };
            for i in 0..n {
                softmax_row(&mut sc[i * n32..i * n32 + n], scale);
            }
            // SAFETY: as above; `out[o..]` holds n rows of stride ldo with 32 columns free.
            unsafe {
                avx512::sgemm(
                    n,
                    HEAD_DIM,
                    n,
                    sc.as_ptr(),
                    n32,
                    vpack.as_slice().as_ptr(),
                    out[o..].as_mut_ptr(),
                    ldo,
                    apack,
                    Epilogue::Bias(&zeros[..HEAD_DIM]),
                )
            };
        }
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (heads, qkv, ld, kofs, vofs, out, ldo, s, apack);
        false
    }
}

multiversion! {
    /// softmax(scale * x) over one row, in place.
    pub fn softmax_row(s: &mut [f32], scale: f32) {
        let m = max_lanes(s);
        for v in s.iter_mut() {
            *v = exp((*v - m) * scale);
        }
        let inv = 1.0 / sum_lanes(s);
        for v in s.iter_mut() {
            *v *= inv;
        }
    }
}

/// A growable f32 buffer whose start is 64-byte aligned (whole cache lines for SIMD loads).
pub struct AlignedVec {
    buf: Vec<f32>,
    off: usize,
    len: usize,
}

impl AlignedVec {
    pub fn zeros(len: usize) -> Self {
        let mut v = AlignedVec {
            buf: Vec::new(),
            off: 0,
            len: 0,
        };
        v.resize(len);
        v
    }

    /// Ensures room for `len` values; contents are unspecified after growing.
    pub fn resize(&mut self, len: usize) {
        if len + 16 > self.buf.len() {
            self.buf = vec![0.0; len + 16];
            let addr = self.buf.as_ptr() as usize;
            self.off = ((64 - addr % 64) % 64) / 4;
        }
        self.len = len;
    }

    pub fn as_slice(&self) -> &[f32] {
        &self.buf[self.off..self.off + self.len]
    }

    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.buf[self.off..self.off + self.len]
    }
}

// ---------------------------------------------------------- elementwise

const LANES: usize = 16;

/// Max of a slice; plain compares (scores are never NaN) so it maps to vmaxps.
#[inline(always)]
fn max_lanes(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for ch in chunks {
        for l in 0..LANES {
            acc[l] = if ch[l] > acc[l] { ch[l] } else { acc[l] };
        }
    }
    acc.iter()
        .chain(rest)
        .fold(f32::NEG_INFINITY, |a, &b| if b > a { b } else { a })
}

#[inline(always)]
fn sum_lanes(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for ch in chunks {
        for l in 0..LANES {
            acc[l] += ch[l];
        }
    }
    acc.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

multiversion! {
    /// Layer norm over each `dim`-wide row of `x`, in place.
    pub fn layer_norm(x: &mut [f32], dim: usize, gamma: &[f32], beta: &[f32], eps: f32) {
        let gamma = &gamma[..dim];
        let beta = &beta[..dim];
        for row in x.chunks_exact_mut(dim) {
            let mean = sum_lanes(row) / dim as f32;
            let mut acc = [0.0f32; LANES];
            let chunks = row.chunks_exact(LANES);
            let mut tail = 0.0f32;
            for v in chunks.remainder() {
                tail += (v - mean) * (v - mean);
            }
            for ch in chunks {
                for l in 0..LANES {
                    let d = ch[l] - mean;
                    acc[l] += d * d;
                }
            }
            let var = (acc.iter().sum::<f32>() + tail) / dim as f32;
            let inv = 1.0 / (var + eps).sqrt();
            for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
                *v = (*v - mean) * inv * g + b;
            }
        }
    }
}

multiversion! {
    /// `out = x + bias` row-wise (residual prefill before the output projection).
    pub fn add_rows(out: &mut [f32], x: &[f32], bias: &[f32]) {
        let dim = bias.len();
        for (o, xr) in out.chunks_exact_mut(dim).zip(x.chunks_exact(dim)) {
            for ((o, x), b) in o.iter_mut().zip(xr).zip(bias) {
                *o = x + b;
            }
        }
    }
}

/// erf for f32 (rational approximation used by Eigen and XLA, a few ulp).
#[inline(always)]
fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2.mul_add(-2.726_142_3e-10, 2.770_681_4e-8);
    p = x2.mul_add(p, -2.101_024e-6);
    p = x2.mul_add(p, -5.692_506_4e-5);
    p = x2.mul_add(p, -7.349_906e-4);
    p = x2.mul_add(p, -2.954_600_2e-3);
    p = x2.mul_add(p, -1.609_603_3e-2);
    p *= x;
    let mut q = x2.mul_add(-1.456_607_2e-5, -2.133_740_6e-4);
    q = x2.mul_add(q, -1.682_827e-3);
    q = x2.mul_add(q, -7.373_329e-3);
    q = x2.mul_add(q, -1.426_474e-2);
    p / q
}

/// GELU loop body, inlined into callers compiled for wider vectors.
#[inline(always)]
fn gelu_inline(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = 0.5 * *v * (1.0 + erf(*v * std::f32::consts::FRAC_1_SQRT_2));
    }
}

multiversion! {
    /// Exact-form GELU, `x * (1 + erf(x / sqrt 2)) / 2`, in place.
    pub fn gelu(x: &mut [f32]) {
        gelu_inline(x)
    }
}

/// e^x for f32 (Cephes polynomial, ~1 ulp over the range softmax uses).
#[inline(always)]
fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = n.mul_add(-0.693_359_4, x);
    let r = n.mul_add(2.121_944_4e-4, r);
    let mut p = r.mul_add(1.987_569_1e-4, 1.398_2e-3);
    p = r.mul_add(p, 8.333_452e-3);
    p = r.mul_add(p, 4.166_579_6e-2);
    p = r.mul_add(p, 1.666_666_5e-1);
    p = r.mul_add(p, 0.5);
    let y = (p * r).mul_add(r, r) + 1.0;
    // 2^n via the 1.5*2^23 trick: pure bit ops, so the loop vectorises without cvt fixups.
    let ni = (n + 12_582_912.0).to_bits().wrapping_sub(0x4B40_0000);
    y * f32::from_bits(ni.wrapping_add(127) << 23)
}

/// Head width of all-MiniLM-L6-v2.
pub const HEAD_DIM: usize = 32;

/// Query rows handled together in attention (independent FMA chains, shared K/V loads).
const QR: usize = 8;
/// Keys per score block (two AVX-512 registers per query row).
const KB: usize = 32;

/// Scratch sizes `attention_head` needs for a sequence of `n` tokens: (kt+q, scores).
pub fn attention_scratch(n: usize) -> (usize, usize) {
    let n16 = n.div_ceil(KB) * KB;
    let n8 = n.div_ceil(QR) * QR;
    (HEAD_DIM * n16 + n8 * HEAD_DIM, n8 * n16)
}

multiversion! {
    /// Self-attention of one sequence for one head.
    ///
    /// `qkv` holds `n` rows of stride `ld` with Q, K and V of this head at
    /// offsets 0, `kofs` and `vofs`; the context rows go to `out` (stride `ldo`).
    /// `buf` and `scores` are scratch sized by [`attention_scratch`].
    #[allow(clippy::too_many_arguments)]
    pub fn attention_head(
        n: usize,
        qkv: &[f32],
        ld: usize,
        kofs: usize,
        vofs: usize,
        out: &mut [f32],
        ldo: usize,
        buf: &mut [f32],
        scores: &mut [f32],
    ) {
        let n16 = n.div_ceil(KB) * KB;
        let n8 = n.div_ceil(QR) * QR;
        let (kt, q) = buf.split_at_mut(HEAD_DIM * n16);
        let q = &mut q[..n8 * HEAD_DIM];
        let scores = &mut scores[..n8 * n16];
        // K transposed so a score block is a broadcast-FMA over 16 contiguous keys.
        kt.fill(0.0);
        for j in 0..n {
            let krow = &qkv[j * ld + kofs..j * ld + kofs + HEAD_DIM];
            for (d, v) in krow.iter().enumerate() {
                kt[d * n16 + j] = *v;
            }
        }
        let scale = 1.0 / (HEAD_DIM as f32).sqrt();
        for (i, qrow) in q.chunks_exact_mut(HEAD_DIM).enumerate() {
            for (d, qv) in qrow.iter_mut().enumerate() {
                *qv = if i < n { qkv[i * ld + d] * scale } else { 0.0 };
            }
        }
        // Scores, QR query rows x KB keys per block.
        for i0 in (0..n8).step_by(QR) {
            for jb in (0..n16).step_by(KB) {
                let mut acc = [[0.0f32; KB]; QR];
                for d in 0..HEAD_DIM {
                    let krow: &[f32; KB] = kt[d * n16 + jb..d * n16 + jb + KB].try_into().unwrap_or(&[0.0; KB]);
                    for r in 0..QR {
                        let qd = q[(i0 + r) * HEAD_DIM + d];
                        for l in 0..KB {
                            acc[r][l] = qd.mul_add(krow[l], acc[r][l]);
                        }
                    }
                }
                for r in 0..QR {
                    scores[(i0 + r) * n16 + jb..(i0 + r) * n16 + jb + KB].copy_from_slice(&acc[r]);
                }
            }
        }
        // Softmax per row, normalised in place so the context needs no rescale.
        for i in 0..n {
            let s = &mut scores[i * n16..i * n16 + n];
            let mut mx = [f32::NEG_INFINITY; LANES];
            let chunks = s.chunks_exact(LANES);
            let mut m = chunks.remainder().iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            for ch in chunks {
                for l in 0..LANES {
                    mx[l] = mx[l].max(ch[l]);
                }
            }
            for v in mx {
                m = m.max(v);
            }
            for v in s.iter_mut() {
                *v = exp(*v - m);
            }
            let inv = 1.0 / sum_lanes(s);
            for v in s.iter_mut() {
                *v *= inv;
            }
        }
        // Context = P V, QR rows at a time.
        for i0 in (0..n8).step_by(QR) {
            let mut acc = [[0.0f32; HEAD_DIM]; QR];
            for j in 0..n {
                let vrow: &[f32; HEAD_DIM] =
                    qkv[j * ld + vofs..j * ld + vofs + HEAD_DIM].try_into().unwrap_or(&[0.0; HEAD_DIM]);
                for r in 0..QR {
                    let p = scores[(i0 + r) * n16 + j];
                    for d in 0..HEAD_DIM {
                        acc[r][d] = p.mul_add(vrow[d], acc[r][d]);
                    }
                }
            }
            for (r, ctx) in acc.iter().enumerate().take(n - i0) {
                let i = i0 + r;
                out[i * ldo..i * ldo + HEAD_DIM].copy_from_slice(ctx);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, k: usize, a: &[f32], w: &[f32], c: &mut [f32]) {
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f64;
                for p in 0..k {
                    s += a[i * k + p] as f64 * w[j * k + p] as f64;
                }
                c[i * n + j] += s as f32;
            }
        }
    }

    #[test]
    fn sgemm_matches_naive() {
        for &(m, n, k) in &[(1, 32, 5), (13, 64, 300), (200, 96, 384), (25, 384, 1536)] {
            let a: Vec<f32> = (0..m * k)
                .map(|i| ((i * 7 % 13) as f32 - 6.0) / 7.0)
                .collect();
            let w: Vec<f32> = (0..n * k)
                .map(|i| ((i * 5 % 11) as f32 - 5.0) / 9.0)
                .collect();
            let mut c1: Vec<f32> = (0..m * n).map(|i| i as f32 * 0.01).collect();
            let mut c2 = c1.clone();
            let pw = PackedWeight::new(&w, n, k);
            let mut ap = AlignedVec::zeros(0);
            sgemm_acc(m, &a, k, &pw, &mut c1, n, &mut ap);
            naive(m, n, k, &a, &w, &mut c2);
            for (x, y) in c1.iter().zip(&c2) {
                assert!(
                    (x - y).abs() < 1e-3 * (1.0 + y.abs()),
                    "{m}x{n}x{k}: {x} vs {y}"
                );
            }
        }
    }

    #[test]
    fn sgemm_epilogues_match() {
        let (m, n, k) = (30, 64, 40);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 7.0)
            .collect();
        let w: Vec<f32> = (0..n * k)
            .map(|i| ((i * 5 % 11) as f32 - 5.0) / 9.0)
            .collect();
        let bias: Vec<f32> = (0..n).map(|j| j as f32 * 0.1 - 3.0).collect();
        let pw = PackedWeight::new(&w, n, k);
        let mut ap = AlignedVec::zeros(0);
        let mut want = vec![0.0f32; m * n];
        for r in 0..m {
            want[r * n..(r + 1) * n].copy_from_slice(&bias);
        }
        sgemm_acc(m, &a, k, &pw, &mut want, n, &mut ap);
        let mut got = vec![f32::NAN; m * n];
        sgemm(m, &a, k, &pw, &mut got, n, Epilogue::Bias(&bias), &mut ap);
        assert!(got.iter().zip(&want).all(|(x, y)| (x - y).abs() < 1e-5));
        gelu(&mut want);
        sgemm(
            m,
            &a,
            k,
            &pw,
            &mut got,
            n,
            Epilogue::BiasGelu(&bias),
            &mut ap,
        );
        assert!(got.iter().zip(&want).all(|(x, y)| (x - y).abs() < 1e-5));
    }

    /// erf by its Taylor series in f64, accurate for |x| <= 4.
    fn erf_ref(x: f64) -> f64 {
        let (mut term, mut sum, mut n) = (x, x, 0.0);
        while term.abs() > 1e-17 {
            n += 1.0;
            term *= -x * x / n;
            sum += term / (2.0 * n + 1.0);
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn gelu_and_exp_are_accurate() {
        let xs: Vec<f32> = (-600..=600).map(|i| i as f32 / 100.0).collect();
        let mut g = xs.clone();
        gelu(&mut g);
        for (x, y) in xs.iter().zip(&g) {
            let x64 = *x as f64;
            let want = 0.5 * x64 * (1.0 + erf_ref((x64 / 2f64.sqrt()).clamp(-5.5, 5.5)));
            assert!(
                (*y as f64 - want).abs() < 2e-6 * (1.0 + want.abs()),
                "gelu({x}) = {y}, want {want}"
            );
        }
        for x in (-870..=880).map(|i| i as f32 / 10.0) {
            let (got, want) = (exp(x) as f64, (x as f64).exp());
            assert!(
                (got - want).abs() <= 4e-7 * want,
                "exp({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn layer_norm_normalises() {
        let mut x: Vec<f32> = (0..384 * 2).map(|i| (i % 17) as f32).collect();
        let g = vec![1.0; 384];
        let b = vec![0.0; 384];
        layer_norm(&mut x, 384, &g, &b, 1e-12);
        for row in x.chunks(384) {
            let mean: f32 = row.iter().sum::<f32>() / 384.0;
            let var: f32 = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / 384.0;
            assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4);
        }
    }
}
