//! Exact-scan latency on random 384-d vectors (one org, 10 data sources):
//! `cargo run --release --example vector_bench -- 10000 100000 1000000`

use std::error::Error;
use std::time::{Duration, Instant};

use rand::{rngs::StdRng, Rng, SeedableRng};
use twig_index::vector::Kernel;
use twig_index::{VectorIndex, VectorRecord};

const DIM: usize = 384;
const QUERIES: usize = 30;

fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() -> Result<(), Box<dyn Error>> {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000, 1_000_000]
    } else {
        sizes
    };
    println!("detected kernel: {:?}", Kernel::detect());
    for n in sizes {
        let mut rng = StdRng::seed_from_u64(42);
        let mut idx = VectorIndex::with_options(DIM, Kernel::detect(), 2)?;
        let t = Instant::now();
        let records = (0..n).map(|i| VectorRecord {
            chunk_id: format!("c{i}"),
            doc_id: format!("d{}", i / 4),
            org_id: "org".into(),
            data_source_id: format!("ds{}", i % 10),
            vector: (0..DIM).map(|_| rng.gen_range(-1.0f32..1.0)).collect(),
        });
        idx.load(records)?;
        println!("n={n}: load {:.2?}", t.elapsed());
        let queries: Vec<Vec<f32>> = (0..QUERIES)
            .map(|_| (0..DIM).map(|_| rng.gen_range(-1.0f32..1.0)).collect())
            .collect();
        let one_ds = ["ds3".to_string()];
        for kernel in [Kernel::Avx512, Kernel::Avx2Fma, Kernel::Scalar] {
            for threads in [1, 2] {
                idx.set_search_options(kernel, threads);
                if idx.kernel() != kernel {
                    continue;
                }
                for (label, filter) in [("no filter", None), ("1 of 10 ds", Some(&one_ds[..]))] {
                    let mut times = Vec::new();
                    for q in &queries {
                        let t = Instant::now();
                        let hits = idx.search("org", filter, q, 10)?;
                        times.push(t.elapsed());
                        assert_eq!(hits.len(), 10);
                    }
                    println!(
                        "  {kernel:?} threads={threads} {label:>10}: p50 {:>9.2?}  p95 {:>9.2?}",
                        percentile(times.clone(), 0.5),
                        percentile(times, 0.95)
                    );
                }
            }
        }
    }
    Ok(())
}
