"""``ipqa sft build``: candidates from each direction -> leakage check -> deduplication -> sources,
prompt and answer -> ipqa's verifier -> kept or dropped by reason -> a seeded train/validation split
written to ``train.jsonl``, ``validation.jsonl`` and ``stats.json`` (and the held-out exam fold)."""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ipqa.errors import InputError
from ipqa.jsonl import read_jsonl
from rag.exam_prompt import retrieval_query
from sft.assemble import Assembler, Dropped, Writer
from sft.candidates import Candidate
from sft.context import TRAINING_SETS, BuildContext
from sft.directions import direction_registry
from sft.leakage import LeakageGuard, normalise
from sft.records import (EXAM_HELDOUT_FILE, FORMAT, STATS_FILE, TRAIN_FILE, VALIDATION_FILE, Example,
                         write_examples)



@dataclass
class BuildResult:
    kept: dict[str, list[Example]] = field(default_factory=lambda: defaultdict(list))
    dropped: Counter = field(default_factory=Counter)
    dropped_by_direction: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    candidates: Counter = field(default_factory=Counter)

    def drop(self, direction: str, reason: str) -> None:
        self.dropped[reason] += 1
        self.dropped_by_direction[direction][reason] += 1


def evaluation_guard(shared_data: Path, extra: Sequence[Path], heldout_exam: Iterable[dict[str, Any]],
                     *, threshold: float) -> tuple[LeakageGuard, dict[str, int]]:
    """The leakage guard over every evaluation set: each JSONL in ``<shared>/evals`` except the
    training sets (ip-qa-dev and any other split placed there), the ``extra`` files, and the held-out
    exam fold."""
    guard = LeakageGuard(threshold=threshold)
    sizes: dict[str, int] = {}
    evals_dir = shared_data / "evals"
    files = sorted(p for p in evals_dir.glob("*.jsonl") if p.name not in TRAINING_SETS) if evals_dir.is_dir() else []
    for path in [*files, *extra]:
        rows = _questions(path)
        guard.add_all(path.name, rows)
        sizes[path.name] = len(rows)
    held = [(str(r["id"]), retrieval_query(str(r["question"]), r["options"])) for r in heldout_exam]
    guard.add_all("exam-heldout", held)
    sizes["exam-heldout"] = len(held)
    return guard, sizes


def leakage_text(candidate: Candidate) -> str:
    """What the leakage check compares: the question, and for an exam question its options too (the
    stems are generic, "下列说法哪个是正确的？", and the options carry the content)."""
    if candidate.exam is not None:
        return retrieval_query(candidate.exam.question, candidate.exam.options)
    return candidate.question


def _questions(path: Path) -> list[tuple[str, str]]:
    rows = []
    for where, number, data in read_jsonl(path, "evaluation set"):
        try:
            rows.append((str(data.get("id", number)), str(data["question"])))
        except KeyError as exc:
            raise InputError(where, f"not an evaluation question ({exc!r})") from None
    return rows


def build_examples(context: BuildContext, directions: Sequence[str], assembler: Assembler, guard: LeakageGuard,
                   *, writer: Writer | None = None, progress: Callable[[str, int], None] | None = None
                   ) -> BuildResult:
    result = BuildResult()
    seen: set[str] = set()
    registry = direction_registry()
    for direction in directions:
        for candidate in registry.create(direction)(context):
            result.candidates[direction] += 1
            if guard.overlap(leakage_text(candidate)) is not None:
                result.drop(direction, "leakage")
                continue
            key = normalise(candidate.question)
            if key in seen:
                result.drop(direction, "duplicate")
                continue
            seen.add(key)
            outcome = assembler.assemble(candidate, writer)
            if isinstance(outcome, Dropped):
                result.drop(direction, outcome.reason)
            else:
                result.kept[direction].append(outcome)
            if progress is not None:
                progress(direction, result.candidates[direction])
    return result


def split(examples: list[Example], *, validation: float, seed: int) -> tuple[list[Example], list[Example]]:
    """A seeded split per direction, so every direction is in both parts (at least one validation
    example for a direction of two or more)."""
    if not 0.0 <= validation < 1.0:
        raise InputError("--validation", f"must be in [0, 1), got {validation}")
    by_direction: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        by_direction[example.direction].append(example)
    train: list[Example] = []
    held: list[Example] = []
    for direction in sorted(by_direction):
        group = sorted(by_direction[direction], key=lambda e: e.id)
        random.Random(f"{seed}:{direction}").shuffle(group)
        n = round(len(group) * validation)
        if validation > 0 and len(group) >= 2:
            n = max(1, n)
        held += group[:n]
        train += group[n:]
    rng = random.Random(seed)
    rng.shuffle(train)
    return train, held


def write_dataset(out: Path, result: BuildResult, directions: Sequence[str], *, validation: float, seed: int,
                  heldout_exam: list[dict[str, Any]], extra_stats: dict[str, Any]) -> dict[str, Any]:
    """Refuses (InputError) when a requested direction kept nothing; else writes the files and returns
    the statistics (also ``stats.json``)."""
    for direction in directions:
        if not result.kept.get(direction):
            reasons = dict(result.dropped_by_direction.get(direction, {}))
            raise InputError(f"--directions {direction}",
                             f"produced no example ({result.candidates[direction]} candidates; dropped: {reasons})")
    examples = [e for d in directions for e in result.kept[d]]
    train, held = split(examples, validation=validation, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    write_examples(out / TRAIN_FILE, train)
    write_examples(out / VALIDATION_FILE, held)
    if "exam" in directions:
        with (out / EXAM_HELDOUT_FILE).open("w", encoding="utf-8") as handle:
            for row in heldout_exam:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    checked = sum(e.citations_checked for e in examples)
    stats = {
        "format": FORMAT,
        "examples": len(examples),
        "by_direction": {d: len(result.kept[d]) for d in directions},
        "dropped": dict(sorted(result.dropped.items())),
        "dropped_by_direction": {d: dict(sorted(result.dropped_by_direction[d].items())) for d in directions},
        "candidates": {d: result.candidates[d] for d in directions},
        "citations_checked": checked,
        "citations_verified": checked,  # an example with any unverified citation is never kept
        "train": len(train),
        "validation": len(held),
        "exam_heldout": len(heldout_exam) if "exam" in directions else 0,
        "seed": seed,
        **extra_stats,
    }
    (out / STATS_FILE).write_text(json.dumps(stats, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return stats

