//! The public embedding API: tokenisation, length-sorted batching, threads.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use tokenizers::{Tokenizer, TruncationParams};

use crate::fetch::ModelFiles;
use crate::model::{Bert, Scratch};
use crate::{EmbedError, MODEL_ID};

/// Options for [`Encoder::load`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncoderOptions {
    /// Tokens per input including `[CLS]` and `[SEP]`; longer inputs are truncated (max 512).
    pub max_seq_len: usize,
    /// Worker threads used by one `embed` call.
    pub threads: usize,
    /// Most inputs run through the model together.
    pub batch_size: usize,
    /// Most tokens run through the model together (bounds scratch memory).
    pub max_batch_tokens: usize,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        EncoderOptions {
            max_seq_len: 256,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            // Throughput per core was flat from 8 to 64 inputs (~117 tokens each)
            // per batch; 16 / 2048 tokens keeps scratch near 30 MB per thread.
            batch_size: 16,
            max_batch_tokens: 2048,
        }
    }
}

/// all-MiniLM-L6-v2 sentence encoder; `Send + Sync`, `embed` blocks the calling thread.
pub struct Encoder {
    bert: Bert,
    /// No truncation or padding: for counting and cutting text.
    tokenizer: Tokenizer,
    /// Truncates at `max_seq_len`; padding is unnecessary because batches are packed.
    model_tokenizer: Tokenizer,
    opts: EncoderOptions,
    scratch: Mutex<Vec<Scratch>>,
}

fn tok_err(e: impl std::fmt::Display) -> EmbedError {
    EmbedError::Tokenizer(e.to_string())
}

impl Encoder {
    /// Loads the model from a directory holding model.safetensors, tokenizer.json and config.json.
    pub fn load(dir: &Path, opts: EncoderOptions) -> Result<Encoder, EmbedError> {
        let files = ModelFiles {
            dir: dir.to_path_buf(),
            weights: dir.join("model.safetensors"),
            tokenizer: dir.join("tokenizer.json"),
            config: dir.join("config.json"),
        };
        Self::load_files(&files, opts)
    }

    /// Loads the model from explicit file paths (e.g. from [`crate::ensure_model`]).
    pub fn load_files(files: &ModelFiles, opts: EncoderOptions) -> Result<Encoder, EmbedError> {
        if !(2..=512).contains(&opts.max_seq_len) {
            return Err(EmbedError::Config(format!(
                "max_seq_len {} is outside 2..=512",
                opts.max_seq_len
            )));
        }
        Bert::check_config(&files.config)?;
        let mut tokenizer = Tokenizer::from_file(&files.tokenizer).map_err(tok_err)?;
        // The shipped tokenizer.json pads and truncates to 128; undo both.
        tokenizer.with_truncation(None).map_err(tok_err)?;
        tokenizer.with_padding(None);
        let mut model_tokenizer = tokenizer.clone();
        model_tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: opts.max_seq_len,
                ..Default::default()
            }))
            .map_err(tok_err)?;
        let bert = Bert::load(&files.weights)?;
        let opts = EncoderOptions {
            threads: opts.threads.max(1),
            batch_size: opts.batch_size.max(1),
            max_batch_tokens: opts.max_batch_tokens.max(opts.max_seq_len),
            ..opts
        };
        Ok(Encoder {
            bert,
            tokenizer,
            model_tokenizer,
            opts,
            scratch: Mutex::new(Vec::new()),
        })
    }

    /// Embedding width (384).
    pub fn dim(&self) -> usize {
        self.bert.dim()
    }

    /// Hugging Face id of the model.
    pub fn model_id(&self) -> &'static str {
        MODEL_ID
    }

    /// The options in effect.
    pub fn options(&self) -> &EncoderOptions {
        &self.opts
    }

    /// The model's tokenizer with truncation and padding disabled.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Number of tokens in `text`, without `[CLS]`/`[SEP]` and without truncation.
    pub fn count_tokens(&self, text: &str) -> usize {
        self.tokenizer
            .encode(text, false)
            .map(|e| e.len())
            .unwrap_or(0)
    }

    /// Byte ranges of the tokens of `text` (no special tokens, no truncation).
    pub fn token_offsets(&self, text: &str) -> Vec<(usize, usize)> {
        self.tokenizer
            .encode(text, false)
            .map(|e| e.get_offsets().to_vec())
            .unwrap_or_default()
    }

    /// Embeds `texts` into L2-normalised vectors, in input order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = if texts.len() == 1 {
            vec![self
                .model_tokenizer
                .encode(texts[0], true)
                .map_err(tok_err)?]
        } else {
            self.model_tokenizer
                .encode_batch(texts.to_vec(), true)
                .map_err(tok_err)?
        };
        let ids: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();

        let lens: Vec<usize> = ids.iter().map(|q| q.len()).collect();
        let batches = plan_batches(
            &lens,
            self.opts.threads,
            self.opts.batch_size,
            self.opts.max_batch_tokens,
        );
        let dim = self.dim();
        let results = run_batches(
            &batches,
            self.opts.threads,
            &self.scratch,
            |batch, scratch| {
                let seqs: Vec<&[u32]> = batch.iter().map(|&i| ids[i]).collect();
                let mut out = vec![0.0f32; seqs.len() * dim];
                self.bert.embed_packed(&seqs, scratch, &mut out);
                out
            },
        )?;

        let mut out = vec![Vec::new(); texts.len()];
        for (b, flat) in results {
            for (&i, v) in batches[b].iter().zip(flat.chunks_exact(dim)) {
                out[i] = v.to_vec();
            }
        }
        Ok(out)
    }
}

