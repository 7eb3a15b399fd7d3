"""Which language a text is in: one rule for chunks at ingest and for queries at search time, so a
Chinese question and a Chinese chunk are always called the same."""

from __future__ import annotations

import re

from ipqa.domain import Language

_CJK_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")


def detect_language(text: str) -> Language:
    """``zh`` when the text is mostly Chinese, else ``en``.

    Compares CJK characters with Latin *words* (not letters): an English word carries about as much
    as one or two Chinese characters, so "专利法 section 11 是什么" counts as Chinese while
    "What does 专利法 say about novelty?" counts as English. Text without either is ``en``.
    """
    cjk = len(_CJK_CHAR.findall(text))
    if cjk == 0:
        return Language.EN
    return Language.ZH if cjk >= len(_LATIN_WORD.findall(text)) else Language.EN
