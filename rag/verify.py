"""Citation verification: every citation in a generated answer must name a real unit, and every cited
sentence must be supported by the text it cites.

Two kinds of citation are read from the answer:

* source markers ``[n]``, ``[1][2]``, ``[1, 3]`` — source n of the prompt (``sources[n-1]``); a number
  outside 1..len(sources) is fabricated;
* written citations (《专利法》第十一条, 35 U.S.C. § 271(e)(1), US 8,927,118 B2, claim 3) found by
  :func:`ingest.citations.find_citations` and resolved against the store; one that names a unit or a
  part that does not exist (专利法第九百条, 第十一条第五款) is fabricated. A written citation that
  names a numbered source counts as that source; others get numbers after the last source.
  Citations inside quotation marks belong to the quoted text, not to the answer, and are skipped.

Each sentence's support is scored by a :class:`rag.protocols.SupportJudge` against the text it cites
(the cited part when the citation names one). Quoted text must occur verbatim in what it cites.
Nothing is dropped silently: unresolved citations get ``problem="unresolved"``, quotes that the cited
text does not contain ``"span_not_found"``, weak support ``"unsupported"``, all with
``verified=False``; uncited or unsupported sentences get ``Statement.supported=False``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from indexes.protocols import ChunkLookup, ChunkStore, SearchFilters
from ingest.citation_resolve import ResolutionFailure, find_part, resolve_ref
from ingest.citations import find_citations, same_unit
from ipqa.domain import AnswerCitation, Chunk, Hit, Statement
from rag.protocols import SupportJudge
from rag.sentences import sentence_spans
from rag.versioned import CitationVersions

NOTE_PREFIX = "※"  # a note about the answer (e.g. "no generative model is configured"), not a statement

# [1], [1, 3], [1、2]: numbers without a leading zero, so a patent paragraph number ([0014], ¶ [0023])
# is never read as a source marker.
_N = r"[1-9]\d{0,2}"
MARKER = re.compile(rf"\[\s*({_N}(?:\s*[,，、;]\s*{_N})*)\s*\]")
_PAIRED_QUOTES = {"「": "」", "『": "』", "“": "”"}
_STATEMENT_END = re.compile(r"[。！？]+[」』”’）)]*|[.!?]+[\"'”’)]*(?=\s+[A-Z(\[\"“‘「]|\s*[\u4e00-\u9fff])")
_LEADING_MARKERS = re.compile(rf"^\s*(?:\[\s*{_N}(?:\s*[,，、;]\s*{_N})*\s*\]\s*)+")
# A full stop after these is not the end of a sentence ("Purewell Corp. v. Brightwater Inc., No. 5").
_ABBREVIATION = re.compile(
    r"(?:\b(?:v|vs|Corp|Inc|Co|Ltd|No|Nos|Fed|Cir|Stat|Pub|Reg|art|arts|sec|secs|para|paras|cl|cf|"
    r"e\.g|i\.e|et al|Id|id|FIG|Fig|Figs|Mr|Ms|Dr|Jr|Sr|St|App|Supp|Ct|Cl)|\b[A-Z])\.$"
)
_BULLET = re.compile(r"^\s*(?:[-*•]\s+|\d{1,2}[.)、]\s*|[（(]\d{1,2}[）)]\s*|#+\s*)")
_MIN_QUOTE_CHARS = 6  # shorter quotes are terms of art ("use"), not quotations to check
_MAX_SPAN_SENTENCES = 60


# ---------------------------------------------------------------------------------------------
# splitting the answer into statements
# ---------------------------------------------------------------------------------------------


def split_statements(text: str) -> list[str]:
    """The answer's sentences, each with the markers that follow it. Headings, notes (※…) and
    marker-only fragments are not statements; quotation marks are never split inside."""
    out: list[str] = []
    for line in text.split("\n"):
        if not line.strip() or line.lstrip().startswith(NOTE_PREFIX):
            continue
        quotes = quote_spans(line)
        pieces: list[str] = []
        start = 0
        for m in _STATEMENT_END.finditer(line):
            if any(qs < m.start() < qe - 1 and m.end() < qe for qs, qe in quotes):
                continue  # a full stop inside a quotation (one that closes it does end the sentence)
            if _ABBREVIATION.search(line[: m.start() + 1]):
                continue  # "Corp.", "v.", "U.S."
            pieces.append(line[start : m.end()])
            start = m.end()
        pieces.append(line[start:])
        line_statements: list[str] = []
        for piece in pieces:
            lead = _LEADING_MARKERS.match(piece)
            if lead and line_statements:  # "…侵权。[1]" : the markers belong to the sentence before
                line_statements[-1] = line_statements[-1].rstrip() + lead.group().strip()
                piece = piece[lead.end() :]
            if piece.strip():
                line_statements.append(piece.strip())
        out.extend(s for s in line_statements if not _is_heading(s))
    return out


def _is_heading(statement: str) -> bool:
    if MARKER.search(statement):
        return False
    body = _BULLET.sub("", statement).strip()
    return (
        not body
        or statement.lstrip().startswith("#")
        or body.endswith((":", "："))
        or len(re.sub(r"\W", "", body)) < 4
    )


def marker_numbers(statement: str) -> list[int]:
    numbers: list[int] = []
    for m in MARKER.finditer(_mask_quotations(statement)):  # "[0014]" inside a quote is its text
        for n in re.split(r"\s*[,，、;]\s*", m.group(1)):
            if n and int(n) not in numbers:
                numbers.append(int(n))
    return numbers


def statement_body(statement: str) -> str:
    """The statement without markers and list bullets: what the judge scores."""
    return _BULLET.sub("", MARKER.sub(" ", statement)).strip()


def quote_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each outermost quotation, marks included. Quotations nest (a quoted claim
    that itself quotes “blade”), so marks are matched with a stack, not a regex; straight double
    quotes toggle at the outer level only."""
    spans: list[tuple[int, int]] = []
    stack: list[str] = []
    start = 0
    for i, ch in enumerate(text):
        if stack and ch == _PAIRED_QUOTES.get(stack[-1], '"'):
            stack.pop()
            if not stack:
                spans.append((start, i + 1))
        elif ch in _PAIRED_QUOTES or (ch == '"' and not stack):
            if not stack:
                start = i
            stack.append(ch)
    return spans  # an unclosed quotation is not one


