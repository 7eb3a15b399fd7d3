"""What gets indexed for a chunk, and which language a piece of text is in."""

from __future__ import annotations

import re

from ipqa.domain import Chunk, Document

_CJK_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")


def detect_language(text: str) -> str:
    """"zh" when the text is mostly Chinese, else "en".

    Compares CJK characters with Latin *words* (not letters): an English word carries about as much
    as one or two Chinese characters, so "专利法 section 11 是什么" counts as Chinese while
    "What does 专利法 say about novelty?" counts as English. Text without either is "en".
    """
    cjk = len(_CJK_CHAR.findall(text))
    if cjk == 0:
        return "en"
    latin_words = len(_LATIN_WORD.findall(text))
    return "zh" if cjk >= latin_words else "en"


def indexable_text(chunk: Chunk, document: Document) -> str:
    """The text BM25 and the embedder index for ``chunk``: document title, citation, then the text.

    The title and the citation both name the law (``中华人民共和国专利法`` / ``专利法 第十一条``), so
    the law's name is counted about twice per article. That is a cheap title field boost: a query
    that names the law (``专利法第十一条``, ``35 U.S.C. 271``) prefers that law's units, while the
    article text still decides between the units of one law (the boost is the same for all of them).
    The citation also puts the article/section number into the index, so ``第十一条`` matches.
    """
    parts = [document.title.strip(), chunk.citation.strip(), chunk.text.strip()]
    return "\n".join(part for part in parts if part)
