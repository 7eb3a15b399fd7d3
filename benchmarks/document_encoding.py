"""Document-encoding throughput of each embed runtime on a fixed sample of real English chunks, and
how far each runtime's vectors are from fp32 torch's.

    python benchmarks/document_encoding.py --store /work/var-full/index/versions/<v>/store.sqlite \
        [--sample 1000] [--seed 10] [--runtimes torch,torch-bf16,onnx-int8] [--batch-size 64]

The sample: ``--sample`` chunks drawn with ``--seed`` from the store's English chunks (the texts an
index build embeds, ``index_text``), fed to ``encode_document`` in build order, 256 at a time as
``indexes.build`` does. Reports wall and process CPU seconds (the box is shared: CPU seconds are
steadier than wall time under load), chunks per second, and the cosine of each vector to fp32's.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BUILD_BATCH = 256  # indexes.build.EMBED_BATCH: texts per encode_document call


def sample_chunks(store: Path, size: int, seed: int) -> list[str]:
    import numpy as np

    connection = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        texts = [row[0] for row in connection.execute(
            "SELECT index_text FROM chunks WHERE language = 'en' ORDER BY int_id")]
    finally:
        connection.close()
    if len(texts) < size:
        raise SystemExit(f"{store}: only {len(texts)} English chunks, asked for {size}")
    picked = np.sort(np.random.default_rng(seed).choice(len(texts), size, replace=False))
    return [texts[i] for i in picked]


def encode_all(embedder, texts: list[str], *, length_sorted: bool):
    import numpy as np

    order = sorted(range(len(texts)), key=lambda i: -len(texts[i])) if length_sorted else list(range(len(texts)))
    out = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    for start in range(0, len(order), BUILD_BATCH):
        rows = order[start:start + BUILD_BATCH]
        out[rows] = embedder.encode_document([texts[i] for i in rows])
    return out


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True, help="an index version's store.sqlite")
    parser.add_argument("--sample", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--runtimes", default="torch,torch-bf16,onnx-int8")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--reference", type=Path,
                        help="a .npy of the fp32 vectors of this sample: read if it exists (torch is not "
                             "timed again), else written")
    parser.add_argument("--unsorted", action="store_true",
                        help="feed chunks in store order (before this change) instead of longest first")
    args = parser.parse_args()
    import numpy as np

    from indexes.embedder import create_embedder

    texts = sample_chunks(args.store, args.sample, args.seed)
    print(f"{len(texts)} English chunks (seed {args.seed}) from {args.store}; batch size {args.batch_size}; "
          f"{'store order' if args.unsorted else 'longest first'}; load average {os.getloadavg()}")
    print("| runtime | wall s | CPU s | chunks/s (wall) | chunks per CPU-s | cosine to fp32: min / 1st pct / mean | load |")
    print("|---|---|---|---|---|---|---|")
    reference = np.load(args.reference) if args.reference and args.reference.is_file() else None
    runtimes = [r for r in args.runtimes.split(",") if r != "torch"]
    for runtime in (runtimes if reference is not None else ["torch", *runtimes]):
        embedder = create_embedder(args.embedder, device="cpu", batch_size=args.batch_size, document_runtime=runtime)
        embedder.encode_document(["warm-up"])  # runtime chosen, exported and checked before timing
        load = os.getloadavg()[0]
        wall, cpu = time.perf_counter(), time.process_time()
        vectors = encode_all(embedder, texts, length_sorted=not args.unsorted)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if reference is None:
            reference = vectors
            if args.reference:
                np.save(args.reference, vectors)
        cosine = np.sum(vectors * reference, axis=1)
        print(f"| {embedder.document_runtime} | {wall:.1f} | {cpu:.1f} | {len(texts) / wall:.1f} | {len(texts) / cpu:.1f} | "
              f"{cosine.min():.5f} / {np.percentile(cosine, 1):.5f} / {cosine.mean():.5f} | {load:.1f} |", flush=True)


if __name__ == "__main__":
    main()
