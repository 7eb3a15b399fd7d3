"""Support judges for the evaluation: those of :mod:`rag.judges` (lexical, cross-encoder, nli) plus
``llm``, which asks a text generator whether the evidence supports the statement.

The LLM judge is deliberately conservative: a verdict it cannot read counts as *not supported*, so a
confused judge lowers citation precision/recall instead of inflating them.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Callable

from ipqa.domain import QuestionType
from ipqa.errors import ConfigError
from rag.judges import JudgeOptions, create_judge
from rag.protocols import Generator, Prompt, SupportJudge

JUDGES = ("lexical", "cross-encoder", "nli", "llm")

_SYSTEM = ("你是严谨的法律引用审核员。判断“依据”是否足以支持“陈述”：陈述的每一项法律内容都必须能从依据中直接得出。"
           "只回答“支持”或“不支持”。")
# Negative verdicts first: 不支持 contains 支持, "not supported" contains "supported".
_NO = re.compile(r"不支持|不能支持|无法支持|不足以支持|\bnot\s+supported\b|\bunsupported\b|^\s*no\b|\bfalse\b", re.I)
_YES = re.compile(r"支持|\bsupported\b|^\s*yes\b|\btrue\b", re.I)


def parse_verdict(output: str) -> float | None:
    """1.0 for a supporting verdict, 0.0 for a refusing one, None when the output says neither."""
    text = unicodedata.normalize("NFKC", output or "").strip()
    if _NO.search(text):
        return 0.0
    if _YES.search(text):
        return 1.0
    return None


class LlmJudge:
    """Implements :class:`rag.protocols.SupportJudge` with a generator (local model or endpoint)."""

    name = "llm"

    def __init__(self, generator: Generator, *, max_evidence_chars: int = 3000) -> None:
        self.generator = generator
        self.max_evidence_chars = max_evidence_chars

    def support(self, statement: str, evidence: str) -> float:
        if not statement.strip() or not evidence.strip():
            return 0.0
        user = f"依据：\n{evidence[:self.max_evidence_chars]}\n\n陈述：\n{statement}\n\n结论（支持/不支持）："
        prompt = Prompt(system=_SYSTEM, user=user, sources=(), language="zh",
                        question_type=QuestionType.DOCTRINE, question=statement)
        verdict = parse_verdict(self.generator.generate(prompt))
        return verdict if verdict is not None else 0.0  # unreadable: not supported


def create_eval_judge(name: str, options: JudgeOptions | None = None, *,
                      text_generator: Callable[[], Generator] | None = None) -> SupportJudge:
    """The judge called ``name``: one of :mod:`rag.judges` built from ``options``, or ``llm``, which
    asks the generator ``text_generator()`` makes (``rag.compose`` wires it from the settings; it must
    write text: a local model or an endpoint)."""
    if name not in JUDGES:
        raise ConfigError(f"unknown support judge {name!r}; valid names: {', '.join(JUDGES)}")
    if name != "llm":
        return create_judge(name, options)
    if text_generator is None:
        raise ConfigError("support judge 'llm' needs a model that writes text: pass --judge-path MODEL_DIR "
                          "or configure IPQA_GENERATOR=local|openai")
    return LlmJudge(text_generator())
