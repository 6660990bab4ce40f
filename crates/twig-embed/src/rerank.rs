//! Cross-encoder reranking (ms-marco-MiniLM-L6-v2 shape) on the same BERT forward pass.
//!
//! A cross-encoder reads "[CLS] query [SEP] passage [SEP]" (token types 0 then 1)
//! and maps the [CLS] hidden state through the BERT pooler (dense + tanh) and a
//! one-logit classifier. The logit is the relevance score; higher is better.

use std::path::Path;
use std::sync::Mutex;

use tokenizers::{Tokenizer, TruncationParams, TruncationStrategy};

use crate::encoder::{plan_batches, run_batches};
use crate::model::{self, Bert, Scratch, HIDDEN};
use crate::EmbedError;

/// Hugging Face id of the cross-encoder this module was written for.
pub const RERANK_MODEL_ID: &str = "cross-encoder/ms-marco-MiniLM-L6-v2";

/// Options for [`CrossEncoder::load`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossEncoderOptions {
    /// Tokens per (query, passage) pair including special tokens; longer pairs
    /// are cut, longest side first, as sentence-transformers does (max 512).
    pub max_seq_len: usize,
    /// Worker threads used by one `score` call.
    pub threads: usize,
    /// Most pairs run through the model together.
    pub batch_size: usize,
    /// Most tokens run through the model together (bounds scratch memory).
    pub max_batch_tokens: usize,
}

impl Default for CrossEncoderOptions {
    fn default() -> Self {
        CrossEncoderOptions {
            max_seq_len: 512,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            batch_size: 16,
            max_batch_tokens: 4096,
        }
    }
}

/// A BERT cross-encoder; `Send + Sync`, `score` blocks the calling thread.
pub struct CrossEncoder {
    bert: Bert,
    /// Pooler dense weight, `[out][in]` row-major.
    pooler_w: Vec<f32>,
    pooler_b: Vec<f32>,
    classifier_w: Vec<f32>,
    classifier_b: f32,
    tokenizer: Tokenizer,
    opts: CrossEncoderOptions,
    model_id: String,
    scratch: Mutex<Vec<Scratch>>,
}

fn tok_err(e: impl std::fmt::Display) -> EmbedError {
    EmbedError::Tokenizer(e.to_string())
}

impl CrossEncoder {
    /// Loads a cross-encoder from a directory holding model.safetensors, tokenizer.json and config.json.
    pub fn load(dir: &Path, opts: CrossEncoderOptions) -> Result<CrossEncoder, EmbedError> {
        if !(4..=512).contains(&opts.max_seq_len) {
            return Err(EmbedError::Config(format!(
                "max_seq_len {} is outside 4..=512",
                opts.max_seq_len
            )));
        }
        let config = dir.join("config.json");
        Bert::check_config(&config)?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json")).map_err(tok_err)?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: opts.max_seq_len,
                strategy: TruncationStrategy::LongestFirst,
                ..Default::default()
            }))
            .map_err(tok_err)?;

        let bytes = model::read_file(&dir.join("model.safetensors"))?;
        let st = model::parse_safetensors(&bytes)?;
        // Checkpoints saved by transformers' BertForSequenceClassification prefix the encoder with `bert.`.
        let prefix = if st.names().iter().any(|n| n.starts_with("bert.")) {
            "bert."
        } else {
            ""
        };
        let bert = Bert::from_safetensors(&st, prefix)?;
        let pooler_w = model::tensor(
            &st,
            &format!("{prefix}pooler.dense.weight"),
            &[HIDDEN, HIDDEN],
        )?;
        let pooler_b = model::tensor(&st, &format!("{prefix}pooler.dense.bias"), &[HIDDEN])?;
        let classifier_w = model::tensor(&st, "classifier.weight", &[1, HIDDEN]).map_err(|e| {
            EmbedError::Weights(format!(
                "{e} (a reranker needs a one-logit classification head)"
            ))
        })?;
        let classifier_b = model::tensor(&st, "classifier.bias", &[1])?[0];
        Ok(CrossEncoder {
            bert,
            pooler_w,
            pooler_b,
            classifier_w,
            classifier_b,
            tokenizer,
            opts: CrossEncoderOptions {
                threads: opts.threads.max(1),
                batch_size: opts.batch_size.max(1),
                max_batch_tokens: opts.max_batch_tokens.max(opts.max_seq_len),
                ..opts
            },
            model_id: RERANK_MODEL_ID.into(),
            scratch: Mutex::new(Vec::new()),
        })
    }

    /// Names the loaded weights in metadata when they are not [`RERANK_MODEL_ID`].
    pub fn with_model_id(mut self, id: impl Into<String>) -> Self {
        self.model_id = id.into();
        self
    }

    /// The model's name ([`RERANK_MODEL_ID`] unless set with [`CrossEncoder::with_model_id`]).
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// The options in effect.
    pub fn options(&self) -> &CrossEncoderOptions {
        &self.opts
    }

    /// Relevance logits of `passages` for `query`, in input order (higher is more relevant).
    pub fn score(&self, query: &str, passages: &[&str]) -> Result<Vec<f32>, EmbedError> {
        if passages.is_empty() {
            return Ok(Vec::new());
        }
        let pairs: Vec<(String, String)> = passages
            .iter()
            .map(|p| (query.to_string(), (*p).to_string()))
            .collect();
        let encodings = self.tokenizer.encode_batch(pairs, true).map_err(tok_err)?;
        let ids: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();
        let types: Vec<&[u32]> = encodings.iter().map(|e| e.get_type_ids()).collect();
        let lens: Vec<usize> = ids.iter().map(|q| q.len()).collect();
        let batches = plan_batches(
            &lens,
            self.opts.threads,
            self.opts.batch_size,
            self.opts.max_batch_tokens,
        );
        let results = run_batches(
            &batches,
            self.opts.threads,
            &self.scratch,
            |batch, scratch| {
                let seqs: Vec<&[u32]> = batch.iter().map(|&i| ids[i]).collect();
                let tys: Vec<&[u32]> = batch.iter().map(|&i| types[i]).collect();
                self.bert.forward(&seqs, Some(&tys), scratch);
                let hidden = scratch.hidden();
                let mut start = 0;
                let mut out = Vec::with_capacity(seqs.len());
                for seq in &seqs {
                    out.push(self.head(&hidden[start * HIDDEN..(start + 1) * HIDDEN]));
                    start += seq.len();
                }
                out
            },
        )?;
        let mut scores = vec![0.0f32; passages.len()];
        for (b, flat) in results {
            for (&i, &s) in batches[b].iter().zip(&flat) {
                scores[i] = s;
            }
        }
        Ok(scores)
    }

    /// Pooler (dense + tanh on the [CLS] state) then the classifier, in f64 for a stable sum.
    fn head(&self, cls: &[f32]) -> f32 {
        let mut logit = self.classifier_b as f64;
        for (o, row) in self.pooler_w.chunks_exact(HIDDEN).enumerate() {
            let z: f64 = row
                .iter()
                .zip(cls)
                .map(|(w, x)| (*w as f64) * (*x as f64))
                .sum::<f64>()
                + self.pooler_b[o] as f64;
            logit += z.tanh() * self.classifier_w[o] as f64;
        }
        logit as f32
    }
}

impl twig_core::llm::Reranker for CrossEncoder {
    fn model_id(&self) -> &str {
        CrossEncoder::model_id(self)
    }

    fn score(&self, query: &str, passages: &[&str]) -> anyhow::Result<Vec<f32>> {
        Ok(CrossEncoder::score(self, query, passages)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_encoder_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<CrossEncoder>();
    }
}
