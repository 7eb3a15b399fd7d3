"""`ipqa eval exam`: multiple-choice exam questions through the configured generator.

The generator gets the question and its options (``closed`` mode), plus the provisions the retriever
finds for them (``rag`` mode), and is asked to end with ``答案：<letters>``. The letters are read
from its output robustly (:func:`parse_choice`); output with no readable choice is *unanswered*, never
guessed. Scoring:

* **exact**: the chosen set equals the answer set (the exam's own rule for both question kinds);
* **partial credit**: a choice with any wrong letter scores 0, else the share of the correct letters
  chosen (``AC`` for ``ACD`` scores 2/3); equal to exact for single-answer questions.

Accuracies are over all questions of the kind (unanswered counts as wrong). A generator that cannot
choose between options (``extractive`` only quotes provisions) is not asked: the run reports
answered = 0 and null accuracies rather than figures for guesses.
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Literal, Sequence

from evals.datasets import ExamQuestion
from ipqa.domain import Hit
from ipqa.errors import InputError, IpqaError
from rag.exam_prompt import MULTIPLE, SINGLE, SYSTEM  # noqa: F401 (the exam's prompt, shared with sft)
from rag.protocols import Generator, Prompt, Retriever

Mode = Literal["rag", "closed"]
MODES: tuple[str, ...] = ("rag", "closed")

# Generators that produce no free text of their own, so they cannot pick an option.
CANNOT_CHOOSE = frozenset({"extractive"})

# Upper-case letters only: a lower-case "a" is far more often an English article than a choice.
_LETTERS = r"[A-Z](?:\s*(?:[、,，/;；]|和|及|与|and|&)?\s*[A-Z])*(?![A-Za-z])"
# An explicit answer statement: 答案：B / 正确答案是 A、C / 应选 B / Answer: A and C / 选B
_MARKED = re.compile(r"(?:正确答案|答案|正确选项|应当?选择?|选择|选|(?i:answer(?:\s+is)?|choice))\s*[】\]]?\s*"
                     r"(?:是|为|应为)?\s*[:：]?\s*[（(【\[]?\s*(" + _LETTERS + r")")
# Output that is nothing but the choice: "B", "A、C、D", "(ACD).", "【B】"
_BARE = re.compile(r"^[\s【\[（(]*(" + _LETTERS + r")[\s】\]）)。.．]*$")
# A first line that starts with one option: "B. 甲公司…" / "B、…"
_LEADING = re.compile(r"^[\s【\[（(]*([A-Z])\s*[】\]）)]?\s*[.．、:：]")


def parse_choice(output: str, valid: Sequence[str]) -> frozenset[str] | None:
    """The option letters an output chooses (None: no readable choice). Full-width letters are
    normalised; an explicit answer statement wins (the last one: a model that reasons first states
    its final choice last); then an output or first line that is only letters; then a first line
    that starts with one option. Letters that are not options are ignored."""
    valid_set = {v.upper() for v in valid}
    text = unicodedata.normalize("NFKC", output or "").strip()
    if not text:
        return None

    def letters(group: str) -> frozenset[str] | None:
        raw = re.sub(r"and", " ", group)
        chosen = frozenset(ch for ch in raw if ch.isalpha()) & valid_set
        return chosen or None

    marked = [letters(m.group(1)) for m in _MARKED.finditer(text)]
    marked = [m for m in marked if m]
    if marked:
        return marked[-1]
    first_line = text.splitlines()[0]
    for candidate in (text, first_line):
        bare = _BARE.match(candidate)
        if bare and (chosen := letters(bare.group(1))):
            return chosen
    leading = _LEADING.match(first_line)
    if leading:
        return letters(leading.group(1))
    return None


@dataclass(frozen=True)
class ChoiceScore:
    exact: float
    partial: float


def score_choice(chosen: frozenset[str] | None, answer: frozenset[str]) -> ChoiceScore:
    """Exact set match, and partial credit (0 with any wrong letter, else the share of the answer)."""
    if not chosen or not answer:
        return ChoiceScore(0.0, 0.0)
    if chosen - answer:
        return ChoiceScore(0.0, 0.0)
    return ChoiceScore(1.0 if chosen == answer else 0.0, len(chosen & answer) / len(answer))


def exam_prompt(question: ExamQuestion, sources: Sequence[Hit] = ()) -> Prompt:
    """The prompt for one question: provisions (rag mode), the question, its options, the format."""
    from rag.exam_prompt import build_exam_prompt

    return build_exam_prompt(question.question, question.options, question.multiple, sources)


def retrieval_query(question: ExamQuestion) -> str:
    """What rag mode searches for: the question and its options (options often name the rule)."""
    from rag.exam_prompt import retrieval_query as query

    return query(question.question, question.options)


@dataclass(frozen=True)
class ExamResult:
    id: str
    multiple: bool
    answer: str
    chosen: str | None  # sorted letters, None when unanswered
    score: ChoiceScore
    output: str
    sources: tuple[str, ...]
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "multiple": self.multiple, "answer": self.answer, "chosen": self.chosen,
                "correct": self.score.exact == 1.0, "partial": self.score.partial, "output": self.output,
                "sources": list(self.sources), "error": self.error}


@dataclass(frozen=True)
class ExamEvaluation:
    mode: str
    generator: str
    questions: tuple[ExamResult, ...]
    seconds: float
    note: str | None = None

    def summary(self) -> dict[str, Any]:
        answered = [q for q in self.questions if q.chosen is not None]
        single = [q for q in self.questions if not q.multiple]
        multiple = [q for q in self.questions if q.multiple]

        def mean(values: Sequence[float]) -> float | None:
            # No answers at all: an accuracy would be a figure for guesses nobody made.
            if not answered or not values:
                return None
            return round(sum(values) / len(values), 4)

        return {
            "n": len(self.questions),
            "n_single": len(single),
            "n_multiple": len(multiple),
            "answered": len(answered),
            "accuracy": mean([q.score.exact for q in self.questions]),
            "accuracy_single": mean([q.score.exact for q in single]),
            "accuracy_multiple": mean([q.score.exact for q in multiple]),
            "partial_credit": mean([q.score.partial for q in self.questions]),
            "partial_credit_multiple": mean([q.score.partial for q in multiple]),
            "mode": self.mode,
            "generator": self.generator,
            "note": self.note,
            "errors": sum(1 for q in self.questions if q.error),
            "seconds": round(self.seconds, 2),
        }


def evaluate_exam(questions: Sequence[ExamQuestion], generator: Generator, *, mode: Mode,
                  retriever: Retriever | None = None, k: int = 5,
                  progress: Callable[[int], None] | None = None) -> ExamEvaluation:
    if mode not in MODES:
        raise InputError("--mode", f"must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "rag" and retriever is None:
        raise ValueError("rag mode needs a retriever")
    started = time.perf_counter()
    name = getattr(generator, "name", type(generator).__name__)
    if name in CANNOT_CHOOSE:
        results = tuple(ExamResult(q.id, q.multiple, "".join(sorted(q.answer)), None, ChoiceScore(0.0, 0.0),
                                   "", ()) for q in questions)
        return ExamEvaluation(mode, name, results, time.perf_counter() - started,
                              note=f"the {name!r} generator quotes provisions and cannot choose between options: "
                                   "no question was answered (configure a local or openai generator)")
    results = []
    for question in questions:
        hits: list[Hit] = []
        output, error = "", None
        try:
            if mode == "rag":
                assert retriever is not None
                hits = retriever.retrieve(retrieval_query(question), k)
            output = generator.generate(exam_prompt(question, hits))
        except IpqaError as exc:  # one failing question must not end the run
            error = f"{type(exc).__name__}: {exc}"
        chosen = parse_choice(output, list(question.options))
        results.append(ExamResult(question.id, question.multiple, "".join(sorted(question.answer)),
                                  "".join(sorted(chosen)) if chosen else None, score_choice(chosen, question.answer),
                                  output, tuple(h.chunk.citation for h in hits), error))
        if progress is not None:
            progress(1)
    return ExamEvaluation(mode, name, tuple(results), time.perf_counter() - started)
