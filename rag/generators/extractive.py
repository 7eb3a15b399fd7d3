"""The generator for machines without a language model: it quotes, it does not reason.

For each numbered source it picks the sentence that shares most content words with the question and
quotes it VERBATIM, cited ``[n]``, grouped under headings that follow the question type (a conduct
question separates the applicable provisions from the exceptions and defences found in the
evidence). It says plainly that no generative model is configured, so no legal conclusion is drawn.
A quote is always an exact substring of the cited chunk, so verification can find it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from ingest.citations import find_citations, unit_keys
from ipqa.domain import Hit, QuestionType
from rag.judges import LexicalJudge
from rag.protocols import Prompt
from rag.sentences import sentence_spans

NOTE = "※"  # lines starting with it are notes about the answer, not statements of law

# Exemption and defence language, looked for in the QUOTED passages only: whole US sections nearly
# all say "except as otherwise provided" somewhere.
_EXCEPTION = re.compile(
    r"不视为侵犯|不构成侵权|不承担赔偿责任|不视为|合理使用|可以不经著作权人许可|不经著作权人许可|抗辩|豁免|"
    r"无权禁止|shall not be (an act of )?infring|not (be )?an infringement|shall not be liable|"
    r"\bexempt|\bdefen[cs]e\b|fair use|is not an infringement|\bnot infring",
    re.I,
)
_TERMINAL = re.compile(r"[。！？；;:：，,.!?」”\"）)—–-]\s*$")
# A short line without a full stop is a heading ("Patent Trial and Appeal Board"); a long one is the
# lead-in of an enumeration ("(1) Any person who … which") and keeps its score.
_HEADING_PENALTY = 0.5
_HEADING_MAX_CHARS = 100

_TEXTS = {
    "zh": {
        "notice": f"{NOTE} 未配置生成式模型：以下逐字引用检索到的与问题最相关的条文原文，仅供查阅，不作法律结论。",
        "drafting": f"{NOTE} 未配置生成式模型，因此不撰写草稿；以下为草稿须满足的规定原文。",
        "nothing": f"{NOTE} 检索到的来源中没有与问题相关的文字，无法给出有依据的回答。",
        "definition": "定义与规则",
        "further": "相关依据",
        "applicable": "适用条款",
        "exceptions": "例外与抗辩",
        "judgments": "裁判文书",
        "rules": "适用规则",
        "requirements": "须满足的规定",
    },
    "en": {
        "notice": f"{NOTE} No generative model is configured: the provisions most relevant to the question are "
        "quoted verbatim below for reference; no legal conclusion is drawn.",
        "drafting": f"{NOTE} No generative model is configured, so no draft is written; the provisions the draft "
        "must satisfy are quoted below.",
        "nothing": f"{NOTE} None of the retrieved sources contains text relevant to the question, so no "
        "supported answer can be given.",
        "definition": "Definition and rule",
        "further": "Further authorities",
        "applicable": "Applicable provisions",
        "exceptions": "Exceptions and defences",
        "judgments": "From the judgments",
        "rules": "Governing rules",
        "requirements": "Requirements the draft must satisfy",
    },
}


@dataclass(frozen=True)
class Quote:
    number: int  # source number [n]
    citation: str
    passages: tuple[str, ...]  # each an exact substring of the chunk text
    score: float  # share of the question's content words found in the passages
    is_exception: bool
    is_judgment: bool


class ExtractiveGenerator:
    """Quotes the best supporting provisions verbatim; never draws a conclusion."""

    name = "extractive"

    def __init__(
        self, *, max_sources: int = 5, min_relevance: float = 0.15, tokens: LexicalJudge | None = None
    ) -> None:
        if max_sources < 1:
            raise ValueError(f"max_sources must be >= 1, got {max_sources}")
        if not 0.0 <= min_relevance <= 1.0:
            raise ValueError(f"min_relevance must be in [0, 1], got {min_relevance}")
        self.max_sources = max_sources
        self.min_relevance = min_relevance
        self._tokens = tokens or LexicalJudge()

    def generate(self, prompt: Prompt) -> str:
        return "".join(self.stream(prompt))

    def stream(self, prompt: Prompt) -> Iterator[str]:
        for line in self._lines(prompt):
            yield line + "\n"

    # -- building the answer -------------------------------------------------------------------

    def select_quotes(self, question: str, sources: tuple[Hit, ...]) -> list[Quote]:
        """The relevant sources, each with its best passage(s): first the units the question names
        (专利法第十一条, 35 U.S.C. § 101), then the others in retrieval order."""
        named, wanted = self._question_terms(question)
        # units compared by key, not citation text: a version not in force today is cited with its
        # version (专利法实施细则（2010）第六十九条) and is still the unit the question names
        units = {number: unit_keys(hit.chunk)[0] for number, hit in enumerate(sources, 1)}
        candidates = sorted(enumerate(sources, 1), key=lambda item: units[item[0]] not in named)
        quotes: list[Quote] = []
        seen_units: set[str] = set()
        for number, hit in candidates:
            if units[number] in seen_units:  # another version of a unit already quoted
                continue
            # a unit the question names is quoted even when it shares few words with the question
            quote = self._quote(number, hit, wanted, named=units[number] in named)
            if quote is None:
                continue
            seen_units.add(units[number])
            quotes.append(quote)
            if len(quotes) >= self.max_sources:
                break
        return quotes

    def _question_terms(self, question: str) -> tuple[set[str], set[str]]:
        """(units the question cites, the content words of the rest of the question). The citation's
        own words (专利法, 第十一条, U.S.C.) say which unit is meant, not what it should say."""
        found = find_citations(question)
        rest = list(question)
        for f in found:
            rest[f.start : f.end] = " " * (f.end - f.start)
        wanted = self._tokens.content_tokens("".join(rest))
        return {f.ref.unit_key for f in found}, wanted or self._tokens.content_tokens(question)

    def _quote(self, number: int, hit: Hit, wanted: set[str], *, named: bool = False) -> Quote | None:
        text = hit.chunk.text
        spans = sentence_spans(text, min_chars=2)
        # A US Code section opens with its heading line ("§ 103. Conditions for patentability; …"): a
        # title, not a rule, so never the passage quoted when the section has a body.
        first_line_end = text.find("\n")
        if text.startswith("§") and 0 < first_line_end:
            body = [(s, e) for s, e in spans if s > first_line_end]
            spans = body or spans
        if not spans or not wanted:
            return None
        scored = []
        for start, end in spans:
            sentence = text[start:end]
            # weighted share of the question's words in the sentence (ubiquitous words count half)
            relevance = self._tokens.coverage(wanted, sentence)
            if len(sentence) < _HEADING_MAX_CHARS and not _TERMINAL.search(sentence):
                relevance *= _HEADING_PENALTY
            scored.append((relevance, start, end))
        best = max(scored, key=lambda item: (item[0], -item[1]))  # ties: the earlier sentence
        if not named and (best[0] < self.min_relevance or best[0] <= 0):
            return None
        passages = [text[best[1] : best[2]]]
        first_start, first_end = spans[0]
        lead_in = text[first_start:first_end]
        # An enumerating article ("有下列情形之一的，不视为侵犯专利权：") needs its lead-in to make sense.
        if (first_start, first_end) != (best[1], best[2]) and lead_in.rstrip().endswith((":", "：")):
            passages.insert(0, lead_in)
        return Quote(
            number=number,
            citation=hit.chunk.citation,
            passages=tuple(passages),
            score=best[0],
            is_exception=any(_EXCEPTION.search(p) for p in passages),
            is_judgment=hit.chunk.unit == "judgment_part",
        )

    def _lines(self, prompt: Prompt) -> Iterator[str]:
        lang = prompt.language if prompt.language in _TEXTS else "en"
        texts = _TEXTS[lang]
        question = prompt.question or prompt.user
        quotes = self.select_quotes(question, prompt.sources)
        if not quotes:
            yield texts["nothing"]
            return
        yield texts["drafting"] if prompt.question_type == QuestionType.DRAFTING else texts["notice"]
        for heading, group in self._sections(prompt.question_type, quotes, texts):
            if not group:
                continue
            yield ""
            yield f"{heading}{'：' if lang == 'zh' else ':'}"
            for quote in group:
                yield self._format(quote, lang)

    @staticmethod
    def _sections(
        qtype: QuestionType, quotes: list[Quote], texts: dict[str, str]
    ) -> list[tuple[str, list[Quote]]]:
        if qtype == QuestionType.CONDUCT:
            return [
                (texts["applicable"], [q for q in quotes if not q.is_exception]),
                (texts["exceptions"], [q for q in quotes if q.is_exception]),
            ]
        if qtype == QuestionType.CASE:
            return [
                (texts["judgments"], [q for q in quotes if q.is_judgment]),
                (texts["rules"], [q for q in quotes if not q.is_judgment]),
            ]
        if qtype == QuestionType.DRAFTING:
            return [(texts["requirements"], quotes)]
        return [(texts["definition"], quotes[:1]), (texts["further"], quotes[1:])]

    @staticmethod
    def _format(quote: Quote, lang: str) -> str:
        if lang == "zh":
            quoted = "……".join(f"「{p}」" for p in quote.passages)
            return f"- {quote.citation}：{quoted}[{quote.number}]"
        quoted = " … ".join(f"\u201c{p}\u201d" for p in quote.passages)
        return f"- {quote.citation}: {quoted} [{quote.number}]"
