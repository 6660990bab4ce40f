"""Reference cross-encoder scores for tests/fixtures/rerank_reference.json.

No cross-encoder weights (or PyTorch) could be had on the machine this was written
on, so the reference is an independent float64 NumPy BERT forward pass over a
cross-encoder assembled from the all-MiniLM-L6-v2 encoder and pooler plus a seeded
random one-logit classifier (stored in the fixture). It checks the Rust pass
(token types, pair truncation, pooler, classifier) and not the trained weights.

Usage: python3 bench/make_rerank_reference.py EMBED_MODEL_DIR  (pip install numpy tokenizers safetensors)
"""
import json
import math
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

model_dir = Path(sys.argv[1])
w = {k: v.astype(np.float64) for k, v in load_file(str(model_dir / "model.safetensors")).items()}
rng = np.random.default_rng(20261130)
cls_w = rng.normal(0.0, 1.0, 384).round(6)
cls_b = 0.25

tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
tok.no_padding()
tok.enable_truncation(512, strategy="longest_first")

erf = np.vectorize(math.erf)


def ln(x, g, b, eps=1e-12):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def lin(x, name):
    return x @ w[name + ".weight"].T + w[name + ".bias"]


def encode(ids, types):
    n = len(ids)
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n]
    x = x + w["embeddings.token_type_embeddings.weight"][types]
    x = ln(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    for l in range(6):
        p = f"encoder.layer.{l}."
        q = lin(x, p + "attention.self.query").reshape(n, 12, 32).transpose(1, 0, 2)
        k = lin(x, p + "attention.self.key").reshape(n, 12, 32).transpose(1, 0, 2)
        v = lin(x, p + "attention.self.value").reshape(n, 12, 32).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(32)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(n, 384)
        x = ln(x + lin(ctx, p + "attention.output.dense"),
               w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
        h = lin(x, p + "intermediate.dense")
        h = 0.5 * h * (1.0 + erf(h / math.sqrt(2.0)))
        x = ln(x + lin(h, p + "output.dense"), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
    return x


def score(ids, types):
    pooled = np.tanh(lin(encode(ids, types)[0], "pooler.dense"))
    return float(pooled @ cls_w + cls_b)


# Self-check: mean pooling over this forward pass must reproduce the
# sentence-transformers embeddings pinned in reference.json.
ref = json.loads((Path(__file__).resolve().parent.parent / "tests/fixtures/reference.json").read_text())
single = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
single.no_padding()
single.enable_truncation(256)
for item in ref["items"][:3]:
    enc = single.encode(item["text"])
    e = encode(enc.ids, enc.type_ids).mean(0)
    e /= np.linalg.norm(e)
    diff = np.abs(e - np.array(item["embedding"])).max()
    assert diff < 1e-5, diff
    print("self-check vs sentence-transformers: max abs diff", diff, file=sys.stderr)


query = "How do I reset my password?"
long_passage = " ".join(
    f"Section {i}: the account settings page lists security options, recovery codes and sessions."
    for i in range(60)
)
passages = [
    "To reset your password, open Settings, choose Security and click Reset password.",
    "The tide comes in at noon and goes out at six.",
    "Password resets are emailed within five minutes; check your spam folder.",
    "",
    long_passage,
    "Café crème: naïve 東京 tokenisation!",
]
items = []
for p in passages:
    enc = tok.encode(query, p)
    items.append({"passage": p, "tokens": len(enc.ids), "score": score(enc.ids, enc.type_ids)})
    print(items[-1]["tokens"], items[-1]["score"], file=sys.stderr)

out = Path(__file__).resolve().parent.parent / "tests/fixtures/rerank_reference.json"
out.write_text(json.dumps({
    "note": "float64 NumPy BERT cross-encoder over all-MiniLM-L6-v2 + seeded classifier; see bench/make_rerank_reference.py",
    "query": query,
    "classifier_weight": cls_w.tolist(),
    "classifier_bias": cls_b,
    "items": items,
}, indent=1))
