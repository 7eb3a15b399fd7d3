"""Precision and recall of "supported" for the lexical support judge, with and without its polarity
checks (negation, modal flips, numbers, swapped parties), on the hand-written pairs set
``tests/fixtures/support/support_pairs.jsonl``.

    python benchmarks/support_judge.py [--pairs PATH] [--threshold 0.3] [--json] [--verbatim-from FILE...]

A pair counts as "supported" when the judge's score reaches the verifier's threshold (default 0.3,
``CitationVerifier``'s). Prints, for each judge, precision/recall/F1 of "supported" and the share of
each category marked supported (verbatim and paraphrase should be high; negated, number, party and
unrelated low), overall and per language, plus the time per pair. ``--verbatim-from`` also parses
the given corpus files and reports how many of their own sentences (the first six of each chunk,
judged against the chunk) the polarity checks wrongly call contradicted: the false alarms on real
statute text that a hand-written set cannot show.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DEFAULT_PAIRS = REPO / "tests" / "fixtures" / "support" / "support_pairs.jsonl"
CATEGORIES = ("verbatim", "paraphrase", "negated", "number", "party", "unrelated")


def load_pairs(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate(judge, pairs: list[dict], threshold: float) -> dict:
    """Scores every pair; returns precision/recall of "supported" and per-category supported rates."""
    tp = fp = fn = 0
    by_category: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # category -> [supported, total]
    by_language: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # "zh/negated" -> ...
    misses: list[dict] = []
    started = time.perf_counter()
    for pair in pairs:
        score = judge.support(pair["statement"], pair["evidence"])
        predicted = score >= threshold
        expected = bool(pair["supported"])
        tp += predicted and expected
        fp += predicted and not expected
        fn += expected and not predicted
        for table, key in ((by_category, pair["category"]), (by_language, f"{pair['language']}/{pair['category']}")):
            table[key][0] += predicted
            table[key][1] += 1
        if predicted != expected:
            misses.append({"id": pair["id"], "score": round(score, 3)})
    elapsed = time.perf_counter() - started
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"pairs": len(pairs), "precision": precision, "recall": recall, "f1": f1,
            "supported_rate": {k: v[0] / v[1] for k, v in sorted(by_category.items())},
            "counts": {k: v for k, v in sorted(by_category.items())},
            "supported_rate_by_language": {k: v[0] / v[1] for k, v in sorted(by_language.items())},
            "ms_per_pair": 1000 * elapsed / max(1, len(pairs)), "misses": misses}


def verbatim_false_alarms(judge, files: list[Path], *, per_chunk: int = 6) -> dict:
    """Sentences of real chunks judged against their own chunk: any conflict found is a false alarm."""
    from ingest.pipeline import parse_file
    from rag.sentences import sentence_spans

    sentences = flagged = 0
    examples: list[str] = []
    for path in files:
        for document in parse_file(path, max_file_bytes=1 << 30):
            for chunk in document.chunks:
                for start, end in sentence_spans(chunk.text, min_chars=6)[:per_chunk]:
                    sentences += 1
                    conflict = judge.conflict(chunk.text[start:end], chunk.text)
                    if conflict is not None:
                        flagged += 1
                        examples.append(f"{chunk.citation}: {conflict.detail}")
    return {"sentences": sentences, "flagged": flagged, "examples": examples[:10]}


def markdown(results: dict[str, dict]) -> str:
    lines = ["| judge | precision | recall | F1 | " + " | ".join(f"{c} supported" for c in CATEGORIES) + " | ms/pair |",
             "|---|---:|---:|---:|" + "---:|" * len(CATEGORIES) + "---:|"]
    for name, r in results.items():
        rates = [f"{r['supported_rate'].get(c, 0.0):.0%} ({r['counts'].get(c, [0, 0])[0]}/{r['counts'].get(c, [0, 0])[1]})"
                 for c in CATEGORIES]
        lines.append(f"| {name} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | " + " | ".join(rates)
                     + f" | {r['ms_per_pair']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=DEFAULT_PAIRS)
    parser.add_argument("--threshold", type=float, default=0.3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--verbatim-from", type=Path, nargs="*", default=[],
                        help="corpus files whose own sentences must not be called contradicted")
    args = parser.parse_args(argv)

    from rag.judges import LexicalJudge

    pairs = load_pairs(args.pairs)
    judges = {"lexical, coverage only (before)": LexicalJudge(check_polarity=False),
              "lexical + polarity checks (after)": LexicalJudge()}
    for judge in judges.values():  # load jieba's dictionary outside the timing
        judge.support("预热", "预热")
    results = {name: evaluate(judge, pairs, args.threshold) for name, judge in judges.items()}
    alarms = verbatim_false_alarms(judges["lexical + polarity checks (after)"], args.verbatim_from) \
        if args.verbatim_from else None
    if args.json:
        print(json.dumps({"pairs": results, "verbatim_false_alarms": alarms}, ensure_ascii=False, indent=2))
    else:
        print(f"{len(pairs)} pairs from {args.pairs.relative_to(REPO) if args.pairs.is_relative_to(REPO) else args.pairs}, "
              f"threshold {args.threshold}\n")
        print(markdown(results))
        for name, r in results.items():
            wrong = ", ".join(f"{m['id']} ({m['score']})" for m in r["misses"]) or "none"
            print(f"\n{name}: wrong on {wrong}")
        if alarms is not None:
            print(f"\nreal sentences judged against their own chunk: {alarms['flagged']} of {alarms['sentences']} "
                  f"called contradicted" + "".join(f"\n  {e}" for e in alarms["examples"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
