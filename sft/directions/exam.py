"""The patent agent exam: its questions with their answers, through the exam prompt that
``ipqa eval exam`` uses (retrieved provisions, the question, its options). A held-out fold (a
seeded share of the questions) never becomes training data; ``sft.build`` writes it out for
evaluation and adds it to the leakage check. The answer is the exam's own (``答案：B``): the set has
no explanations, and none are invented; ``--teacher`` can write them, kept only when they end in
the right letters and their citations verify.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterator

from indexes.protocols import SearchFilters
from ipqa.domain import QuestionType
from ipqa.errors import InputError
from ipqa.jsonl import read_jsonl
from rag.exam_prompt import retrieval_query
from sft.candidates import Candidate, ExamItem
from sft.context import BuildContext

ZH = SearchFilters(languages=frozenset({"zh"}))


def load_exam(path: Path) -> list[dict[str, Any]]:
    rows = []
    for where, _, row in read_jsonl(path, "exam"):
        try:
            if not (row["question"] and row["options"] and row["answer"]):
                raise ValueError("empty question, options or answer")
        except (ValueError, KeyError) as exc:
            raise InputError(where, f"not an exam question ({exc!r})") from None
        rows.append(row)
    return rows


def split_exam(rows: list[dict[str, Any]], *, holdout: float, seed: int) -> tuple[list[dict], list[dict]]:
    """(training rows, held-out rows): a question is held out by a hash of the seed and its id, so
    the fold does not depend on the file's order."""
    if not 0.0 < holdout < 1.0:
        raise InputError("--exam-holdout", f"must be between 0 and 1, got {holdout}")
    ranked = sorted(rows, key=lambda r: hashlib.sha256(f"{seed}\x00{r['id']}".encode()).hexdigest())
    held = max(1, round(len(rows) * holdout))
    heldout_ids = {r["id"] for r in ranked[:held]}
    return [r for r in rows if r["id"] not in heldout_ids], [r for r in rows if r["id"] in heldout_ids]


def candidates(context: BuildContext) -> Iterator[Candidate]:
    training, _ = split_exam(load_exam(context.exam_path), holdout=context.exam_holdout, seed=context.seed)
    for row in training[: context.per_direction]:
        options = {str(k): str(v) for k, v in row["options"].items()}
        answer = "".join(sorted(str(row["answer"]).upper()))
        item = ExamItem(str(row["id"]), str(row["question"]), options, answer, bool(row.get("multiple")))
        yield Candidate("exam", item.question, QuestionType.DOCTRINE, (), f"答案：{answer}",
                        {"kind": "exam", "exam_id": item.id, "year": row.get("year")}, language="zh",
                        distractor_filters=ZH, retrieval_query=retrieval_query(item.question, options), exam=item)
