"""End-to-end latency of `search` (hybrid retrieval) and extractive `ask` (retrieval, question type,
prompt, extractive generation, citation verification) over the current index, in one process.

    python benchmarks/search.py                       # index under $IPQA_DATA_DIR (default var/)
    python benchmarks/search.py --queries 100 --index-root var/index --json

Queries: the questions of scripts/make_examples.py plus the first STARD questions of
../shared/data/evals/stard-train.jsonl (real lay questions on Chinese law). Each stage is warmed up
once (model loading, jieba's dictionary, the type classifier) before timing. Target: search p50 ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50), 1),
        "p99_ms": round(percentile(values, 99), 1),
        "mean_ms": round(statistics.fmean(values), 1),
        "max_ms": round(max(values), 1),
    }


def torch_threads() -> int | None:
    """torch's intra-op thread count now (None when torch was never imported)."""
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else None


def load_queries(shared_data: Path, n: int) -> list[str]:
    from make_examples import QUESTIONS

    queries = [q for q, _ in QUESTIONS]
    stard = shared_data / "evals" / "stard-train.jsonl"
    if stard.is_file():
        with stard.open(encoding="utf-8") as f:
            for line in f:
                if len(queries) >= n:
                    break
                queries.append(json.loads(line)["question"])
    return queries[:n]


class _GcPauses:
    """Durations of the garbage collector's runs (``gc.callbacks``) per generation."""

    def __init__(self) -> None:
        import gc

        self._gc = gc
        self._started = 0.0
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append((time.perf_counter() - self._started) * 1000)

    def stop(self) -> None:
        self._gc.callbacks.remove(self._callback)

    def summary(self) -> dict[str, dict[str, float]]:
        return {f"gen{g}": {"count": len(p), "total_ms": round(sum(p), 1), "max_ms": round(max(p, default=0.0), 1)}
                for g, p in self.pauses.items()}


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=60, help="How many queries (default 60).")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--index-root", type=Path, default=None)
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    parser.add_argument("--no-settle-heap", action="store_true",
                        help="Skip ipqa.runtime.settle_heap() after loading (the API does it; this shows why).")
    parser.add_argument(
        "--torch-threads",
        default=None,
        help="torch intra-op threads: N, or 'default' for torch's own (one per core); default: "
        "Settings.torch_threads (IPQA_TORCH_THREADS, 1), applied at start-up as the API does.",
    )
    args = parser.parse_args(argv)

    from ipqa.runtime import configure_torch
    from ipqa.settings import Settings
    from rag.compose import build_answerer, build_retriever, open_index
    from rag.prompts import question_language

    settings = Settings()
    update: dict[str, object] = {"generator": "extractive"}
    if args.torch_threads is not None:  # validated like IPQA_TORCH_THREADS
        update["torch_threads"] = Settings.model_validate({"torch_threads": args.torch_threads}).torch_threads
    settings = settings.model_copy(update=update)
    queries = load_queries(settings.shared_data, args.queries)
    configure_torch(settings.torch_threads)  # as the API does: a serving process, not a one-shot command
    with open_index(settings, index_root=args.index_root) as snapshot:
        retriever = build_retriever(settings, snapshot)
        answerer = build_answerer(settings, snapshot, retriever=retriever)
        # Warm-up, one Chinese and one English query: embedder, BM25, jieba, the type classifier.
        for query in {queries[0], next((q for q in queries if question_language(q) == "en"), queries[-1])}:
            retriever.retrieve(query, args.k)
            answerer.answer(query, k=args.k)
        if not args.no_settle_heap:
            from ipqa.runtime import settle_heap

            settle_heap()  # as the API does after loading
        pauses = _GcPauses()
        search_ms, ask_ms = [], []
        stages: dict[str, list[float]] = {}
        abstained = 0
        for query in queries:
            start = time.perf_counter()
            retriever.retrieve(query, args.k)
            search_ms.append((time.perf_counter() - start) * 1000)
        for query in queries:
            start = time.perf_counter()
            answer = answerer.answer(query, k=args.k)
            ask_ms.append((time.perf_counter() - start) * 1000)
            abstained += answer.abstained
            for name, value in answer.timings.items():
                stages.setdefault(name, []).append(value)
        # English queries also pay for the dense query embedding (Chinese ones use BM25 only by default)
        english = [question_language(q) == "en" for q in queries]
        by_language = {
            lang: {
                "search": summary([t for t, en in zip(search_ms, english) if en == (lang == "en")]),
                "ask_extractive": summary([t for t, en in zip(ask_ms, english) if en == (lang == "en")]),
            }
            for lang in ("zh", "en")
            if any(en == (lang == "en") for en in english)
        }
        pauses.stop()
        result = {
            "gc_pauses_ms": pauses.summary(),
            "index_version": snapshot.version,
            "chunks": snapshot.store.count_chunks(),
            "k": args.k,
            "torch_threads": torch_threads(),
            "search": summary(search_ms),
            "ask_extractive": summary(ask_ms),
            "by_language": by_language,
            "ask_stage_p50_ms": {name: round(percentile(v, 50), 1) for name, v in stages.items()},
            "ask_abstained": abstained,
        }
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(
            f"index {result['index_version']} ({result['chunks']} chunks), {len(queries)} queries, k={args.k}"
        )
        rows = [("all", result)] + list(by_language.items())
        for lang, figures in rows:
            for name in ("search", "ask_extractive"):
                s = figures[name]
                print(
                    f"{lang:>3} {name:>15} (n={s['n']}): p50 {s['p50_ms']} ms  p99 {s['p99_ms']} ms  "
                    f"mean {s['mean_ms']} ms  max {s['max_ms']} ms"
                )
        print("ask stages p50:", ", ".join(f"{k} {v}" for k, v in result["ask_stage_p50_ms"].items()))
        print(f"abstained: {abstained}/{len(queries)}")
        print("garbage-collection pauses while timing:", result["gc_pauses_ms"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