def quotations(statement: str) -> list[str]:
    return [statement[start + 1 : end - 1] for start, end in quote_spans(statement)]


def _mask_quotations(statement: str) -> str:
    return _cut(statement, quote_spans(statement))


def _cut(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with the spans blanked out (offsets of the rest stay the same)."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _part_text(chunk: Chunk, part) -> str:
    """The text of ``part`` of ``chunk``, with its label when the label is written just before it:
    a patent paragraph's part starts after "[0198] ", yet a quotation of the paragraph (and the
    extractive generator) includes the label."""
    start = part.start
    before = chunk.text[:start].rstrip()
    if part.label and before.endswith(part.label):
        start = len(before) - len(part.label)
    return chunk.text[start : part.end]


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


# ---------------------------------------------------------------------------------------------
# what each citation points to
# ---------------------------------------------------------------------------------------------


@dataclass
class _Target:
    """What citation number n points to, and how it fared in the statements that use it."""

    number: int
    citation: str
    chunk: Chunk | None
    evidence: str  # the cited text: the part's text, or the whole chunk's (a substring of chunk.text)
    problem: str | None = None  # set at creation for unresolved citations
    uses: list[tuple[float, str | None, str]] = field(default_factory=list)  # (support, problem, span)

    @property
    def resolved(self) -> bool:
        return self.chunk is not None


@dataclass(frozen=True)
class Verification:
    citations: tuple[AnswerCitation, ...]
    statements: tuple[Statement, ...]

    @property
    def verified_citations(self) -> tuple[AnswerCitation, ...]:
        return tuple(c for c in self.citations if c.verified)

    @property
    def problems(self) -> tuple[AnswerCitation, ...]:
        return tuple(c for c in self.citations if not c.verified)


class CitationVerifier:
    """Verifies one answer against its numbered sources and the chunk store."""

    def __init__(
        self,
        lookup: ChunkLookup,
        judge: SupportJudge,
        *,
        threshold: float = 0.3,
        known_laws: Iterable[str] | None = None,
    ) -> None:
        """``known_laws``: the law titles the index holds (:func:`law_titles_in_store`). Without them a
        law name written without 《》 is cut out of the sentence by rule, which shortens real names
        (实施国际著作权条约的规定 第十五条 read as 国际著作权条约的规定 第十五条) and reports a real
        citation as unresolved. Pass them once per index version: they are normalised once."""
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"support threshold must be in [0, 1], got {threshold}")
        self.lookup = lookup
        self.judge = judge
        self.threshold = threshold
        # a frozenset: find_citations caches its normalised form by identity/hash, not per answer
        self.known_laws = frozenset(known_laws) if known_laws is not None else None
        self.citation_versions = CitationVersions(lookup)

    def verify(self, text: str, sources: Sequence[Hit]) -> Verification:
        targets: dict[int, _Target] = {}
        written: dict[str, int] = {}  # canonical (or raw) written citation -> its number
        statements: list[Statement] = []
        # Written citations get numbers after every source AND every marker of the text, so that a
        # fabricated [4] (three sources) can never be taken for a written citation's number.
        floor = max([len(sources), *marker_numbers(text)])
        for raw in split_statements(text):
            found = self._written(raw)
            numbers, unresolved = self._numbers_of(raw, found, sources, targets, written, floor)
            # The citations themselves are checked by resolution; the judge scores what is claimed.
            body = statement_body(_cut(raw, [(f.start, f.end) for f in found]))
            statements.append(self._judge_statement(raw, body, numbers, unresolved, targets))
        citations = tuple(self._answer_citation(targets[n]) for n in sorted(targets))
        return Verification(citations, tuple(statements))

    # -- citations of one statement ----------------------------------------------------------

    def _numbers_of(
        self,
        raw: str,
        found: list,
        sources: Sequence[Hit],
        targets: dict[int, _Target],
        written: dict[str, int],
        floor: int,
    ) -> tuple[list[int], bool]:
        """The statement's citation numbers, and whether any of its citations is unresolved."""
        numbers = marker_numbers(raw)
        for n in numbers:
            if n not in targets:
                targets[n] = self._source_target(n, sources)
        unresolved = any(not targets[n].resolved for n in numbers)
        for f in found:
            n, ok = self._written_number(f, numbers, sources, targets, written, floor)
            unresolved = unresolved or not ok
            if n is not None and n not in numbers:
                numbers.append(n)
        return numbers, unresolved

    @staticmethod
    def _source_target(n: int, sources: Sequence[Hit]) -> _Target:
        if 1 <= n <= len(sources):
            chunk = sources[n - 1].chunk
            return _Target(n, chunk.citation, chunk, chunk.text)
        return _Target(n, f"[{n}]", None, "", problem="unresolved")

    def _written(self, raw: str) -> list:
        return find_citations(_mask_quotations(raw), known_laws=self.known_laws)

    def _written_number(
        self,
        found,
        marker_numbers_: list[int],
        sources: Sequence[Hit],
        targets: dict[int, _Target],
        written: dict[str, int],
        floor: int,
    ) -> tuple[int | None, bool]:
        """(number, resolved) of a written citation; number None when a marker of the statement
        already stands for it."""
        ref = found.ref
        named = self._chunks_of_named_version(ref)

        def cites(chunk: Chunk) -> bool:
            # unit keys, not strings: "US 8,927,118, claim 3" is the chunk "US 8,927,118 B2, claim 3";
            # a version written in the citation (专利法实施细则（2010）…) must be that chunk's
            return same_unit(ref, chunk) and (named is None or chunk.id in named)

        # 1. the statement's own marker already cites this unit: same citation (narrowed to a part)
        for n in marker_numbers_:
            target = targets.get(n)
            if target and target.chunk is not None and cites(target.chunk):
                if ref.part is None:
                    return None, True
                part = find_part(target.chunk, ref)
                if isinstance(part, ResolutionFailure):
                    return self._unresolved_written(found.matched, targets, written, floor), False
                if part is not None:
                    target.evidence = _part_text(target.chunk, part)
                return None, True
        key = f"{ref.canonical}@{ref.version}" if ref.version else ref.canonical
        if key in written:
            n = written[key]
            return n, targets[n].resolved
        # 2. one of the numbered sources is this unit
        for i, hit in enumerate(sources, 1):
            if cites(hit.chunk):
                part = find_part(hit.chunk, ref) if ref.part else None
                if isinstance(part, ResolutionFailure):
                    return self._unresolved_written(found.matched, targets, written, floor), False
                if i not in targets:
                    targets[i] = self._source_target(i, sources)
                if part is not None:
                    targets[i].evidence = _part_text(hit.chunk, part)
                written[key] = i
                return i, True
        # 3. anywhere in the index (newest version first)
        outcome = resolve_ref(ref, self.lookup)
        if not outcome.ok:
            return self._unresolved_written(found.matched, targets, written, floor), False
        best = outcome.resolutions[0]
        n = self._next_number(targets, floor)
        # a version not in force today is cited with its version, as retrieval shows it
        citation = self.citation_versions.citation(ref.canonical, best.chunk.document_id)
        targets[n] = _Target(n, citation, best.chunk, best.text)
        written[key] = n
        return n, True

    def _chunks_of_named_version(self, ref) -> frozenset[str] | None:  # type: ignore[no-untyped-def]
        """The chunks of the version a citation names (``（2010）``, ``2010年…``, ``原…``); None when
        it names none (any version is the unit); empty when the version does not exist."""
        if not ref.version:
            return None
        outcome = resolve_ref(ref, self.lookup)
        return frozenset(r.chunk.id for r in outcome.resolutions)

    def _unresolved_written(
        self, matched: str, targets: dict[int, _Target], written: dict[str, int], floor: int
    ) -> int:
        if matched in written:
            return written[matched]
        n = self._next_number(targets, floor)
        targets[n] = _Target(n, matched, None, "", problem="unresolved")
        written[matched] = n
        return n

    @staticmethod
    def _next_number(targets: dict[int, _Target], after: int) -> int:
        return max([after, *targets]) + 1

    # -- support ----------------------------------------------------------------------------

    def _judge_statement(
        self, raw: str, body: str, numbers: list[int], unresolved: bool, targets: dict[int, _Target]
    ) -> Statement:
        resolved = [targets[n] for n in numbers if targets[n].resolved]
        if not resolved:
            return Statement(raw, tuple(numbers), supported=False, support=0.0)
        quotes = [q for q in quotations(raw) if len(q.strip()) >= _MIN_QUOTE_CHARS]
        per_target: list[float] = []
        for target in resolved:
            support = self.judge.support(body, target.evidence)
            missing = [q for q in quotes if _squash(q) not in _squash(target.evidence)]
            # With several citations, a quote need only be in one of them.
            misquoted = bool(missing) and not any(
                all(_squash(q) in _squash(t.evidence) for q in missing) for t in resolved if t is not target
            )
            problem = "span_not_found" if misquoted else ("unsupported" if support < self.threshold else None)
            target.uses.append((support, problem, self._span(body, quotes, target)))
            per_target.append(support if not misquoted else 0.0)
        if len(resolved) > 1:
            combined = self.judge.support(body, "\n".join(t.evidence for t in resolved))
            support = max(combined, *per_target)
        else:
            support = per_target[0]
        misquoted_all = all(u.uses[-1][1] == "span_not_found" for u in resolved)
        # A statement resting on a fabricated citation is not supported, whatever else it cites.
        supported = support >= self.threshold and not misquoted_all and not unresolved
        return Statement(raw, tuple(numbers), supported=supported, support=round(float(support), 4))

    def _span(self, body: str, quotes: list[str], target: _Target) -> str:
        """The exact text of the cited unit that best supports the statement: a quotation of the
        statement found verbatim in it, else its best-scoring sentence."""
        verbatim = [q.strip() for q in quotes if q.strip() and q.strip() in target.evidence]
        if verbatim:
            # an enumeration's lead-in ("有下列情形之一的，不视为侵犯专利权：") frames the quote; the
            # item after it is what supports the statement
            return max(verbatim, key=lambda q: (not q.endswith((":", "：")), len(q)))
        evidence = target.evidence
        spans = sentence_spans(evidence, min_chars=2)[:_MAX_SPAN_SENTENCES]
        if not spans:
            return evidence.strip()
        best = max(spans, key=lambda s: (self.judge.support(body, evidence[s[0] : s[1]]), -s[0]))
        return evidence[best[0] : best[1]]

    def _answer_citation(self, target: _Target) -> AnswerCitation:
        chunk = target.chunk
        if chunk is None:
            return AnswerCitation(
                target.number,
                target.citation,
                "",
                None,
                None,
                verified=False,
                support=0.0,
                problem=target.problem or "unresolved",
            )
        if not target.uses:  # resolved but used by no statement (cannot happen; kept for safety)
            return AnswerCitation(
                target.number,
                target.citation,
                "",
                chunk.id,
                chunk.document_id,
                verified=False,
                support=0.0,
                problem="unsupported",
            )
        good = [u for u in target.uses if u[1] is None]
        support, problem, span = max(good or target.uses, key=lambda u: u[0])
        return AnswerCitation(
            target.number,
            target.citation,
            span,
            chunk.id,
            chunk.document_id,
            verified=problem is None,
            support=round(float(support), 4),
            problem=problem,
        )


def verify_answer(
    text: str,
    sources: Sequence[Hit],
    lookup: ChunkLookup,
    judge: SupportJudge,
    *,
    threshold: float = 0.3,
    known_laws: Iterable[str] | None = None,
) -> Verification:
    """Convenience wrapper around :class:`CitationVerifier`."""
    return CitationVerifier(lookup, judge, threshold=threshold, known_laws=known_laws).verify(text, sources)


def law_titles_in_store(store: ChunkStore, *, page: int = 500) -> frozenset[str]:
    """The titles of the statutes (laws, regulations, judicial interpretations) in ``store``: the
    ``known_laws`` of :class:`CitationVerifier`. Reads every statute document once (~40 ms for the
    1,528 laws of cn-law + us-law), so call it once per index version, never per answer."""
    titles: set[str] = set()
    statutes = SearchFilters(kinds=frozenset({"statute"}))
    offset = 0
    while True:
        documents = store.documents(offset=offset, limit=page, filters=statutes)
        titles.update(document.title for document in documents)
        if len(documents) < page:
            return frozenset(titles)
        offset += page
