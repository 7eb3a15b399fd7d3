"""Dense index kinds compared: build time, query latency and recall@10 against exact search.

    python benchmarks/dense_index.py [--n 20000] [--dimension 384] [--queries 200]

Vectors are random unit vectors made to cluster a little (documents near 200 random centres), the
size of the English part of the corpus embedded by MiniLM (us-law + patents: ~15k chunks, 384-d).
Random vectors are a hard case for approximate indexes, so recall here is a lower bound.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def clustered_unit_vectors(n: int, dimension: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((200, dimension)).astype(np.float32)
    vectors = centres[rng.integers(0, 200, n)] + 0.8 * rng.standard_normal((n, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def main() -> None:
    from indexes.dense import KINDS, DenseIndex

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()

    vectors = clustered_unit_vectors(args.n, args.dimension, seed=0)
    queries = clustered_unit_vectors(args.queries, args.dimension, seed=1)
    ids = np.arange(args.n, dtype=np.int64) * 3 + 11
    allowed = ids[::3]  # a filter allowing a third of the corpus (> 4,096 ids: the selector path)
    truth = truth_filtered = None
    print(f"{args.n} vectors x {args.dimension}, {args.queries} queries, k=10; filter allows {len(allowed)} ids")
    print(f"{'kind':<6} {'build s':>8} {'ms/query':>9} {'recall@10':>10} {'filtered ms/q':>14} {'filtered recall':>16}")
    for kind in KINDS:
        start = time.perf_counter()
        index = DenseIndex.build(ids, vectors, kind=kind, use_gpu=False)
        build_s = time.perf_counter() - start
        start = time.perf_counter()
        _, found = index.search(queries, 10)
        search_ms = 1000 * (time.perf_counter() - start) / args.queries
        start = time.perf_counter()
        _, found_filtered = index.search(queries, 10, allowed_ids=allowed)
        filtered_ms = 1000 * (time.perf_counter() - start) / args.queries
        if truth is None:  # flat comes first: it is the exact answer
            truth, truth_filtered = found, found_filtered
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)])
        recall_filtered = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found_filtered, truth_filtered)])
        print(f"{kind:<6} {build_s:8.2f} {search_ms:9.2f} {recall:10.3f} {filtered_ms:14.2f} {recall_filtered:16.3f}")


if __name__ == "__main__":
    main()
