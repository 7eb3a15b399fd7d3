"""`ipqa eval compare RUN_A RUN_B`: what moved between two runs of the same evaluation.

Metric deltas are taken over the numeric figures both summaries have. Per question, each kind of run
says what counts as a success item: the gold articles found within the top ``k`` (retrieval), a
correct choice (exam), a delivered answer and each gold article it cites (answers). Items present
in B and not in A are *gained*, the reverse *lost*.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ipqa.errors import InputError


@dataclass(frozen=True)
class MetricDelta:
    name: str
    a: float | None
    b: float | None

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else round(self.b - self.a, 4)


@dataclass(frozen=True)
class QuestionChange:
    id: str
    gained: tuple[str, ...]
    lost: tuple[str, ...]


@dataclass(frozen=True)
class Comparison:
    kind: str
    metrics: tuple[MetricDelta, ...]
    changes: tuple[QuestionChange, ...]
    only_in_a: tuple[str, ...]
    only_in_b: tuple[str, ...]
    notes: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind,
                "metrics": {m.name: {"a": m.a, "b": m.b, "delta": m.delta} for m in self.metrics},
                "changes": [{"id": c.id, "gained": list(c.gained), "lost": list(c.lost)} for c in self.changes],
                "gained": sum(len(c.gained) for c in self.changes),
                "lost": sum(len(c.lost) for c in self.changes),
                "only_in_a": list(self.only_in_a), "only_in_b": list(self.only_in_b), "notes": list(self.notes)}


def _numbers(summary: Mapping[str, Any], prefix: str = "") -> dict[str, float | None]:
    """Flatten numeric figures: {"recall": {"10": 0.5}} -> {"recall@10": 0.5}."""
    out: dict[str, float | None] = {}
    for key, value in summary.items():
        name = f"{prefix}@{key}" if prefix else str(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)) or value is None:
            out[name] = None if value is None else float(value)
        elif isinstance(value, Mapping):
            out.update(_numbers(value, name))
    return out


def success_items(kind: str, question: Mapping[str, Any], *, k: int) -> set[str]:
    if kind == "retrieval":
        return {f"found {label}" for label, rank in (question.get("found") or {}).items() if rank <= k}
    if kind == "exam":
        return {"correct"} if question.get("correct") else set()
    if kind == "answers":
        items = set() if question.get("abstained") else {"answered"}
        items |= {f"cites {label}" for label in question.get("gold_cited_labels") or ()}
        return items
    raise InputError("run", f"unknown evaluation kind {kind!r}")


def compare_runs(a: Mapping[str, Any], b: Mapping[str, Any], *, k: int = 10) -> Comparison:
    kind_a, kind_b = a.get("kind"), b.get("kind")
    if kind_a != kind_b:
        raise InputError("RUN_B", f"is a {kind_b!r} run, RUN_A a {kind_a!r} run: only runs of the same "
                                  "evaluation can be compared")
    kind = str(kind_a)
    numbers_a, numbers_b = _numbers(a["summary"]), _numbers(b["summary"])
    skip = {"seconds"}
    metrics = tuple(MetricDelta(name, numbers_a[name], numbers_b[name])
                    for name in numbers_a if name in numbers_b and name not in skip)
    questions_a = {str(q["id"]): q for q in a.get("questions", [])}
    questions_b = {str(q["id"]): q for q in b.get("questions", [])}
    changes = []
    for qid, qa in questions_a.items():
        qb = questions_b.get(qid)
        if qb is None:
            continue
        items_a, items_b = success_items(kind, qa, k=k), success_items(kind, qb, k=k)
        if items_a != items_b:
            changes.append(QuestionChange(qid, tuple(sorted(items_b - items_a)), tuple(sorted(items_a - items_b))))
    notes = []
    run_a, run_b = a.get("run", {}), b.get("run", {})
    for label, key in (("dataset", "dataset"), ("index version", "index_version"), ("git commit", "git"),
                       ("active reranker", "reranker"), ("generator", "generator"), ("support judge", "judge")):
        if run_a.get(key) != run_b.get(key):
            notes.append(f"{label} differs: {run_a.get(key)} -> {run_b.get(key)}")
    settings_a, settings_b = run_a.get("settings", {}), run_b.get("settings", {})
    for name in sorted(set(settings_a) | set(settings_b)):
        if settings_a.get(name) != settings_b.get(name):
            notes.append(f"setting {name}: {settings_a.get(name)!r} -> {settings_b.get(name)!r}")
    return Comparison(kind, metrics, tuple(changes), tuple(sorted(set(questions_a) - set(questions_b))),
                      tuple(sorted(set(questions_b) - set(questions_a))), tuple(notes))


def comparison_text(comparison: Comparison, *, max_questions: int = 50) -> str:
    lines = [f"{comparison.kind} runs compared (B - A):"]
    for note in comparison.notes:
        lines.append(f"  note: {note}")
    for m in comparison.metrics:
        whole = all(v is None or float(v).is_integer() for v in (m.a, m.b))  # counts, not rates

        def fmt(v: float | None) -> str:
            return "-" if v is None else (f"{v:.0f}" if whole else f"{v:.4f}")

        delta = "" if m.delta is None else (f"{m.delta:+.0f}" if whole else f"{m.delta:+.4f}")
        lines.append(f"  {m.name:<28} {fmt(m.a):>8} -> {fmt(m.b):>8}  {delta}")
    gained = sum(len(c.gained) for c in comparison.changes)
    lost = sum(len(c.lost) for c in comparison.changes)
    lines.append(f"per question: {len(comparison.changes)} changed, {gained} gained, {lost} lost")
    for change in comparison.changes[:max_questions]:
        parts = [f"+{item}" for item in change.gained] + [f"-{item}" for item in change.lost]
        lines.append(f"  {change.id}: " + ", ".join(parts))
    if len(comparison.changes) > max_questions:
        lines.append(f"  … {len(comparison.changes) - max_questions} more (use --json)")
    if comparison.only_in_a or comparison.only_in_b:
        lines.append(f"questions only in A: {len(comparison.only_in_a)}, only in B: {len(comparison.only_in_b)}")
    return "\n".join(lines)
