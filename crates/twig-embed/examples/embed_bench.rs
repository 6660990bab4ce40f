//! Throughput and latency of `Encoder::embed` on the shared benchmark corpus.
//!
//! cargo run --release --example embed_bench -- [PASSAGES] [--threads N] [--batch N] [--max-batch-tokens N]
//! PASSAGES defaults to bench/embed/passages.txt (written by bench/embed/make_passages.py).

use std::time::Instant;

use twig_embed::{default_model_dir, ensure_model, Encoder, EncoderOptions};

/// User+system CPU seconds of this process (from /proc/self/stat, 100 Hz ticks).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut opts = EncoderOptions {
        threads: 2,
        ..EncoderOptions::default()
    };
    let mut path = format!(
        "{}/../../bench/embed/passages.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut args = std::env::args().skip(1);
    let mut repeat = 1;
    while let Some(a) = args.next() {
        let mut num = || -> Result<usize, Box<dyn std::error::Error>> {
            Ok(args.next().ok_or("missing value")?.parse()?)
        };
        match a.as_str() {
            "--threads" => opts.threads = num()?,
            "--batch" => opts.batch_size = num()?,
            "--max-batch-tokens" => opts.max_batch_tokens = num()?,
            "--repeat" => repeat = num()?,
            _ => path = a,
        }
    }
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!("{path}: {e} (generate it with `python3 bench/embed/make_passages.py`)")
    })?;
    let passages: Vec<&str> = text.lines().collect();
    let files = ensure_model(&default_model_dir())?;
    let t = Instant::now();
    let enc = Encoder::load(&files.dir, opts.clone())?;
    println!(
        "loaded in {:.0} ms; isa {:?}; {:?}",
        t.elapsed().as_secs_f64() * 1e3,
        twig_embed::bench_internals::isa(),
        opts
    );
    let tokens: usize = passages
        .iter()
        .map(|p| enc.count_tokens(p).min(254) + 2)
        .sum();

    enc.embed(&passages[..passages.len().min(64)])?; // warm-up
    for _ in 0..repeat {
        let (t, cpu0) = (Instant::now(), cpu_seconds());
        let out = enc.embed(&passages)?;
        let dt = t.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu0;
        assert_eq!(out.len(), passages.len());
        println!(
            "twig-embed: {} passages ({} tokens) in {:.2}s = {:.1} passages/s ({:.0} tokens/s); \
             {:.1} CPU-s = {:.1} passages per CPU-second",
            passages.len(),
            tokens,
            dt,
            passages.len() as f64 / dt,
            tokens as f64 / dt,
            cpu,
            passages.len() as f64 / cpu
        );
    }

    let q = ["how do I reset my password"];
    for _ in 0..10 {
        enc.embed(&q)?;
    }
    let mut lat: Vec<f64> = (0..200)
        .map(|_| {
            let t = Instant::now();
            let _ = enc.embed(&q);
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    lat.sort_by(|a, b| a.total_cmp(b));
    println!(
        "single short query: median {:.2} ms, p90 {:.2} ms",
        lat[100], lat[180]
    );
    Ok(())
}
