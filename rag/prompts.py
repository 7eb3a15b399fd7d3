"""Prompts: the numbered evidence, the question, and the answer structure its type calls for.

The templates live in ``rag/templates/`` (``system.<lang>.txt`` and ``<type>.<lang>.txt``) so that
the people who know how a legal answer should be laid out can edit them without touching code.
Source ``[n]`` in the prompt is ``Prompt.sources[n-1]``; verification relies on that numbering.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Sequence

from ipqa.domain import Hit, QuestionType
from ipqa.errors import InputError
from rag.protocols import Prompt

LANGUAGES = ("zh", "en")
DEFAULT_MAX_SOURCE_CHARS = 2000

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")

_LABELS = {
    "zh": {"sources": "来源", "question": "问题", "none": "（没有检索到来源）", "answer": "回答"},
    "en": {
        "sources": "Sources",
        "question": "Question",
        "none": "(no sources were retrieved)",
        "answer": "Answer",
    },
}


def question_language(text: str) -> str:
    """``zh`` when the text is mostly Chinese, else ``en`` (a question mixing both counts as zh when
    a fair share of its letters are Chinese characters: 35 U.S.C. cited inside a Chinese question)."""
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    # One Chinese character carries about as much as a short English word (~4 letters).
    return "zh" if cjk and cjk * 4 >= latin else "en"


@cache
def load_template(name: str) -> str:
    """A template file from ``rag/templates`` (cached: they are read-only package data)."""
    try:
        return resources.files("rag.templates").joinpath(f"{name}.txt").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise InputError("template", f"no prompt template named {name!r}") from None


def format_source(number: int, hit: Hit, *, max_chars: int = DEFAULT_MAX_SOURCE_CHARS) -> str:
    """``[n] <canonical citation>`` then the unit's text (cut at ``max_chars``, marked with …)."""
    text = hit.chunk.text.strip()
    if len(text) > max_chars:
        text = text[:max_chars].rstrip() + " …"
    return f"[{number}] {hit.chunk.citation}\n{text}"


def build_prompt(
    question: str,
    question_type: QuestionType | str,
    hits: Sequence[Hit],
    language: str | None = None,
    *,
    max_source_chars: int = DEFAULT_MAX_SOURCE_CHARS,
) -> Prompt:
    """The prompt for ``question``: system rules, numbered sources, question, answer structure.

    ``language`` (zh/en) picks the templates; by default it follows the question's language.
    """
    if not question or not question.strip():
        raise InputError("question", "must not be empty")
    qtype = QuestionType(question_type)
    lang = language or question_language(question)
    if lang not in LANGUAGES:
        raise InputError("language", f"unsupported prompt language {lang!r}; valid: {', '.join(LANGUAGES)}")
    labels = _LABELS[lang]
    sources = tuple(hits)
    if sources:
        source_block = "\n\n".join(
            format_source(i, hit, max_chars=max_source_chars) for i, hit in enumerate(sources, 1)
        )
    else:
        source_block = labels["none"]
    user = (
        f"{labels['sources']}:\n{source_block}\n\n"
        f"{labels['question']}: {question.strip()}\n\n"
        f"{load_template(f'{qtype.value}.{lang}')}\n\n"
        f"{labels['answer']}:"
    )
    return Prompt(
        system=load_template(f"system.{lang}"),
        user=user,
        sources=sources,
        language=lang,
        question_type=qtype,
        question=question.strip(),
    )
