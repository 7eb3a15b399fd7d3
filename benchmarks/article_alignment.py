"""Article alignment across the versions of every multi-version law in the index: coverage, the
relations found, time; and the stratified sample that was hand-checked for precision.

    IPQA_DATA_DIR=/path python benchmarks/article_alignment.py [--json]
    IPQA_DATA_DIR=/path python benchmarks/article_alignment.py --sample-out sample.jsonl [--seed 13]
    IPQA_DATA_DIR=/path python benchmarks/article_alignment.py --checked tests/data/article_alignment_checked.jsonl

The sample over-weights the hard cases (low-similarity amendments, moves, splits, merges) against the
identical articles that make up most links, so its precision is a pessimistic estimate; the script also
prints the estimate weighted back to the relations' real shares.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# stratum -> how many pairs the hand-check sample takes from it
STRATA = {"amended <0.5": 30, "amended 0.5-0.8": 25, "amended >=0.8": 10, "same, renumbered": 12,
          "same, same number": 8, "moved": 15, "split": 10, "merged": 8}


def stratum(relation: str, similarity: float, renumbered: bool) -> str:
    if relation == "amended":
        return "amended <0.5" if similarity < 0.5 else "amended 0.5-0.8" if similarity < 0.8 else "amended >=0.8"
    if relation == "same":
        return "same, renumbered" if renumbered else "same, same number"
    return relation


def law_groups(store: Any) -> list[list[Any]]:
    """Every law with at least two dated versions, its versions oldest first (copies of one version
    taking effect the same day counted once, as a history shows them: ``rag.history.distinct_in_time``)."""
    from rag.history import distinct_in_time

    seen: set[str] = set()
    groups = []
    total = store.count_documents()
    for offset in range(0, total, 500):
        for document in store.documents(offset=offset, limit=500):
            if document.id in seen or document.metadata.get("effective") is None:
                continue
            versions = store.law_versions(document)
            seen.update(v.id for v in versions)
            versions = distinct_in_time(versions)
            if len(versions) > 1:
                groups.append(versions)
    return groups


def pairs_of_all_laws(store: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from rag.history import LawHistory, unit_label

    history = LawHistory(store)
    groups = law_groups(store)
    rows: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    old_articles = new_articles = 0
    started = time.perf_counter()
    for versions in groups:
        for old, new in zip(versions, versions[1:]):
            a, b = history.article_chunks(old), history.article_chunks(new)
            old_articles += len(a)
            new_articles += len(b)
            for link in history.alignment(old, new):
                counts[link.relation.value] += 1
                counts["renumbered"] += link.renumbered
                if link.old is None or link.new is None:
                    continue
                rows.append({"law": old.title, "book": old.metadata.get("book"), "old_version": old.version,
                             "new_version": new.version, "old_label": unit_label(a[link.old]),
                             "new_label": unit_label(b[link.new]), "relation": link.relation.value,
                             "similarity": round(link.similarity, 3), "renumbered": link.renumbered,
                             "old_text": a[link.old].text, "new_text": b[link.new].text})
    seconds = time.perf_counter() - started
    linked_old = len({(r["law"], r["old_version"], r["old_label"]) for r in rows})
    linked_new = len({(r["law"], r["new_version"], r["new_label"]) for r in rows})
    summary = {"laws": len(groups), "version_pairs": sum(len(g) - 1 for g in groups),
               "old_articles": old_articles, "new_articles": new_articles,
               "old_linked": linked_old, "new_linked": linked_new,
               "coverage_old": round(linked_old / max(old_articles, 1), 4),
               "coverage_new": round(linked_new / max(new_articles, 1), 4),
               "relations": dict(counts), "seconds": round(seconds, 2)}
    return rows, summary


def sample(rows: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    by_stratum: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_stratum[stratum(row["relation"], row["similarity"], row["renumbered"])].append(row)
    chosen = []
    for name, n in STRATA.items():
        pool = by_stratum.get(name, [])
        chosen += [{**row, "stratum": name} for row in rng.sample(pool, min(n, len(pool)))]
    return chosen


def precision(rows: list[dict[str, Any]], checked: list[dict[str, Any]]) -> dict[str, Any]:
    """Precision of the checked sample, per stratum, and weighted by the strata's shares of all links."""
    key = lambda r: (r["law"], r["old_version"], r["new_version"], r["old_label"], r["new_label"])  # noqa: E731
    produced = {key(r) for r in rows}
    shares = Counter(stratum(r["relation"], r["similarity"], r["renumbered"]) for r in rows)
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for item in checked:
        still = key(item) in produced
        verdict = item["verdict"] if still else "no longer produced"
        per[item["stratum"]][verdict] += 1
    strata = {}
    weighted = 0.0
    for name, verdicts in per.items():
        judged = verdicts["correct"] + verdicts["wrong"]
        p = verdicts["correct"] / judged if judged else None
        strata[name] = {**verdicts, "precision": None if p is None else round(p, 4), "share_of_links":
                        round(shares[name] / max(len(rows), 1), 4)}
        if p is not None:
            weighted += p * shares[name] / max(len(rows), 1)
    judged = sum(v["correct"] + v["wrong"] for v in per.values())
    correct = sum(v["correct"] for v in per.values())
    return {"checked": len(checked), "judged": judged, "correct": correct,
            "precision": round(correct / judged, 4) if judged else None,
            "weighted_precision": round(weighted / max(sum(s["share_of_links"] for n, s in strata.items()
                                                          if s["precision"] is not None), 1e-9), 4),
            "strata": strata}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample-out", type=Path)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--checked", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from ipqa.settings import Settings
    from rag.compose import open_index

    with open_index(Settings(), one_shot=True) as snapshot:
        rows, summary = pairs_of_all_laws(snapshot.store)
    if args.sample_out:
        with args.sample_out.open("w", encoding="utf-8") as f:
            for row in sample(rows, args.seed):
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    if args.checked:
        from ipqa.jsonl import read_jsonl

        summary["hand_check"] = precision(rows, [item for _, _, item in read_jsonl(args.checked)])
    print(json.dumps(summary, ensure_ascii=False, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
