"""Do dense rankings change when documents (and queries) are encoded by a faster embed runtime?

    python benchmarks/runtime_agreement.py --root /tmp/speed-full/index \
        [--dataset ../shared/data/evals/ip-qa-dev.jsonl] [--runtimes torch-bf16,onnx-int8]

Reads the English chunk vectors each runtime left in the index's embedding cache (build the index
once per runtime with ``IPQA_EMBED_RUNTIME=...``), encodes the dataset's English questions with fp32
torch and with each runtime, and compares every (query runtime, document runtime) pair's top-10
over all English chunks with the fp32/fp32 top-10: mean overlap@10 and how many questions keep the
same first hit. Dense retrieval only (no BM25, no reranker): the most sensitive view.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="an index root (with current and cache/)")
    parser.add_argument("--dataset", type=Path, default=Path("../shared/data/evals/ip-qa-dev.jsonl"))
    parser.add_argument("--runtimes", default="torch-bf16,onnx-int8")
    args = parser.parse_args()
    import numpy as np

    from indexes.embedder import create_embedder
    from indexes.embedding_cache import EmbeddingCache
    from ipqa.ids import content_hash

    version = (args.root / "current").read_text(encoding="utf-8").strip()
    store = sqlite3.connect(f"file:{args.root / 'versions' / version / 'store.sqlite'}?mode=ro", uri=True)
    texts = [row[0] for row in store.execute("SELECT index_text FROM chunks WHERE language = 'en' ORDER BY int_id")]
    hashes = [content_hash(text) for text in texts]
    questions = [json.loads(line)["question"] for line in args.dataset.read_text(encoding="utf-8").splitlines()
                 if line.strip() and json.loads(line).get("language") == "en"]
    cache = EmbeddingCache(args.root / "cache" / "embeddings.sqlite")
    runtimes = ["torch", *[r for r in args.runtimes.split(",") if r != "torch"]]
    documents, queries = {}, {}
    for runtime in runtimes:
        embedder = create_embedder("minilm", device="cpu", document_runtime=runtime)
        found = cache.get_many(embedder.document_vectors_name, hashes)
        if len(found) < len(hashes):
            print(f"{runtime}: only {len(found)} of {len(hashes)} English vectors cached under "
                  f"{embedder.document_vectors_name!r}; build the index with IPQA_EMBED_RUNTIME={runtime}")
            continue
        documents[runtime] = np.vstack([found[h] for h in hashes])
        queries[runtime] = embedder.encode_document(questions)  # MiniLM: no prompts, a query is encoded alike
    top = {}
    for q_runtime in documents:
        for d_runtime in documents:
            scores = queries[q_runtime] @ documents[d_runtime].T
            top[q_runtime, d_runtime] = np.argsort(-scores, axis=1)[:, :10]
    reference = top["torch", "torch"]
    print(f"{len(questions)} English questions of {args.dataset.name}, {len(texts)} English chunks, dense top-10")
    print("| queries | documents | mean overlap@10 with fp32/fp32 | same first hit |")
    print("|---|---|---|---|")
    for (q_runtime, d_runtime), ranked in top.items():
        overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ranked, reference)])
        same_first = int(np.sum(ranked[:, 0] == reference[:, 0]))
        print(f"| {q_runtime} | {d_runtime} | {overlap:.3f} | {same_first}/{len(questions)} |")


if __name__ == "__main__":
    main()
