//! BERT weights and the forward pass over packed (unpadded) sequences.

use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use crate::kernels::{self, AlignedVec, Epilogue, PackedWeight, HEAD_DIM};
use crate::EmbedError;

pub(crate) const HIDDEN: usize = 384;
const HEADS: usize = 12;
const INTER: usize = 1536;
const LAYERS: usize = 6;
const MAX_POS: usize = 512;
const LN_EPS: f32 = 1e-12;

struct Layer {
    qkv: PackedWeight,
    qkv_b: Vec<f32>,
    out: PackedWeight,
    out_b: Vec<f32>,
    ln1_g: Vec<f32>,
    ln1_b: Vec<f32>,
    inter: PackedWeight,
    inter_b: Vec<f32>,
    down: PackedWeight,
    down_b: Vec<f32>,
    ln2_g: Vec<f32>,
    ln2_b: Vec<f32>,
}

/// BERT encoder weights (MiniLM-L6-H384 shape), prepacked for the sgemm kernel.
pub struct Bert {
    word: Vec<f32>,
    pos: Vec<f32>,
    /// Rows for token type 0 and 1 (the second segment of a pair).
    token_type: Vec<f32>,
    emb_ln_g: Vec<f32>,
    emb_ln_b: Vec<f32>,
    layers: Vec<Layer>,
    vocab: usize,
}

/// Per-thread buffers, grown on demand and reused across batches and layers.
#[derive(Default)]
pub struct Scratch {
    hidden: Vec<f32>,
    tmp: Vec<f32>,
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    inter: Vec<f32>,
    kt: Vec<f32>,
    scores: Vec<f32>,
    apack: Option<AlignedVec>,
    attn: kernels::AttnScratch,
}

impl Scratch {
    /// Hidden states left by the last [`Bert::forward`] (and more, past its tokens).
    pub(crate) fn hidden(&self) -> &[f32] {
        &self.hidden
    }
}

fn grow(v: &mut Vec<f32>, len: usize) {
    if v.len() < len {
        v.resize(len, 0.0);
    }
}

