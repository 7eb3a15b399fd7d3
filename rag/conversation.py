"""Follow-up questions resolved against the earlier turns of a conversation, without an LLM.

Legal questions come in conversations: "注册商标的有效期是多久？" is followed by "到期忘了续展怎么办？",
"专利法第十一条规定了什么？" by "第二款呢？", "Is a recipe protected by copyright?" by "What about
trademarks?". Searched alone, the second question has lost what it is about. A follow-up is made
standalone for retrieval from three things the earlier turns carry:

* the **unit** they were about (a question's citation, else the previous answer's first citation):
  a bare "第二款呢？" / "第十二条呢？" / "what about section 272?" is read against it, so it resolves
  to ``专利法 第十一条 第二款`` and the retriever puts that unit first;
* the **subject** (patent, trademark, copyright, …): "那商标呢？" after a patent question swaps the
  subject (and its law) in the earlier question rather than adding to it;
* the **laws**: a law named earlier (or, when none was named, the law the previous answer cited)
  is carried forward, so the retriever's law boost applies.

Whether a question is a follow-up is decided by form: markers (那/那么/还有…, "what about", "and
if"), pronouns standing for something said before (它/该/this/it…), or shortness without a law or
citation of its own. A question that names its own law and is not marked as a follow-up stands
alone. The rules are deliberately lexical: cheap, deterministic, explainable in the response
(``carried``), and the same with every generator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from ingest.citation_forms import PREVIOUS_VERSION, CitationRef
from ingest.citations import find_citations
from rag.prompts import question_language
from rag.query import LawNames, clean_query
from rag.versioned import versioned_citation

MAX_TURNS = 4  # earlier turns that can still shape a follow-up (older ones rarely matter)
MAX_CONTEXT_CHARS = 300  # of carried text: enough for the gist, not enough to drown the follow-up


@dataclass(frozen=True)
class Turn:
    """One earlier exchange: the question as asked, the answer's text, the answer's citations."""

    question: str
    answer: str = ""
    citations: tuple[str, ...] = ()  # canonical citations of the answer, in order


@dataclass(frozen=True)
class ResolvedQuestion:
    question: str  # as asked
    standalone: str  # the question with what it leans on (== question when it stands alone), for people
    is_followup: bool
    carried: tuple[str, ...] = ()  # what was carried forward, for display ("专利法 第十一条", "subject: 商标")
    search_query: str = ""  # what retrieval searches: the standalone form, the question's own words weighted

    def __post_init__(self) -> None:
        if not self.search_query:
            object.__setattr__(self, "search_query", self.standalone)


# --- subjects --------------------------------------------------------------------------------------
# Each subject: the words that name it (zh, en; longest first within a language) and its laws.
@dataclass(frozen=True)
class _Subject:
    name: str
    zh: tuple[str, ...]
    en: tuple[str, ...]
    laws: tuple[str, ...]  # normalised names of its Chinese laws (as rag.query.law_key gives them)

    def word(self, language: str) -> str:
        """The plain word for the subject (what replaces another subject's words)."""
        return self.zh[-1] if language == "zh" else self.en[-1]


SUBJECTS: tuple[_Subject, ...] = (
    _Subject("patent", ("外观设计专利权", "实用新型专利权", "发明专利权", "外观设计专利", "实用新型专利", "发明专利",
                        "专利权", "专利"), ("patents", "patent"), ("专利法",)),
    _Subject("trademark", ("注册商标", "商标权", "商标"), ("service marks", "service mark", "trademarks", "trademark"),
             ("商标法",)),
    _Subject("copyright", ("著作权", "版权"), ("copyrights", "copyright"), ("著作权法",)),
    _Subject("trade_secret", ("商业秘密",), ("trade secrets", "trade secret"), ("反不正当竞争法",)),
)

_ZH_MARKERS = ("那么", "那如果", "那", "如果", "假如", "还有", "另外", "此外", "再问", "再说", "至于", "同样")
_ZH_ANAPHORA = ("它", "其", "该", "这种", "这个", "这些", "此", "上述", "前述", "同上", "这样")
_EN_MARKERS = ("what about", "how about", "and what", "and if", "and ", "what if", "also", "then ", "same ",
               "does that", "is that", "and the")
_EN_ANAPHORA = re.compile(r"\b(it|its|this|that|these|those|they|them|their|same)\b", re.IGNORECASE)
_EN_TRAILING = re.compile(r"\b(it|them|that|this|these|those)\s*[?.!]*$", re.IGNORECASE)  # "…for it?"
_ZH_SHORT = 12  # characters of content; shorter, naming no law and no subject, is elliptical
_EN_SHORT = 6  # words
_ZH_TINY, _EN_TINY = 2, 2  # what may be left beside a subject in "那商标呢？" / "What about trademarks?"
_ZH_TRAILING = re.compile(r"[呢吗吧啊？?。！!\s]+$")
_CN_UNIT = re.compile(r"^(?P<law>.+?) (?P<article>第[零〇一二三四五六七八九十百千万\d]+条(?:之[一二三四五六七八九十]+)?)")
_US_TITLE = re.compile(r"^(?P<title>\d+) U\.S\.C\.")


def resolve_followup(question: str, history: Sequence[Turn], *, law_names: LawNames | None = None,
                     known_laws: Iterable[str] | None = None) -> ResolvedQuestion:
    """``question`` made standalone against ``history`` (earlier turns, oldest first).

    ``law_names`` (the index's laws) finds the laws a turn names; ``known_laws`` (exact titles)
    makes citation parsing exact. Both are optional: without them laws are carried as text only.
    """
    question = question.strip()
    turns = list(history)[-MAX_TURNS:]
    if not turns or not question:
        return ResolvedQuestion(question, question, False)
    known = frozenset(known_laws) if known_laws is not None else (law_names.all_titles() if law_names else None)
    # the previous turn as it was understood (itself resolved against the turns before it)
    previous_turn = turns[-1]
    previous = resolve_followup(previous_turn.question, turns[:-1], law_names=law_names, known_laws=known)
    if not is_followup(question, law_names=law_names, known_laws=known):
        return ResolvedQuestion(question, question, False)

    language = question_language(question)
    carried: list[str] = []
    context = previous.standalone

    # 1. the subject: a new one replaces the old one in the carried text (and the old one's laws)
    new_subject = _subject_of(question)
    old_subject = _subject_of(context)
    if new_subject is not None and old_subject is not None and new_subject is not old_subject:
        context = _swap_subject(context, old_subject, new_subject)
        carried.append(f"subject: {new_subject.word(language)}")

    # 2. the unit: a bare article / part / section read against the previous turn's unit
    unit_prefix = ""
    unit = _unit_of(context, previous_turn, known)
    own = _own_citations(question, unit, known)
    if own:
        unit_prefix = " ".join(own)
        carried.extend(own)
        # the earlier units would be put first by the retriever too: keep only their law
        context = _without_citations(context, known)
    elif unit is not None and new_subject is None:
        carried.append(_with_version(unit.unit, unit.version))

    # 3. the laws: those named before; else the subject's (专利 -> 专利法) when the index holds it;
    #    else the law the previous answer cited first
    if law_names is not None and not law_names.find(context):
        subject = new_subject or old_subject
        # (the subjects' laws are Chinese ones: an English question is not pointed at them)
        laws = [law for law in (subject.laws if subject and language == "zh" else ()) if law_names.find(law)]
        if not laws and new_subject is None:
            laws = [law for c in previous_turn.citations[:1] for law in law_names.find(c)][:1]
        if laws:
            context = f"{' '.join(laws)} {context}"
    carried.extend(law for law in (law_names.find(context) if law_names is not None else []) if law not in carried)

    context = _content(context, language)[:MAX_CONTEXT_CHARS]
    subject_only = False
    if language == "zh" and not own and new_subject is None and _own_content_size(question) >= _ZH_OWN_ASPECT:
        # The follow-up asks its own thing about the same subject ("外观设计专利的保护期限是多久？" ->
        # "那需要满足什么条件才能获得授权？"): carry what the earlier question was about (its subject
        # phrase and laws), not what it asked about it (保护期限 would pull in the term article).
        reduced = _subject_phrase(context, old_subject)
        subject_only = reduced != context
        context = reduced
    standalone = " ".join(p for p in (unit_prefix, question, context) if p)
    # the follow-up twice when searching: BM25 counts repeated query terms, and what is asked now
    # must outweigh what is carried (the carried text only says what it is about); a carried subject
    # phrase alone is part of what is asked now ("外观设计专利" + "需要满足什么条件…"), so it counts as much
    search_query = " ".join(p for p in (unit_prefix, question, question, context, context if subject_only else "")
                            if p)
    return ResolvedQuestion(question, standalone, True, tuple(dict.fromkeys(carried)), search_query)


def is_followup(question: str, *, law_names: LawNames | None = None, known_laws: Iterable[str] | None = None) -> bool:
    """Whether ``question`` leans on what was said before (see the module docstring): marked as a
    follow-up, or saying neither which law nor which subject it is about and short, or naming a
    subject with next to nothing else ("那商标呢？", "What about copyrights?")."""
    text = question.strip()
    lowered = text.lower()
    zh = question_language(text) == "zh"
    if text.startswith(_ZH_MARKERS) if zh else (lowered.startswith(_EN_MARKERS) or _EN_TRAILING.search(text)):
        return True
    if law_names is not None and law_names.find(text):
        return False
    if any(_is_full_citation(f.ref.unit) for f in find_citations(text, known_laws=known_laws)):
        return False
    subject = _subject_of(text)
    # a pronoun stands for something said before only when the question names nothing itself
    # ("侵犯它要承担什么责任？"; not "未经许可制造其专利产品…", not "Is it patent infringement to…")
    if subject is None and (any(a in text for a in _ZH_ANAPHORA) if zh else _EN_ANAPHORA.search(text)):
        return True
    rest = text
    if subject is not None:
        for word in subject.zh + subject.en:
            rest = re.sub(re.escape(word), " ", rest, flags=re.IGNORECASE)
    if zh:
        size = len(_ZH_TRAILING.sub("", clean_query(rest, "zh")).replace(" ", ""))
        return size <= (_ZH_TINY if subject is not None else _ZH_SHORT)
    size = len(re.findall(r"[A-Za-z0-9§]+", rest))
    return size <= (_EN_TINY if subject is not None else _EN_SHORT)


# --- helpers ---------------------------------------------------------------------------------------

_ZH_OWN_ASPECT = 8  # content characters of a follow-up that asks its own aspect of the earlier subject


def _own_content_size(question: str) -> int:
    body = question.strip()
    for marker in _ZH_MARKERS:
        if body.startswith(marker):
            body = body[len(marker):]
            break
    return len(_ZH_TRAILING.sub("", clean_query(body, "zh")).replace(" ", ""))


def _subject_phrase(context: str, subject: _Subject | None) -> str:
    """``context`` cut after its subject phrase, when it reads "<…subject…>的<aspect>…"
    ("专利法 外观设计专利的保护期限是多久" -> "专利法 外观设计专利"); unchanged otherwise."""
    if subject is None:
        return context
    words = "|".join(map(re.escape, subject.zh))  # longest first: 外观设计专利 before 专利
    match = re.search(f"(?:{words})(?=的)", context)
    return context[:match.end()] if match else context


def _subject_of(text: str) -> _Subject | None:
    """The subject ``text`` is about: the one whose words come first."""
    lowered = text.lower()
    best: tuple[int, _Subject] | None = None
    for subject in SUBJECTS:
        for word in subject.zh + subject.en:
            at = lowered.find(word)
            if at >= 0 and (best is None or at < best[0]):
                best = (at, subject)
    return best[1] if best else None


def _swap_subject(text: str, old: _Subject, new: _Subject) -> str:
    """``text`` with every word (and law) of ``old`` replaced by the corresponding one of ``new``."""
    for old_law, new_law in zip(old.laws, new.laws):
        text = text.replace(old_law, new_law)
    for word in old.zh:  # longest first, so 专利权 goes before 专利
        text = text.replace(word, new.word("zh"))
    for word in old.en:
        text = re.sub(rf"\b{re.escape(word)}\b", new.word("en"), text, flags=re.IGNORECASE)
    return text


def _unit_of(context: str, turn: Turn, known_laws: Iterable[str] | None) -> CitationRef | None:
    """The unit the previous turn was about: the first one its (resolved) question cites, else the
    first one its answer cites (with the version it names, if any)."""
    for found in find_citations(context, known_laws=known_laws):
        if _is_full_citation(found.ref.unit):
            return found.ref
    for citation in turn.citations:
        for found in find_citations(citation, known_laws=known_laws):
            if _is_full_citation(found.ref.unit):
                return found.ref
    return None


def _with_version(citation: str, version: str | None) -> str:
    """``citation`` in the law version ``version`` names (as written: ``2010``, ``2010年修正``, 原)."""
    if not version:
        return citation
    return f"{PREVIOUS_VERSION}{citation}" if version == PREVIOUS_VERSION else versioned_citation(citation, version)


def _own_citations(question: str, unit: CitationRef | None, known_laws: Iterable[str] | None) -> list[str]:
    """The units ``question`` cites, bare ones ("第二款", "第十二条", "section 272") read against
    ``unit`` (and in the version of its law it names: a follow-up on 专利法实施细则（2010）第六十九条
    stays in the 2010 rules); only those that come out as full citations (a law and an article, a US
    title and a section)."""
    current: dict[str, object] = {}
    if unit is not None:
        cn = _CN_UNIT.match(unit.unit)
        us = _US_TITLE.match(unit.unit)
        if cn:
            current = {"current_law": cn.group("law"), "current_article": cn.group("article")}
        elif us:
            current = {"current_title": int(us.group("title"))}
    found = find_citations(question, known_laws=known_laws, **current)  # type: ignore[arg-type]
    own = []
    for f in found:
        if not _is_full_citation(f.ref.unit):
            continue
        same_law = unit is not None and f.ref.version is None and f.ref.law is not None and f.ref.law == unit.law
        own.append(_with_version(f.ref.canonical, unit.version if same_law and unit is not None else f.ref.version))
    return list(dict.fromkeys(own))


def _without_citations(text: str, known_laws: Iterable[str] | None) -> str:
    """``text`` with each citation replaced by its law (``专利法第十一条第二款`` -> ``专利法``)."""
    pieces, at = [], 0
    for found in find_citations(text, known_laws=known_laws):
        if found.start < at:
            continue
        cn = _CN_UNIT.match(found.ref.unit)
        pieces.append(text[at:found.start] + (f"{cn.group('law')} " if cn else ""))
        at = found.end
    return "".join(pieces) + text[at:]


def _is_full_citation(unit: str) -> bool:
    return bool(_CN_UNIT.match(unit) or _US_TITLE.match(unit) or "," in unit)


def _content(text: str, language: str) -> str:
    """The carried text without conversational filler (Chinese); English is kept as written."""
    return clean_query(text, language) if language == "zh" else text.strip()
