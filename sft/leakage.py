"""The leakage check: no training question may overlap an evaluation question.

Texts are normalised (NFKC, lower case, every character that is not a letter or digit removed, so
punctuation, spacing and full/half width do not hide a copy), then cut into character n-grams
(``NGRAM`` = 5: about two Chinese words or one English word). A training question overlaps an
evaluation question when the share of the *shorter* one's n-grams found in the other is at least
``THRESHOLD`` (0.5): a copy, a copy with a clause added or removed, or a light paraphrase that keeps
half the wording is refused; two questions on the same topic in different words are not (they share
few 5-grams). Questions whose normalised text is shorter than ``NGRAM`` are compared whole.

An exam question is compared with its options (``sft.build.leakage_text``): exam stems are generic
("下列说法哪个是正确的？") and the options carry the content.

Measured on the shipped sets (docs/fine-tuning.md): no STARD question reaches 0.3 against ip-qa-dev
(the highest is 0.25, a different question on the same topic); among the 200 exam questions with
their options, 4 pairs reach 0.5, and they are the same question asked in 2015 and 2016 with most
options repeated.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

NGRAM = 5
THRESHOLD = 0.5

_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).lower())


def ngrams(text: str, n: int = NGRAM) -> frozenset[str]:
    norm = normalise(text)
    if len(norm) <= n:
        return frozenset({norm}) if norm else frozenset()
    return frozenset(norm[i : i + n] for i in range(len(norm) - n + 1))


@dataclass(frozen=True)
class Overlap:
    evaluation_set: str
    evaluation_id: str
    containment: float


class LeakageGuard:
    """Evaluation questions, indexed by n-gram, and the check of one training question against them."""

    def __init__(self, *, threshold: float = THRESHOLD, n: int = NGRAM) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"leakage threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold
        self.n = n
        self._grams: list[frozenset[str]] = []
        self._labels: list[tuple[str, str]] = []
        self._postings: dict[str, list[int]] = defaultdict(list)

    def add(self, evaluation_set: str, question_id: str, text: str) -> None:
        grams = ngrams(text, self.n)
        if not grams:
            return
        index = len(self._grams)
        self._grams.append(grams)
        self._labels.append((evaluation_set, question_id))
        for gram in grams:
            self._postings[gram].append(index)

    def add_all(self, evaluation_set: str, rows: Iterable[tuple[str, str]]) -> None:
        for question_id, text in rows:
            self.add(evaluation_set, question_id, text)

    def __len__(self) -> int:
        return len(self._grams)

    def overlap(self, text: str) -> Overlap | None:
        """The evaluation question ``text`` overlaps most, when that overlap reaches the threshold."""
        grams = ngrams(text, self.n)
        if not grams:
            return None
        shared: dict[int, int] = defaultdict(int)
        for gram in grams:
            for index in self._postings.get(gram, ()):
                shared[index] += 1
        best: Overlap | None = None
        for index, count in shared.items():
            containment = count / min(len(grams), len(self._grams[index]))
            if containment >= self.threshold and (best is None or containment > best.containment):
                best = Overlap(*self._labels[index], round(containment, 4))
        return best