impl Bert {
    /// Checks `config.json` describes the architecture this forward pass implements.
    pub fn check_config(path: &Path) -> Result<(), EmbedError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| EmbedError::io(format!("reading {}", path.display()), e))?;
        let cfg: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| EmbedError::Config(e.to_string()))?;
        let expect = [
            ("hidden_size", HIDDEN),
            ("num_attention_heads", HEADS),
            ("intermediate_size", INTER),
            ("num_hidden_layers", LAYERS),
        ];
        for (key, want) in expect {
            let got = cfg.get(key).and_then(|v| v.as_u64());
            if got != Some(want as u64) {
                return Err(EmbedError::Config(format!(
                    "{key} is {got:?}, expected {want}"
                )));
            }
        }
        let act = cfg.get("hidden_act").and_then(|v| v.as_str());
        if act != Some("gelu") {
            return Err(EmbedError::Config(format!(
                "hidden_act is {act:?}, expected \"gelu\""
            )));
        }
        Ok(())
    }

    /// Loads and prepacks the weights from a safetensors file.
    pub fn load(path: &Path) -> Result<Bert, EmbedError> {
        let bytes = read_file(path)?;
        let st = parse_safetensors(&bytes)?;
        Self::from_safetensors(&st, "")
    }

    /// Loads the encoder from tensors whose names start with `prefix` (e.g. `bert.`).
    pub fn from_safetensors(st: &SafeTensors<'_>, prefix: &str) -> Result<Bert, EmbedError> {
        let get = |name: &str, shape: &[usize]| tensor(st, &format!("{prefix}{name}"), shape);
        let word_name = format!("{prefix}embeddings.word_embeddings.weight");
        let word_shape = st
            .tensor(&word_name)
            .map_err(|e| EmbedError::Weights(format!("{word_name}: {e}")))?
            .shape()
            .to_vec();
        let vocab = word_shape.first().copied().unwrap_or(0);
        let word = get("embeddings.word_embeddings.weight", &[vocab, HIDDEN])?;
        let pos = get("embeddings.position_embeddings.weight", &[MAX_POS, HIDDEN])?;
        let tt = get("embeddings.token_type_embeddings.weight", &[2, HIDDEN])?;
        let mut layers = Vec::with_capacity(LAYERS);
        for l in 0..LAYERS {
            let p = format!("encoder.layer.{l}.");
            let w = |s: &str, shape: &[usize]| get(&format!("{p}{s}"), shape);
            let mut qkv_w = w("attention.self.query.weight", &[HIDDEN, HIDDEN])?;
            qkv_w.extend(w("attention.self.key.weight", &[HIDDEN, HIDDEN])?);
            qkv_w.extend(w("attention.self.value.weight", &[HIDDEN, HIDDEN])?);
            let mut qkv_b = w("attention.self.query.bias", &[HIDDEN])?;
            qkv_b.extend(w("attention.self.key.bias", &[HIDDEN])?);
            qkv_b.extend(w("attention.self.value.bias", &[HIDDEN])?);
            layers.push(Layer {
                qkv: PackedWeight::new(&qkv_w, 3 * HIDDEN, HIDDEN),
                qkv_b,
                out: PackedWeight::new(
                    &w("attention.output.dense.weight", &[HIDDEN, HIDDEN])?,
                    HIDDEN,
                    HIDDEN,
                ),
                out_b: w("attention.output.dense.bias", &[HIDDEN])?,
                ln1_g: w("attention.output.LayerNorm.weight", &[HIDDEN])?,
                ln1_b: w("attention.output.LayerNorm.bias", &[HIDDEN])?,
                inter: PackedWeight::new(
                    &w("intermediate.dense.weight", &[INTER, HIDDEN])?,
                    INTER,
                    HIDDEN,
                ),
                inter_b: w("intermediate.dense.bias", &[INTER])?,
                down: PackedWeight::new(
                    &w("output.dense.weight", &[HIDDEN, INTER])?,
                    HIDDEN,
                    INTER,
                ),
                down_b: w("output.dense.bias", &[HIDDEN])?,
                ln2_g: w("output.LayerNorm.weight", &[HIDDEN])?,
                ln2_b: w("output.LayerNorm.bias", &[HIDDEN])?,
            });
        }
        Ok(Bert {
            word,
            pos,
            token_type: tt,
            emb_ln_g: get("embeddings.LayerNorm.weight", &[HIDDEN])?,
            emb_ln_b: get("embeddings.LayerNorm.bias", &[HIDDEN])?,
            layers,
            vocab,
        })
    }

    /// Width of the hidden states and embeddings.
    pub fn dim(&self) -> usize {
        HIDDEN
    }

    /// Embeds sequences of token ids (each with [CLS]/[SEP], at most 512 long),
    /// writing one mean-pooled, L2-normalised vector per sequence into `out`.
    pub fn embed_packed(&self, seqs: &[&[u32]], s: &mut Scratch, out: &mut [f32]) {
        self.forward(seqs, None, s);
        // Mean pooling over every token (the mask covers [CLS] and [SEP] too), then L2.
        let mut start = 0;
        for (seq, dst) in seqs.iter().zip(out.chunks_exact_mut(HIDDEN)) {
            let n = seq.len();
            dst.fill(0.0);
            for r in start..start + n {
                for (o, v) in dst.iter_mut().zip(&s.hidden[r * HIDDEN..(r + 1) * HIDDEN]) {
                    *o += v;
                }
            }
            let inv_n = 1.0 / n.max(1) as f32;
            let norm = dst
                .iter()
                .map(|v| (v * inv_n) * (v * inv_n))
                .sum::<f32>()
                .sqrt()
                .max(1e-12);
            for o in dst.iter_mut() {
                *o = *o * inv_n / norm;
            }
            start += n;
        }
    }

    /// Runs the encoder over packed sequences, leaving the last hidden states of
    /// all tokens, in order, at the start of `s.hidden` (`HIDDEN` floats per token).
    /// `types` gives token type ids per sequence (0 or 1); `None` means all 0.
    pub fn forward(&self, seqs: &[&[u32]], types: Option<&[&[u32]]>, s: &mut Scratch) {
        let total: usize = seqs.iter().map(|q| q.len()).sum();
        let t = total;
        grow(&mut s.hidden, t * HIDDEN);
        grow(&mut s.tmp, t * HIDDEN);
        grow(&mut s.qkv, t * 3 * HIDDEN);
        grow(&mut s.ctx, t * HIDDEN);
        grow(&mut s.inter, t * INTER);
        let longest = seqs.iter().map(|q| q.len()).max().unwrap_or(0);
        let (buf_len, scores_len) = kernels::attention_scratch(longest);
        grow(&mut s.kt, buf_len);
        grow(&mut s.scores, scores_len);
        let apack = s.apack.get_or_insert_with(|| AlignedVec::zeros(0));

        // Embeddings: word + position + token type, then layer norm.
        let mut row = 0;
        for (i, seq) in seqs.iter().enumerate() {
            let seq_types = types.and_then(|t| t.get(i));
            for (p, &id) in seq.iter().enumerate() {
                let id = (id as usize).min(self.vocab - 1);
                let ty = seq_types
                    .and_then(|t| t.get(p))
                    .map_or(0, |&t| (t as usize).min(1));
                let w = &self.word[id * HIDDEN..(id + 1) * HIDDEN];
                let pe = &self.pos[p * HIDDEN..(p + 1) * HIDDEN];
                let te = &self.token_type[ty * HIDDEN..(ty + 1) * HIDDEN];
                let h = &mut s.hidden[row * HIDDEN..(row + 1) * HIDDEN];
                for d in 0..HIDDEN {
                    h[d] = w[d] + pe[d] + te[d];
                }
                row += 1;
            }
        }
        let hidden_len = t * HIDDEN;
        kernels::layer_norm(
            &mut s.hidden[..hidden_len],
            HIDDEN,
            &self.emb_ln_g,
            &self.emb_ln_b,
            LN_EPS,
        );

        for layer in &self.layers {
            let qkv = &mut s.qkv[..t * 3 * HIDDEN];
            kernels::sgemm(
                t,
                &s.hidden,
                HIDDEN,
                &layer.qkv,
                qkv,
                3 * HIDDEN,
                Epilogue::Bias(&layer.qkv_b),
                apack,
            );

            // Attention runs per sequence, so packing needs no mask.
            let mut start = 0;
            for seq in seqs {
                let n = seq.len();
                let q = &s.qkv[start * 3 * HIDDEN..(start + n) * 3 * HIDDEN];
                let c = &mut s.ctx[start * HIDDEN..(start + n) * HIDDEN];
                let fast = kernels::attention_gemm(
                    n,
                    HEADS,
                    q,
                    3 * HIDDEN,
                    HIDDEN,
                    2 * HIDDEN,
                    c,
                    HIDDEN,
                    &mut s.attn,
                    apack,
                );
                for h in (0..HEADS).filter(|_| !fast) {
                    let o = h * HEAD_DIM;
                    kernels::attention_head(
                        n,
                        &q[o..],
                        3 * HIDDEN,
                        HIDDEN,
                        2 * HIDDEN,
                        &mut c[o..],
                        HIDDEN,
                        &mut s.kt,
                        &mut s.scores,
                    );
                }
                start += n;
            }

            let tmp = &mut s.tmp[..hidden_len];
            kernels::add_rows(tmp, &s.hidden[..hidden_len], &layer.out_b);
            kernels::sgemm_acc(t, &s.ctx, HIDDEN, &layer.out, tmp, HIDDEN, apack);
            kernels::layer_norm(tmp, HIDDEN, &layer.ln1_g, &layer.ln1_b, LN_EPS);
            std::mem::swap(&mut s.hidden, &mut s.tmp);

            let inter = &mut s.inter[..t * INTER];
            kernels::sgemm(
                t,
                &s.hidden,
                HIDDEN,
                &layer.inter,
                inter,
                INTER,
                Epilogue::BiasGelu(&layer.inter_b),
                apack,
            );

            let tmp = &mut s.tmp[..hidden_len];
            kernels::add_rows(tmp, &s.hidden[..hidden_len], &layer.down_b);
            kernels::sgemm_acc(t, &s.inter, INTER, &layer.down, tmp, HIDDEN, apack);
            kernels::layer_norm(tmp, HIDDEN, &layer.ln2_g, &layer.ln2_b, LN_EPS);
            std::mem::swap(&mut s.hidden, &mut s.tmp);
        }
    }
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, EmbedError> {
    std::fs::read(path).map_err(|e| EmbedError::io(format!("reading {}", path.display()), e))
}

pub(crate) fn parse_safetensors(bytes: &[u8]) -> Result<SafeTensors<'_>, EmbedError> {
    SafeTensors::deserialize(bytes).map_err(|e| EmbedError::Weights(e.to_string()))
}

/// One F32 tensor of exactly `shape`, copied out of the file.
pub(crate) fn tensor(
    st: &SafeTensors<'_>,
    name: &str,
    shape: &[usize],
) -> Result<Vec<f32>, EmbedError> {
    let t = st
        .tensor(name)
        .map_err(|e| EmbedError::Weights(format!("{name}: {e}")))?;
    if t.dtype() != Dtype::F32 || t.shape() != shape {
        return Err(EmbedError::Weights(format!(
            "{name}: expected F32 {shape:?}, found {:?} {:?}",
            t.dtype(),
            t.shape()
        )));
    }
    Ok(t.data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}
