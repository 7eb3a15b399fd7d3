"""Understanding a question before searching: its language, a lexical form without conversational
filler, and the laws it names.

Lay questions (``请问您好，公司不签劳动合同怎么办呢？``) are mostly filler for BM25: greetings, question
particles and "what should I do" phrases match thousands of articles and drown the few words that
matter. Stripping them is the cheapest gain in Chinese statute retrieval. Modal words with legal
meaning (可以/应当/不得) are kept: "may" against "shall" is what many articles are about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from indexes.text import detect_language
from ingest.citation_forms import normalize_law_name

# Longest first, so 怎么办 goes before 怎么. Every entry is conversation, not law.
ZH_FILLER: tuple[str, ...] = tuple(sorted({
    "请问", "您好", "你好", "谢谢", "请教", "咨询一下", "咨询", "想问一下", "想问", "问一下", "一下",
    "怎么办", "怎么处理", "怎么样", "怎么", "怎样", "如何", "什么", "哪些", "多少", "为什么",
    "吗", "呢", "吧", "啊", "呀", "嘛", "的话",
    "是否", "能否", "能不能", "会不会", "有没有", "是不是",
}, key=len, reverse=True))
_FILLER_RE = re.compile("|".join(map(re.escape, ZH_FILLER)))
_SPACES = re.compile(r"\s+")


def clean_query(text: str, language: str | None = None) -> str:
    """``text`` without conversational filler (Chinese only; English queries are returned as is,
    since the English tokeniser already drops stop words). Never returns an empty string for a
    non-empty question: when everything is filler the original is kept."""
    language = language or detect_language(text)
    if language != "zh":
        return text.strip()
    cleaned = _SPACES.sub(" ", _FILLER_RE.sub(" ", text)).strip()
    return cleaned or text.strip()


def law_key(title: str) -> str:
    """The normalised name of a law (``中华人民共和国专利法`` -> ``专利法``), as in citation unit keys."""
    return normalize_law_name(title)


class LawNames:
    """Finds the laws a question names (``劳动合同法``, ``《民法典》``) among the titles of an index.

    Short names are matched as written in the question after the same normalisation as citation
    keys; names shorter than 3 characters are ignored (``宪法`` inside ``违宪法律`` is noise), and a
    name inside a longer matched name does not count separately (``民法典`` inside
    ``…适用《民法典》有关担保制度的解释``).
    """

    MIN_LENGTH = 3

    def __init__(self, titles: Iterable[str]) -> None:
        self._titles: dict[str, set[str]] = {}
        for title in titles:
            key = law_key(title)
            if len(key) >= self.MIN_LENGTH:
                self._titles.setdefault(key, set()).add(title)
        names = sorted(self._titles, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, names))) if names else None

    def __len__(self) -> int:
        return len(self._titles)

    def find(self, text: str) -> list[str]:
        """Normalised names of the laws ``text`` names, in order of first mention, no repeats."""
        if self._pattern is None:
            return []
        normalised = law_key(text)
        return list(dict.fromkeys(m.group() for m in self._pattern.finditer(normalised)))

    def all_titles(self) -> frozenset[str]:
        """Every document title known (the ``known_laws`` that citation parsing wants)."""
        return frozenset(title for titles in self._titles.values() for title in titles)

    def titles(self, keys: Sequence[str]) -> frozenset[str]:
        """Every document title (all spellings, e.g. with and without 中华人民共和国) of the laws ``keys``."""
        return frozenset(title for key in keys for title in self._titles.get(key, ()))


@dataclass(frozen=True)
class AnalyzedQuery:
    """A question as retrieval sees it."""

    text: str  # as asked
    language: str  # "zh" | "en"
    lexical: str  # what BM25 searches (filler removed when clean-up is on)
    laws: tuple[str, ...]  # normalised names of the laws it names


def analyze_query(text: str, *, law_names: LawNames | None = None, clean: bool = True) -> AnalyzedQuery:
    language = detect_language(text)
    lexical = clean_query(text, language) if clean else text.strip()
    laws = tuple(law_names.find(text)) if law_names is not None else ()
    return AnalyzedQuery(text=text, language=language, lexical=lexical, laws=laws)
