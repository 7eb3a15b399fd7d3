"""Markdown reports and chart bars of each kind of evaluation run."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from evals.report import Bar, markdown_table, stamp_markdown


def _warnings(run: Mapping[str, Any]) -> str:
    warnings = run.get("warnings") or []
    return "\n".join(f"> **Warning:** {w}" for w in warnings) + ("\n\n" if warnings else "")


def _cv_lines(run: Mapping[str, Any]) -> list[str]:
    """The cross-validated figures a learned reranker recorded at training, when it did."""
    overall = (run.get("reranker_cv") or {}).get("overall")
    if not isinstance(overall, Mapping):
        return []
    figures = ", ".join(f"{key} {value:.4f}" if isinstance(value, float) else f"{key} {value}"
                        for key, value in overall.items())
    return [f"Cross-validated figures recorded when the reranker was trained (mean over folds): {figures}.", ""]


def retrieval_report(result: Mapping[str, Any], *, worst: int = 20) -> tuple[str, list[Bar]]:
    summary, run = result["summary"], result["run"]
    recall = summary["recall"]
    header = ["questions", *[f"R@{k}" for k in recall], "MRR", "nDCG@10", "unresolved gold"]
    row = [summary["scored"], *recall.values(), summary["mrr"], summary["ndcg@10"],
           f"{summary['unresolved_gold']} of {summary['gold_total']}"]
    lines = [
        f"# Retrieval evaluation: {run['dataset']['path'].rsplit('/', 1)[-1]}",
        "",
        _warnings(run) + markdown_table(header, [row]),
        "",
        "A hit counts for a gold article when it is that article in **any version** of the law (the resolver "
        "returns one chunk per version; all are accepted; a second version of an already-found article is a "
        "non-relevant hit at its rank). Gold citations are resolved with `ingest.citations.resolve_citation` "
        "against the evaluated index; a gold citation that resolves to nothing stays in the denominator.",
        "",
        f"Reranker active: **{run.get('reranker')}**. Retrieval errors: {summary['errors']}. "
        f"Time: {summary['seconds']} s.",
        "",
        *_cv_lines(run),
        stamp_markdown(run),
    ]
    unresolved = result.get("unresolved_gold") or {}
    if unresolved:
        lines += ["", f"## Gold citations that resolve to nothing ({len(unresolved)} distinct)", ""]
        lines += [f"- `{label}`: {reason}" for label, reason in sorted(unresolved.items())]
    missed = [q for q in result["questions"] if q["gold"] and not q["found"]]
    if missed:
        lines += ["", f"## Questions whose gold was not retrieved at all ({len(missed)}; first {worst})", ""]
        lines.append(markdown_table(["id", "question", "gold", "top hits"],
                                    [[q["id"], q["question"][:60], "; ".join(q["gold"]), "; ".join(q["top"][:3])]
                                     for q in missed[:worst]]))
    bars = [Bar(f"R@{k}", v) for k, v in recall.items()] + [Bar("MRR", summary["mrr"]),
                                                             Bar("nDCG@10", summary["ndcg@10"])]
    return "\n".join(lines), bars


def _or_na(value: Any) -> Any:
    """A figure for a table cell: ``n/a`` where nothing could be measured (e.g. no answers)."""
    return "n/a" if value is None else value


def exam_report(result: Mapping[str, Any]) -> tuple[str, list[Bar]]:
    summary, run = result["summary"], result["run"]

    lines = [
        f"# Exam evaluation: {run['dataset']['path'].rsplit('/', 1)[-1]} ({summary['mode']}, "
        f"generator {summary['generator']})",
        "",
        _warnings(run) + markdown_table(
            ["questions", "answered", "accuracy", "single", "multiple", "partial credit", "partial (multiple)"],
            [[summary["n"], summary["answered"], _or_na(summary["accuracy"]), _or_na(summary["accuracy_single"]),
              _or_na(summary["accuracy_multiple"]), _or_na(summary["partial_credit"]),
              _or_na(summary["partial_credit_multiple"])]]),
        "",
        f"{summary['n_single']} single-answer and {summary['n_multiple']} multiple-answer questions. Exact: the "
        "chosen set equals the answer. Partial credit: 0 with any wrong letter, else the share of the correct "
        "letters chosen. Unanswered questions (no readable choice) count as wrong; nothing is guessed.",
    ]
    if summary.get("note"):
        lines += ["", f"**{summary['note']}**"]
    lines += ["", stamp_markdown(run)]
    values = [("accuracy", summary["accuracy"]), ("single", summary["accuracy_single"]),
              ("multiple", summary["accuracy_multiple"]), ("partial", summary["partial_credit"]),
              ("answered", summary["answered"] / summary["n"] if summary["n"] else 0.0)]
    return "\n".join(lines), [Bar(label, float(v or 0.0)) for label, v in values]


def answers_report(result: Mapping[str, Any], *, examples: int = 10) -> tuple[str, list[Bar]]:
    summary, run = result["summary"], result["run"]

    lines = [
        f"# Answer evaluation: {run['dataset']['path'].rsplit('/', 1)[-1]} (generator {run.get('generator')}, "
        f"judge {run.get('judge')})",
        "",
        _warnings(run) + markdown_table(
            ["questions", "answered", "citation precision", "citation recall", "fabricated", "fabricated (raw)",
             "abstention", "ROUGE-L", "BERTScore F1", "gold cited"],
            [[summary["n"], summary["answered"], summary["citation_precision"], summary["citation_recall"],
              summary["fabricated_rate"], summary["fabricated_rate_raw"], summary["abstention_rate"],
              _or_na(summary["rouge_l"]), _or_na(summary["bertscore_f1"]), _or_na(summary["gold_citation_recall"])]]),
        "",
        "Citation precision/recall in the ALCE sense with the support judge named above (threshold "
        f"{run.get('support_threshold')}), over delivered (non-abstained) answers. Fabricated: a citation that "
        "resolves to nothing or whose quoted span is not in the cited text; *raw* also counts the citations of "
        "abstained answers. ROUGE-L is F1 over jieba words against the reference answer. Gold cited: share of "
        "the question's gold articles (any version) the answer cites.",
        "",
        stamp_markdown(run),
    ]
    mismatched = sorted({c for q in result["questions"] for c in q.get("resolver_mismatches") or ()})
    if mismatched:
        lines += ["", f"## Real citations the resolver cannot parse back ({len(mismatched)} distinct)", "",
                  "Each names a chunk of the index by exactly its canonical citation, so it is not counted as "
                  "fabricated; but `ingest.citations.resolve` does not resolve it (a resolver defect to fix):", ""]
        lines += [f"- `{c}`" for c in mismatched]
    fabricated = [q for q in result["questions"] if q["fabricated"]]
    if fabricated:
        lines += ["", f"## Answers with fabricated citations ({len(fabricated)}; first {examples})", ""]
        lines.append(markdown_table(
            ["id", "question", "fabricated citation (as the answer's verifier read it)", "why"],
            [[q["id"], q["question"][:60], "; ".join(q.get("fabricated_citations") or ()),
              ", ".join(q["fabricated_reasons"])] for q in fabricated[:examples]]))
    bars = [Bar("cit. precision", summary["citation_precision"]), Bar("cit. recall", summary["citation_recall"]),
            Bar("fabricated", summary["fabricated_rate"]), Bar("abstention", summary["abstention_rate"]),
            Bar("ROUGE-L", float(summary["rouge_l"] or 0.0))]
    if summary.get("bertscore_f1") is not None:
        bars.append(Bar("BERTScore", summary["bertscore_f1"]))
    return "\n".join(lines), bars


def summary_lines(summary: Mapping[str, Any], keys: Sequence[str]) -> str:
    return "  ".join(f"{key}={summary.get(key)}" for key in keys)
