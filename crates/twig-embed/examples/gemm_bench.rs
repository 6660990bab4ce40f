//! Single-thread sgemm GFLOP/s at the encoder's shapes: own AVX-512 kernel vs `gemm` vs `matrixmultiply`.
//!
//! cargo run --release --example gemm_bench -- [M]   (M = tokens per batch, default 1872 = 16 x 117)

use std::time::Instant;

use twig_embed::bench_internals::{sgemm_acc, AlignedVec, PackedWeight};

fn time(mut f: impl FnMut(), flops: f64) -> f64 {
    f();
    let mut best = f64::MAX;
    for _ in 0..25 {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    flops / best / 1e9
}

fn main() {
    let m: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1872);
    println!("isa {:?}, M = {m}", twig_embed::bench_internals::isa());
    for (n, k, what) in [
        (1152, 384, "qkv"),
        (384, 384, "attn out"),
        (1536, 384, "ffn up"),
        (384, 1536, "ffn down"),
    ] {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 17) as f32 * 0.01).collect();
        let w: Vec<f32> = (0..n * k).map(|i| (i % 13) as f32 * 0.01).collect();
        let mut c = vec![0.0f32; m * n];
        let flops = 2.0 * (m * n * k) as f64;
        let pw = PackedWeight::new(&w, n, k);
        let mut ap = AlignedVec::zeros(0);
        let own = time(|| sgemm_acc(m, &a, k, &pw, &mut c, n, &mut ap), flops);
        let mm = time(
            || unsafe {
                matrixmultiply::sgemm(
                    m,
                    k,
                    n,
                    1.0,
                    a.as_ptr(),
                    k as isize,
                    1,
                    w.as_ptr(),
                    1,
                    k as isize,
                    1.0,
                    c.as_mut_ptr(),
                    n as isize,
                    1,
                )
            },
            flops,
        );
        println!("{what:>9} {m}x{n}x{k}: own {own:6.1}  matrixmultiply {mm:6.1} GFLOP/s");
    }
}
