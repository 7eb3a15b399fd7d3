"""Evaluation datasets: JSON Lines files read into frozen records, one bad line named precisely.

Two formats are read:

* retrieval / answer sets in the format of ``stard-train.jsonl``:
  ``{"id", "question", "gold": [citation, …], "answer"?, "gold_text"?, "keywords"?}``;
* multiple-choice exams in the format of ``patent-agent-exam-2015-2016.jsonl``:
  ``{"id", "question", "options": {"A": …}, "answer": "B" | "ACD", "multiple": bool}``.

A malformed line raises :class:`~ipqa.errors.InputError` naming ``file:line`` and the problem: an
evaluation over a silently shortened dataset would report figures for a different dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterator, Mapping

from ipqa.errors import InputError
from ipqa.jsonl import read_jsonl


BREAKDOWN_KEYS = ("language", "type", "topic")  # optional dataset fields reports break figures down by


@dataclass(frozen=True)
class RetrievalExample:
    """A question with the citations of the provisions that answer it (and a reference answer)."""

    id: str
    question: str
    gold: tuple[str, ...]
    answer: str | None = None
    gold_text: Mapping[str, str] = field(default_factory=dict)
    # what a report breaks figures down by, when the dataset says: language, type, topic
    attributes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.question.strip():
            raise ValueError(f"example {self.id!r}: question must not be empty")
        object.__setattr__(self, "gold", tuple(self.gold))
        object.__setattr__(self, "gold_text", MappingProxyType(dict(self.gold_text)))
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))


@dataclass(frozen=True)
class ExamQuestion:
    """A multiple-choice question; ``answer`` is the set of correct option letters."""

    id: str
    question: str
    options: Mapping[str, str]
    answer: frozenset[str]
    multiple: bool

    def __post_init__(self) -> None:
        if not self.question.strip():
            raise ValueError(f"exam question {self.id!r}: question must not be empty")
        if not self.options:
            raise ValueError(f"exam question {self.id!r}: has no options")
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        object.__setattr__(self, "answer", frozenset(self.answer))
        unknown = sorted(self.answer - set(self.options))
        if not self.answer or unknown:
            raise ValueError(f"exam question {self.id!r}: answer {''.join(sorted(self.answer))!r} "
                             f"is not a non-empty set of its options {sorted(self.options)}")


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSON Lines file."""
    for _, number, row in read_jsonl(path, "dataset"):
        yield number, row


def _text(row: dict[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = row.get(key)
    # An optional field left empty: null, "", or NaN (how pandas exports a missing value; stard-train
    # has one such reference answer).
    if not required and (value is None or value != value or (isinstance(value, str) and not value.strip())):
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise InputError(where, f"field {key!r} must be a non-empty string, got {value!r}")
    return value


def load_retrieval_examples(path: Path, *, limit: int | None = None) -> list[RetrievalExample]:
    """The questions of a stard-format file, in file order (the first ``limit`` when given)."""
    if limit is not None and limit < 1:
        raise InputError("--limit", f"must be >= 1, got {limit}")
    examples: list[RetrievalExample] = []
    for number, row in _rows(path):
        where = f"{path}:{number}"
        question = _text(row, "question", where)
        gold = row.get("gold", [])
        if not isinstance(gold, list) or not all(isinstance(g, str) and g.strip() for g in gold):
            raise InputError(where, f"field 'gold' must be a list of citation strings, got {gold!r}")
        gold_text = row.get("gold_text") or {}
        if not isinstance(gold_text, dict):
            raise InputError(where, "field 'gold_text' must be an object")
        attributes = {key: str(row[key]) for key in BREAKDOWN_KEYS if isinstance(row.get(key), str) and row[key]}
        examples.append(RetrievalExample(id=str(row.get("id", number)), question=question or "",
                                         gold=tuple(gold), answer=_text(row, "answer", where, required=False),
                                         gold_text={str(k): str(v) for k, v in gold_text.items()},
                                         attributes=attributes))
        if limit is not None and len(examples) >= limit:
            break
    if not examples:
        raise InputError(str(path), "the dataset has no questions")
    return examples


def load_exam_questions(path: Path, *, limit: int | None = None) -> list[ExamQuestion]:
    """The questions of a multiple-choice file; ``answer`` "ACD" becomes {"A", "C", "D"}."""
    if limit is not None and limit < 1:
        raise InputError("--limit", f"must be >= 1, got {limit}")
    questions: list[ExamQuestion] = []
    for number, row in _rows(path):
        where = f"{path}:{number}"
        question = _text(row, "question", where) or ""
        options = row.get("options")
        if not isinstance(options, dict) or not options or not all(
                isinstance(k, str) and len(k) == 1 and isinstance(v, str) for k, v in options.items()):
            raise InputError(where, f"field 'options' must map single letters to texts, got {options!r}")
        answer = _text(row, "answer", where) or ""
        letters = frozenset(ch for ch in answer.upper() if ch.isalpha())
        multiple = row.get("multiple", len(letters) > 1)
        if not isinstance(multiple, bool):
            raise InputError(where, f"field 'multiple' must be true or false, got {multiple!r}")
        try:
            questions.append(ExamQuestion(id=str(row.get("id", number)), question=question,
                                          options={k.upper(): v for k, v in options.items()},
                                          answer=letters, multiple=multiple))
        except ValueError as exc:
            raise InputError(where, str(exc)) from None
        if limit is not None and len(questions) >= limit:
            break
    if not questions:
        raise InputError(str(path), "the exam has no questions")
    return questions