/// Groups input indices into batches: longest first, so similar lengths share a
/// batch and big batches start early; at most `batch_size` inputs (fewer when
/// that leaves threads idle) and `max_batch_tokens` tokens per batch.
pub(crate) fn plan_batches(
    lens: &[usize],
    threads: usize,
    batch_size: usize,
    max_batch_tokens: usize,
) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lens[i]));
    let per_thread = lens.len().div_ceil(threads.max(1));
    let batch_size = batch_size.min(per_thread).max(1);
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    let mut cur_tokens = 0;
    for &i in &order {
        let n = lens[i];
        if !cur.is_empty() && (cur.len() == batch_size || cur_tokens + n > max_batch_tokens) {
            batches.push(std::mem::take(&mut cur));
            cur_tokens = 0;
        }
        cur.push(i);
        cur_tokens += n;
    }
    batches.push(cur);
    batches
}

/// Runs `work` over every batch on up to `threads` scoped threads, each with a
/// scratch from `pool`; returns (batch index, output) pairs in no set order.
pub(crate) fn run_batches<F>(
    batches: &[Vec<usize>],
    threads: usize,
    pool: &Mutex<Vec<Scratch>>,
    work: F,
) -> Result<Vec<(usize, Vec<f32>)>, EmbedError>
where
    F: Fn(&[usize], &mut Scratch) -> Vec<f32> + Sync,
{
    let next = AtomicUsize::new(0);
    let run = || -> Vec<(usize, Vec<f32>)> {
        let mut scratch = pool
            .lock()
            .map(|mut p| p.pop())
            .unwrap_or(None)
            .unwrap_or_default();
        let mut done = Vec::new();
        loop {
            let b = next.fetch_add(1, Ordering::Relaxed);
            let Some(batch) = batches.get(b) else { break };
            done.push((b, work(batch, &mut scratch)));
        }
        if let Ok(mut p) = pool.lock() {
            p.push(scratch);
        }
        done
    };
    let workers = threads.min(batches.len());
    let mut results = Vec::with_capacity(batches.len());
    if workers <= 1 {
        results.extend(run());
    } else {
        std::thread::scope(|scope| -> Result<(), EmbedError> {
            let handles: Vec<_> = (1..workers).map(|_| scope.spawn(run)).collect();
            results.extend(run());
            for h in handles {
                results.extend(
                    h.join()
                        .map_err(|_| EmbedError::Worker("worker thread panicked".into()))?,
                );
            }
            Ok(())
        })?;
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoder_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Encoder>();
    }
}
