"""Time to encode one English query (and small batches) with the embedder's torch path and its
ONNX Runtime path, and how far apart their vectors are.

    python benchmarks/query_encoding.py [--embedder minilm] [--threads 1] [--repeats 60]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
QUERIES = [
    "Is making and selling a patented invention without authority infringement under 35 U.S.C. 271?",
    "What may be patented under section 101?",
    "filter assembly with a rotating scraper",
    "When is an invention not novel because of prior public use?",
    "What remedies are available for trademark infringement under the Lanham Act?",
    "Who owns copyright in a work made for hire?",
    "a method of wireless communication comprising transmitting a signal",
    "What is the term of a patent?",
]


def per_query_ms(encode, batch: int, repeats: int) -> float:
    encode(QUERIES[:batch])  # warm-up
    started = time.perf_counter()
    for i in range(repeats):
        encode([QUERIES[(i + j) % len(QUERIES)] for j in range(batch)])
    return (time.perf_counter() - started) * 1000 / (repeats * batch)


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--threads", type=int, default=1, help="torch / ONNX Runtime intra-op threads")
    parser.add_argument("--repeats", type=int, default=60)
    args = parser.parse_args()
    import numpy as np

    from indexes.embedder import create_embedder
    from ipqa.runtime import configure_torch

    configure_torch(args.threads)
    torch_embedder = create_embedder(args.embedder, device="cpu", query_runtime="torch")
    started = time.perf_counter()
    onnx_embedder = create_embedder(args.embedder, device="cpu", query_runtime="onnx")
    onnx_embedder.encode_query(["warm-up"])  # export + session + equivalence check
    setup_s = time.perf_counter() - started
    difference = float(np.abs(torch_embedder.encode_query(QUERIES) - onnx_embedder.encode_query(QUERIES)).max())
    print(f"embedder {args.embedder}, {args.threads} thread(s); ONNX set-up (load, export, check) {setup_s:.1f} s; "
          f"max |torch - onnx| over {len(QUERIES)} queries: {difference:.1e}")
    print("| batch | torch ms/query | onnx ms/query |")
    print("|---|---|---|")
    for batch in (1, 4, 8):
        print(f"| {batch} | {per_query_ms(torch_embedder.encode_query, batch, args.repeats // batch + 1):.2f} | "
              f"{per_query_ms(onnx_embedder.encode_query, batch, args.repeats // batch + 1):.2f} |")


if __name__ == "__main__":
    main()
