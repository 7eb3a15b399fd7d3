"""Prompts: the numbered evidence, the question, and the answer structure its type calls for.

The templates live in ``rag/templates/`` (``system.<lang>.txt`` and ``<type>.<lang>.txt``) so that
the people who know how a legal answer should be laid out can edit them without touching code.
Source ``[n]`` in the prompt is ``Prompt.sources[n-1]``; verification relies on that numbering.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Callable, Sequence

from ipqa.domain import Hit, QuestionType
from ipqa.errors import InputError
from rag.protocols import Prompt

LANGUAGES = ("zh", "en")
DEFAULT_MAX_SOURCE_CHARS = 2000

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")

_LABELS = {
    "zh": {"sources": "来源", "question": "问题", "none": "（没有检索到来源）", "answer": "回答",
           "history": "此前的对话（仅供理解问题，引用只能来自上面的来源）", "asked": "问", "answered": "答",
           "standalone": "问题（结合上文）"},
    "en": {
        "sources": "Sources",
        "question": "Question",
        "none": "(no sources were retrieved)",
        "answer": "Answer",
        "history": "Earlier in this conversation (for understanding the question only; cite only the sources above)",
        "asked": "Q",
        "answered": "A",
        "standalone": "The question in full",
    },
}
MAX_HISTORY_ANSWER_CHARS = 600  # of each earlier answer in a prompt: its gist, not its quotes


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
    history: Sequence[tuple[str, str]] = (),
    standalone: str | None = None,
) -> Prompt:
    """The prompt for ``question``: system rules, numbered sources, question, answer structure.

    ``language`` (zh/en) picks the templates; by default it follows the question's language.
    ``history``: earlier (question, answer) pairs of the conversation, oldest first, shown after the
    sources so a model reads the follow-up in context; ``standalone``: the follow-up made standalone
    (``rag.conversation``), shown beside it and used as ``Prompt.question`` (what the extractive
    generator picks quotes by).
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
    history_block = ""
    if history:
        lines = []
        for asked, answered in history:
            lines.append(f"{labels['asked']}: {asked.strip()}")
            if answered.strip():
                cut = answered.strip()
                if len(cut) > MAX_HISTORY_ANSWER_CHARS:
                    cut = cut[:MAX_HISTORY_ANSWER_CHARS].rstrip() + " …"
                lines.append(f"{labels['answered']}: {cut}")
        history_block = f"{labels['history']}:\n" + "\n".join(lines) + "\n\n"
    standalone = standalone.strip() if standalone else None
    standalone_line = (f"{labels['standalone']}: {standalone}\n\n"
                       if standalone and standalone != question.strip() else "")
    user = (
        f"{labels['sources']}:\n{source_block}\n\n"
        f"{history_block}"
        f"{labels['question']}: {question.strip()}\n\n"
        f"{standalone_line}"
        f"{load_template(f'{qtype.value}.{lang}')}\n\n"
        f"{labels['answer']}:"
    )
    return Prompt(
        system=load_template(f"system.{lang}"),
        user=user,
        sources=sources,
        language=lang,
        question_type=qtype,
        question=standalone or question.strip(),
    )


MIN_SOURCE_CHARS = 200  # a source cut shorter than this says too little to cite


def fit_prompt(
    question: str,
    question_type: QuestionType | str,
    hits: Sequence[Hit],
    *,
    count_tokens: Callable[[Prompt], int],
    budget: int,
    language: str | None = None,
    max_source_chars: int = DEFAULT_MAX_SOURCE_CHARS,
    history: Sequence[tuple[str, str]] = (),
    standalone: str | None = None,
) -> Prompt:
    """The prompt of :func:`build_prompt` with as many of ``hits`` as fit in ``budget`` tokens.

    Conversation ``history`` goes first, oldest turn first, before any source is left out: the
    sources are what the answer may cite, the history only helps to read the question.

    The lowest-ranked sources go first; the prompt is rebuilt each time, so ``[n]`` always numbers
    the sources it shows (``Prompt.sources``, what verification checks against). When the best
    source alone is too long its text is cut (to no less than ``MIN_SOURCE_CHARS``). The question
    and the instructions are never cut: when even they do not fit, :class:`InputError` says so.
    ``count_tokens`` counts a prompt as the model will see it (chat template included).
    """
    if budget < 1:
        raise InputError("token budget", f"must be >= 1, got {budget}")

    def build(kept: Sequence[Hit], max_chars: int = max_source_chars,
              turns: Sequence[tuple[str, str]] = ()) -> Prompt:
        return build_prompt(question, question_type, kept, language, max_source_chars=max_chars,
                            history=turns, standalone=standalone)

    kept = list(hits)
    turns = list(history)
    while True:
        prompt = build(kept, turns=turns)
        if count_tokens(prompt) <= budget:
            return prompt
        if not turns:
            break
        turns = turns[1:]  # the oldest turn goes first
    # Fewer sources, lowest-ranked out first. Token counts grow with the number of sources, so the
    # largest number that fits is found by bisection (a 10-source prompt costs ~4 counts, not 10).
    low, high = 1, len(kept) - 1  # 1 source is the floor here; its text is cut below if needed
    best: Prompt | None = None
    while low <= high:
        middle = (low + high) // 2
        candidate = build(kept[:middle])
        if count_tokens(candidate) <= budget:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    if best is not None:
        return best
    bare = build(())
    if count_tokens(bare) > budget:
        raise InputError(
            "question",
            f"the question and instructions alone take {count_tokens(bare)} tokens; the model's "
            f"context leaves {budget} for the prompt (shorten the question or lower max_new_tokens)",
        )
    if not kept:
        return bare
    # The best source alone is too long: the longest cut of its text that fits.
    low, high = MIN_SOURCE_CHARS, min(max_source_chars, len(kept[0].chunk.text)) - 1
    while low <= high:
        middle = (low + high) // 2
        candidate = build(kept[:1], middle)
        if count_tokens(candidate) <= budget:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best if best is not None else bare
