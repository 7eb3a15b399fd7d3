"""Is every citation of an answer real, and does it support what it is attached to?

Citation recall and precision follow ALCE (Gao et al. 2023, "Enabling Large Language Models to
Generate Text with Citations"), with a pluggable support judge in place of ALCE's NLI model:

* a statement counts for **recall** when the concatenated texts it cites support it
  (``judge.support(statement, texts) >= threshold``); a statement citing nothing is unsupported;
* a citation counts for **precision** unless it is irrelevant: it alone does not support its
  statement AND the statement's other citations support it without it. A citation of a statement
  its citations do not jointly support is not precise; a statement's single citation is precise
  exactly when the statement is supported.

A **fabricated** citation resolves to nothing in the index, or quotes a span that is not in the
text it cites (whitespace ignored) — what a user would catch by opening the cited provision. A citation whose text is exactly the
canonical citation of the chunk the answer points to is real even when the resolver cannot parse it
back; it is counted apart (``resolver_mismatch``) so the resolver defect shows without being
blamed on the answer.

The judge sees the cited unit's text as :func:`ingest.citations.resolve_citation` finds it (the part
when a 款/subsection is cited), so the evaluation does not trust the answerer's own verification.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from indexes.protocols import ChunkLookup
from ingest.citations import resolve
from ipqa.domain import AnswerCitation, Chunk
from rag.protocols import SupportJudge


@dataclass(frozen=True)
class CitedStatement:
    """A statement of an answer and the texts of what it cites (None: a citation that resolves to
    nothing, which supports nothing)."""

    text: str
    evidence: tuple[str | None, ...]


@dataclass(frozen=True)
class CitationCounts:
    statements: int = 0
    supported_statements: int = 0
    citations: int = 0  # citation uses (a citation used by two statements counts twice, as in ALCE)
    precise_citations: int = 0

    def __add__(self, other: "CitationCounts") -> "CitationCounts":
        return CitationCounts(self.statements + other.statements,
                              self.supported_statements + other.supported_statements,
                              self.citations + other.citations, self.precise_citations + other.precise_citations)

    @property
    def recall(self) -> float:
        return self.supported_statements / self.statements if self.statements else 0.0

    @property
    def precision(self) -> float:
        return self.precise_citations / self.citations if self.citations else 0.0


def _joined(texts: Sequence[str | None]) -> str:
    return "\n".join(t for t in texts if t)


def alce_counts(statements: Sequence[CitedStatement], judge: SupportJudge, *,
                threshold: float) -> CitationCounts:
    """ALCE citation recall and precision counts over the statements of one answer."""

    def supports(texts: Sequence[str | None], statement: str) -> bool:
        evidence = _joined(texts)
        return bool(evidence) and judge.support(statement, evidence) >= threshold

    total = CitationCounts()
    for statement in statements:
        cited = statement.evidence
        joint = bool(cited) and supports(cited, statement.text)
        precise = 0
        if joint and len(cited) == 1:
            precise = 1
        elif joint:
            for i, text in enumerate(cited):
                alone = supports([text], statement.text)
                rest_suffices = supports([t for j, t in enumerate(cited) if j != i], statement.text)
                precise += 1 if alone or not rest_suffices else 0
        total = total + CitationCounts(1, int(joint), len(cited), precise)
    return total


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@dataclass(frozen=True)
class CheckedCitation:
    citation: AnswerCitation
    text: str | None  # the cited text (None: resolves to nothing)
    fabricated: bool
    reason: str | None  # unresolved | span_not_found | None
    # The cited chunk exists and its canonical citation is exactly this text, yet the resolver cannot
    # parse that text back to it (a defect of ingest.citations, not a fabrication): counted apart.
    resolver_mismatch: bool = False


def check_citation(citation: AnswerCitation, lookup: ChunkLookup) -> CheckedCitation:
    """Resolve a citation of an answer and check its quoted span against the cited text."""
    resolutions = resolve(citation.citation, lookup)
    if not resolutions:
        chunk = _chunk_named_exactly(citation, lookup)
        if chunk is None:
            return CheckedCitation(citation, None, True, "unresolved")
        span = _squash(citation.quoted_span or "")
        if span and span not in _squash(chunk.text):
            return CheckedCitation(citation, chunk.text, True, "span_not_found", resolver_mismatch=True)
        return CheckedCitation(citation, chunk.text, False, None, resolver_mismatch=True)
    # The version the answer cited when it says which chunk; else the newest.
    chosen = next((r for r in resolutions if r.chunk.id == citation.chunk_id), resolutions[0])
    span = _squash(citation.quoted_span or "")
    if span and not any(span in _squash(r.chunk.text) for r in resolutions):
        return CheckedCitation(citation, chosen.text, True, "span_not_found")
    return CheckedCitation(citation, chosen.text, False, None)


def _chunk_named_exactly(citation: AnswerCitation, lookup: ChunkLookup) -> Chunk | None:
    """The chunk the answer says it cites, when the store has it and the citation text is exactly its
    canonical citation (whitespace ignored); None otherwise."""
    get = getattr(lookup, "chunk", None)  # a ChunkStore has it; a bare ChunkLookup does not
    if not citation.chunk_id or get is None:
        return None
    chunk = get(citation.chunk_id)
    if chunk is None or _squash(chunk.citation) != _squash(citation.citation):
        return None
    return chunk


def fabricated_rate(checked: Sequence[CheckedCitation]) -> float:
    """Share of citations that are fabricated (0 when there are none)."""
    return sum(1 for c in checked if c.fabricated) / len(checked) if checked else 0.0
