"""What a direction proposes before any checking: a question, the provisions (gold) its answer rests
on, and the answer with ``⟦i⟧`` where source marker of gold ``i`` goes (the numbers are known only
once the sources are laid out, gold among retrieved distractors)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from indexes.protocols import SearchFilters
from ipqa.domain import Chunk, QuestionType

GOLD_MARK = re.compile(r"⟦(\d+)⟧")


def gold_mark(index: int) -> str:
    return f"⟦{index}⟧"


@dataclass(frozen=True)
class ExamItem:
    """A multiple-choice question: answered through the exam prompt that `ipqa eval exam` uses."""

    id: str
    question: str
    options: Mapping[str, str]
    answer: str
    multiple: bool


@dataclass(frozen=True)
class Candidate:
    direction: str
    question: str
    question_type: QuestionType
    gold: tuple[Chunk, ...]
    answer: str  # ⟦i⟧ marks a citation of gold[i]
    origin: Mapping[str, Any] = field(default_factory=dict)
    language: str | None = None  # prompt language; by default the question's
    distractor_filters: SearchFilters | None = None
    retrieval_query: str | None = None  # what distractors are searched with (default: the question)
    exam: ExamItem | None = None
    exclude: frozenset[str] = frozenset()  # chunk and document ids no distractor may come from


def render_answer(answer: str, numbers: list[int]) -> str:
    """``answer`` with each ``⟦i⟧`` replaced by ``[numbers[i]]``."""
    return GOLD_MARK.sub(lambda m: f"[{numbers[int(m.group(1))]}]", answer)
