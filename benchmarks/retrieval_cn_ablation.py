"""Ablation of Chinese statute retrieval on STARD lay questions (5-fold cross-validated).

Needs an index of ../shared/data/cn-law (``ipqa index rebuild --source ../shared/data/cn-law``) under
``--index-root`` (default: ``Settings().index_root``). Every learned component is fitted on four
folds and scored on the fifth; the first stage is shared by all rows that do not change it.

    python benchmarks/retrieval_cn_ablation.py [--index-root var/index] [--json out.json]

Prints a Markdown table (R@1/5/10/100, MRR, nDCG@10) for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from indexes.snapshot import open_snapshot  # noqa: E402
from ipqa.settings import Settings  # noqa: E402
from rag.rerank.features import QueryFeatureExtractor  # noqa: E402
from rag.train import CvOptions, cross_validate, first_stage_retriever, load_questions, prepare  # noqa: E402

TITLE_FEATURES = frozenset({"title_overlap", "law_named", "any_law_named"})
ASSOCIATION_FEATURES = frozenset({"assoc_article", "assoc_law"})
PRIOR_FEATURES = frozenset({"article_prior", "law_prior"})
VERSION_FEATURES = frozenset({"newest_version"})

# name -> (first stage: clean query, named-law search), CvOptions overrides
ROWS: list[tuple[str, tuple[bool, bool], dict]] = [
    ("BM25 baseline (raw question, no LTR)", (False, False), {"learned": False}),
    ("+ query clean-up", (True, False), {"learned": False}),
    ("+ named-law search (title field)", (True, True), {"learned": False}),
    ("full: + LTR with association candidates", (True, True), {}),
    ("full − query clean-up", (False, True), {}),
    ("full − named-law search and title features", (True, False), {"drop_features": TITLE_FEATURES}),
    ("full − association candidates", (True, True), {"association_candidates": 0}),
    ("full − association (candidates and features)", (True, True),
     {"association_candidates": 0, "drop_features": ASSOCIATION_FEATURES}),
    ("full − popularity priors", (True, True), {"drop_features": PRIOR_FEATURES}),
    ("full − newest-version feature", (True, True), {"drop_features": VERSION_FEATURES}),
    ("full − version dedupe", (True, True), {"collapse_versions": False}),
]


def main() -> None:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-root", type=Path, default=settings.index_root)
    parser.add_argument("--dataset", type=Path, default=settings.shared_data / "evals" / "stard-train.jsonl")
    parser.add_argument("--candidates", type=int, default=settings.candidates)  # the served depth
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    snapshot = open_snapshot(args.index_root, embedder=None)  # zh questions: the MiniLM embedder serves only en
    started = time.perf_counter()
    questions, unresolved = load_questions(args.dataset, snapshot.store)
    print(f"{len(questions)} questions, {len(unresolved)} unresolved gold names, index {snapshot.version}",
          file=sys.stderr)
    extractor = QueryFeatureExtractor(snapshot.store, snapshot)
    prepared_by_stage = {}
    results = []
    for name, stage, overrides in ROWS:
        if stage not in prepared_by_stage:
            t = time.perf_counter()
            retriever = first_stage_retriever(snapshot, candidates=args.candidates, clean_query=stage[0],
                                              law_boost=stage[1])
            prepared_by_stage[stage] = prepare(questions, retriever, extractor)
            print(f"first stage {stage}: {time.perf_counter() - t:.0f}s", file=sys.stderr)
        t = time.perf_counter()
        result = cross_validate(prepared_by_stage[stage], snapshot.store, extractor,
                                CvOptions(folds=args.folds, **overrides))
        row = result.overall.as_row()
        results.append({"name": name, **row, "folds": [f.as_row() for f in result.folds]})
        print(f"{name}: {row} ({time.perf_counter() - t:.0f}s)", file=sys.stderr)
    snapshot.close()

    print("| configuration | R@1 | R@5 | R@10 | R@100 | MRR | nDCG@10 |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['name']} | {r['R@1']:.3f} | {r['R@5']:.3f} | {r['R@10']:.3f} | {r['R@100']:.3f} | "
              f"{r['MRR']:.3f} | {r['nDCG@10']:.3f} |")
    print(f"\n{len(questions)} questions, {args.folds}-fold CV, {args.candidates} first-stage candidates, "
          f"total {time.perf_counter() - started:.0f}s", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
