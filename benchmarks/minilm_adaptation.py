"""Would adapting the bundled English MiniLM on legal pairs from the corpus help? (issue 10, "English")

Fine-tunes a copy of all-MiniLM-L6-v2 in memory with in-batch negatives (multiple-negatives ranking loss)
on pairs the indexed English corpus provides — nothing from any question set:

* a U.S. Code section's heading line -> its text;
* each lettered subsection -> the rest of its section (inverse cloze);
* a patent's first claims -> its abstract;

then compares dense-only retrieval over the indexed U.S. Code sections, the bundled model (the anchor)
against the adapted one after each epoch, on the English questions whose gold is such a section: the
English IP training questions (``rag/data/ip_questions.jsonl``) and ip-qa-dev's English half. Nothing
is saved: it measured whether building ``ipqa train embedder --language en`` was worth it (it was: the
pairs are now ``indexes.transformer_training.english_pairs``, and the command trains one epoch).

    IPQA_DATA_DIR=/path python benchmarks/minilm_adaptation.py [--epochs 2] [--lr 2e-5] [--json]

About 10 minutes an epoch on 2 CPU cores (~2,200 pairs, batch 32, sequences up to 256 tokens).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HAN = re.compile(r"[\u4e00-\u9fff]")


def evaluate(model: Any, sections: list[Any], keys: list[str], question_sets: dict[str, list[Any]]) -> dict:
    """Dense-only R@10 and MRR over the sections, per question set (gold outside the sections ignored)."""
    import numpy as np

    from ipqa.metrics import mean_metrics

    documents = model.encode([c.text for c in sections], batch_size=32, normalize_embeddings=True,
                             convert_to_numpy=True)
    out = {}
    for name, questions in question_sets.items():
        queries = model.encode([q.question for q in questions], batch_size=32, normalize_embeddings=True,
                               convert_to_numpy=True)
        scores = queries @ documents.T
        runs = [([keys[j] for j in np.argsort(-scores[row])], set(question.gold) & set(keys))
                for row, question in enumerate(questions)]
        summary = mean_metrics(runs, ks=(10,), ndcg_ks=())
        out[name] = {"n": summary.questions, "R@10": round(summary.recall[10], 3), "MRR": round(summary.mrr, 3)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import losses

    from indexes.embedder import minilm_model_dir
    from indexes.snapshot import open_snapshot
    from indexes.transformer_training import english_pairs
    from ipqa.settings import Settings
    from rag.rerank.features import unit_key_of
    from rag.train import load_questions

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    settings = Settings()
    snapshot = open_snapshot(settings.index_root, embedder=None)
    try:
        ids, _, languages = snapshot.store.index_rows()
        chunks = list(snapshot.store.chunks_by_int_ids(
            int(i) for i, language in zip(ids, languages) if language == "en").values())
        sections = [c for c in chunks if c.unit == "section" and "U.S.C." in c.citation]
        keys = [unit_key_of(c) for c in sections]
        pairs = [(p.query, p.positive) for p in english_pairs(
            (c.document_id, c.citation, c.unit, c.text) for c in chunks)]  # what `ipqa train embedder --language en` learns from
        question_sets = {}
        for name, path in (("IP training questions (en)", ROOT / "rag" / "data" / "ip_questions.jsonl"),
                           ("ip-qa-dev (en)", settings.shared_data / "evals" / "ip-qa-dev.jsonl")):
            found, _ = load_questions(path, snapshot.store)
            question_sets[name] = [q for q in found if not HAN.search(q.question) and set(q.gold) & set(keys)]
    finally:
        snapshot.close()
    results: dict[str, Any] = {"sections": len(sections), "pairs": len(pairs), "epochs": {}}
    print(f"{len(sections)} sections, {len(pairs)} pairs", file=sys.stderr)
    anchor = SentenceTransformer(str(minilm_model_dir()), device="cpu")
    results["bundled MiniLM"] = evaluate(anchor, sections, keys, question_sets)
    print(f"bundled: {results['bundled MiniLM']}", file=sys.stderr)

    model = SentenceTransformer(str(minilm_model_dir()), device="cpu")
    model.max_seq_length = 256
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    loss_of = losses.MultipleNegativesRankingLoss(model)  # in-batch negatives, cosine x 20

    for epoch in range(1, args.epochs + 1):
        started = time.monotonic()
        model.train()
        random.shuffle(pairs)
        for start in range(0, len(pairs), args.batch):
            batch = pairs[start:start + args.batch]
            features = [model.preprocess([a for a, _ in batch]), model.preprocess([b for _, b in batch])]
            loss = loss_of(features, torch.arange(len(batch)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            figures = evaluate(model, sections, keys, question_sets)
        results["epochs"][epoch] = {"seconds": round(time.monotonic() - started), **figures}
        print(f"epoch {epoch}: {results['epochs'][epoch]}", file=sys.stderr)
    print(json.dumps(results, indent=1) if args.json else
          "\n".join(f"{name}: {figures}" for name, figures in results.items()))


if __name__ == "__main__":
    main()
