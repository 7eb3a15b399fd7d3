"""What kind of answer a question needs: doctrine, conduct analysis, case analysis or drafting.

Two signals are combined. Hand-written rules catch the phrasings lawyers actually use (是什么 /
what does … mean, 是否构成侵权 / is it infringement, 原告 / likely outcome, 撰写 / draft a claim);
a tiny classifier (character n-gram TF-IDF + logistic regression, trained in memory at first use on
the labelled seed questions in ``rag/data/question_type_seed.jsonl``) covers phrasings the rules
miss. Character n-grams work for Chinese and English alike without a tokenizer.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any, Sequence

from ipqa.domain import QuestionType
from ipqa.errors import InputError

SEED_RESOURCE = "question_type_seed.jsonl"

# Each rule is (pattern, weight). Weights are relative evidence for the type; a question can match
# several types' rules (e.g. "is it infringement" + "court"), the sums decide.
_RULES: dict[QuestionType, tuple[tuple[re.Pattern[str], float], ...]] = {
    QuestionType.DOCTRINE: (
        (
            re.compile(
                r"是什么|什么是|含义|定义|如何理解|指的是|意思|构成要件|判断标准|有哪些(情形|条件|要件)"
            ),
            1.0,
        ),
        (
            re.compile(
                r"\bwhat (does|do|is|are)\b.*\b(mean|meaning|defin|requirement|scope|standard|test)", re.I
            ),
            1.0,
        ),
        (re.compile(r"^\s*(define|explain|what is|what are|what counts)\b", re.I), 0.8),
        (re.compile(r"\b(doctrine|meaning of|definition of|elements of)\b", re.I), 0.5),
    ),
    QuestionType.CONDUCT: (
        (
            re.compile(
                r"是否(构成|属于|侵犯|侵权|违法|合法)|算(不算)?侵|会不会侵|构成侵权吗|侵权吗|合法吗|违法吗"
            ),
            1.2,
        ),
        (re.compile(r"未经(许可|授权|同意)"), 0.6),
        (
            re.compile(
                r"\b(is|does|would|could|are|am) (it|that|this|we|i|they|our|my)\b.*"
                r"\b(infring\w*|violat\w*|liable|legal|lawful|exempt)",
                re.I,
            ),
            1.2,
        ),
        (
            re.compile(
                r"\b(we|our company|my|i|a competitor)\b.*\b(sell|make|use|import|copy|upload|"
                r"offer)\w*",
                re.I,
            ),
            0.4,
        ),
    ),
    QuestionType.CASE: (
        (re.compile(r"原告|被告|法院|判决|一审|二审|上诉|本院认为|判赔|改判|案件|本案"), 1.0),
        (
            re.compile(
                r"\b(plaintiff|defendant|court|judgment|appeal|appellate|jury|holding|held|ruled?|"
                r"summary judgment|litigation)\b",
                re.I,
            ),
            1.0,
        ),
        (re.compile(r"likely outcome|predict the outcome|how did the court|how would a court", re.I), 1.0),
    ),
    QuestionType.DRAFTING: (
        (re.compile(r"撰写|起草|拟定|帮我写|请写|草拟|代写"), 1.5),
        (re.compile(r"\b(draft|write|compose|prepare)\b", re.I), 1.5),
    ),
}

_RULE_WEIGHT = 0.6  # share of the final score given to the rules when at least one rule fires


@dataclass(frozen=True)
class QuestionTypeResult:
    """The detected type, how confident the detection is (0–1), and which signal decided it."""

    question_type: QuestionType
    confidence: float
    source: str  # override | rules+classifier | classifier
    scores: tuple[tuple[str, float], ...] = ()  # per type, highest first (for debugging and the API)


def rule_scores(question: str) -> dict[QuestionType, float]:
    """Summed weights of the rules each type matches (0 for types with no match)."""
    return {
        qtype: sum(w for pattern, w in rules if pattern.search(question)) for qtype, rules in _RULES.items()
    }


def load_seed() -> list[tuple[str, QuestionType]]:
    """The labelled seed questions shipped with the package."""
    text = resources.files("rag.data").joinpath(SEED_RESOURCE).read_text(encoding="utf-8")
    rows = []
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        record = json.loads(line)
        try:
            rows.append((record["question"], QuestionType(record["type"])))
        except (KeyError, ValueError) as exc:
            raise InputError(f"{SEED_RESOURCE}:{line_no}", f"bad seed record ({exc})") from exc
    return rows


class QuestionTypeClassifier:
    """Rules + a char-n-gram classifier. Thread-safe; the model is trained at first use or by ``fit()`` (~50 ms, plus
    importing scikit-learn)."""

    def __init__(self, seed: Sequence[tuple[str, QuestionType]] | None = None) -> None:
        self._seed = list(seed) if seed is not None else None
        self._model: Any = None
        self._lock = threading.Lock()

    def _fitted(self) -> Any:
        with self._lock:
            if self._model is None:
                from sklearn.feature_extraction.text import TfidfVectorizer
                from sklearn.linear_model import LogisticRegression
                from sklearn.pipeline import make_pipeline
                from threadpoolctl import threadpool_limits

                seed = self._seed if self._seed is not None else load_seed()
                texts = [q.lower() for q, _ in seed]
                labels = [t.value for _, t in seed]
                model = make_pipeline(
                    TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True),
                    LogisticRegression(C=10.0, max_iter=2000),
                )
                # 83 short questions: BLAS threads only fight each other (3.6 s vs 0.04 s on a busy box).
                with threadpool_limits(1):
                    model.fit(texts, labels)
                self._model = model
            return self._model

    def fit(self) -> "QuestionTypeClassifier":
        """Train now rather than at the first question (a service does it while starting up)."""
        self._fitted()
        return self

    def classifier_probabilities(self, question: str) -> dict[QuestionType, float]:
        model = self._fitted()
        probs = model.predict_proba([question.lower()])[0]
        return {QuestionType(label): float(p) for label, p in zip(model.classes_, probs)}

    def classify(self, question: str, *, override: QuestionType | str | None = None) -> QuestionTypeResult:
        """Detect the type of ``question``; ``override`` (from the caller) always wins."""
        if override is not None:
            try:
                qtype = QuestionType(override)
            except ValueError:
                valid = ", ".join(t.value for t in QuestionType)
                raise InputError("question_type", f"unknown type {override!r}; valid: {valid}") from None
            return QuestionTypeResult(qtype, 1.0, "override")
        if not question or not question.strip():
            raise InputError("question", "must not be empty")

        probs = self.classifier_probabilities(question)
        rules = rule_scores(question)
        rule_total = sum(rules.values())
        if rule_total > 0:
            combined = {
                t: _RULE_WEIGHT * rules[t] / rule_total + (1 - _RULE_WEIGHT) * probs.get(t, 0.0)
                for t in QuestionType
            }
            source = "rules+classifier"
        else:
            combined = {t: probs.get(t, 0.0) for t in QuestionType}
            source = "classifier"
        ranked = sorted(combined.items(), key=lambda item: item[1], reverse=True)
        best, confidence = ranked[0]
        return QuestionTypeResult(
            best, round(confidence, 4), source, tuple((t.value, round(s, 4)) for t, s in ranked)
        )
