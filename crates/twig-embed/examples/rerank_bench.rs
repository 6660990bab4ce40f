//! Latency of `CrossEncoder::score` for one query and 50 passages of ~200 tokens
//! (what the cypress strategy reranks per query).
//!
//! cargo run --release --example rerank_bench -- [--model-dir DIR] [--write-standin DIR] [--threads N] [--passages N]
//!
//! Without `--model-dir`, the cross-encoder weights (not obtainable offline) are
//! replaced by a stand-in of the same shape: the all-MiniLM-L6-v2 encoder and
//! pooler plus a fixed classifier. Speed is identical (same shapes, same
//! kernels); the scores are meaningless. `--write-standin DIR` keeps that
//! stand-in so `twig bench retrieval` can exercise the rerank path with it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use safetensors::{tensor::TensorView, Dtype, SafeTensors};
use twig_embed::{default_model_dir, ensure_model, CrossEncoder, CrossEncoderOptions};

fn write_standin(dest: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let files = ensure_model(&default_model_dir())?;
    let bytes = std::fs::read(&files.weights)?;
    let st = SafeTensors::deserialize(&bytes)?;
    let cw: Vec<u8> = (0..384)
        .flat_map(|i| ((i as f32 * 0.37).sin()).to_le_bytes())
        .collect();
    let cb = 0.0f32.to_le_bytes();
    let mut tensors: Vec<(String, TensorView<'_>)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (format!("bert.{n}"), v))
        .collect();
    tensors.push((
        "classifier.weight".into(),
        TensorView::new(Dtype::F32, vec![1, 384], &cw)?,
    ));
    tensors.push((
        "classifier.bias".into(),
        TensorView::new(Dtype::F32, vec![1], &cb)?,
    ));
    std::fs::create_dir_all(dest)?;
    std::fs::write(
        dest.join("model.safetensors"),
        safetensors::serialize(tensors, None)?,
    )?;
    std::fs::copy(&files.tokenizer, dest.join("tokenizer.json"))?;
    std::fs::copy(&files.config, dest.join("config.json"))?;
    Ok(())
}

/// Deterministic English-like passages of about `words` words.
fn passages(n: usize, words: usize) -> Vec<String> {
    const VOCAB: [&str; 24] = [
        "vitamin",
        "bone",
        "density",
        "patients",
        "trial",
        "increased",
        "reduced",
        "risk",
        "cells",
        "protein",
        "expression",
        "mice",
        "significant",
        "results",
        "study",
        "the",
        "of",
        "and",
        "in",
        "with",
        "treatment",
        "levels",
        "after",
        "observed",
    ];
    (0..n)
        .map(|p| {
            (0..words)
                .map(|w| VOCAB[(p * 7 + w * 13 + w * w) % VOCAB.len()])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut opts = CrossEncoderOptions {
        threads: 2,
        ..Default::default()
    };
    let mut model_dir: Option<PathBuf> = None;
    let mut standin_out: Option<PathBuf> = None;
    let mut n = 50;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or("missing value");
        match a.as_str() {
            "--model-dir" => model_dir = Some(val()?.into()),
            "--write-standin" => standin_out = Some(val()?.into()),
            "--threads" => opts.threads = val()?.parse()?,
            "--passages" => n = val()?.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let tmp = tempfile::tempdir()?;
    let (dir, label) = match model_dir {
        Some(d) => (d, "given weights"),
        None => {
            let d = standin_out.unwrap_or_else(|| tmp.path().join("standin"));
            write_standin(&d)?;
            (d, "same-shape stand-in weights")
        }
    };
    let ce = CrossEncoder::load(&dir, opts.clone())?;
    let query = "does vitamin D supplementation increase bone density in older patients";
    let texts = passages(n, 185);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let enc = ce_tokens(&dir, query, &refs)?;
    ce.score(query, &refs)?; // warm-up: scratch buffers, page faults
    let mut ms: Vec<f64> = (0..10)
        .map(|_| {
            let t = Instant::now();
            ce.score(query, &refs)
                .map(|_| t.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<Result<_, _>>()?;
    ms.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{n} passages, {enc:.0} tokens per pair on average, {} threads, {label}: \
         p50 {:.0} ms, min {:.0} ms, max {:.0} ms per query ({:.0} pairs/s)",
        opts.threads,
        ms[ms.len() / 2],
        ms[0],
        ms[ms.len() - 1],
        n as f64 / (ms[ms.len() / 2] / 1e3)
    );
    Ok(())
}

/// Mean tokens per (query, passage) pair, special tokens included.
fn ce_tokens(
    dir: &Path,
    query: &str,
    passages: &[&str],
) -> Result<f64, Box<dyn std::error::Error>> {
    let mut tok =
        tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).map_err(|e| e.to_string())?;
    // Count real tokens: some shipped tokenizer.json files pad and truncate to 128.
    tok.with_padding(None);
    tok.with_truncation(None).map_err(|e| e.to_string())?;
    let q = tok.encode(query, false).map_err(|e| e.to_string())?.len();
    let mut total = 0;
    for p in passages {
        total += (q + tok.encode(*p, false).map_err(|e| e.to_string())?.len() + 3).min(512);
    }
    Ok(total as f64 / passages.len() as f64)
}
