"""The domain: what ingest produces, indexes store, rag retrieves and answers with.

Everything here is a frozen dataclass so it can be shared between threads and cached safely.
Ids are derived from content (see :mod:`ipqa.ids`), so ingesting the same file twice gives the
same ids and re-indexing is idempotent.

Canonical citation forms (what ``Chunk.citation`` holds; ``ingest.citations`` parses all of them):

=====================  ==================================================================
unit                   canonical citation
=====================  ==================================================================
CN statute article     ``专利法 第十一条`` (law title without the 中华人民共和国 prefix)
  paragraph / item     ``专利法 第十一条 第一款`` / ``专利法 第十一条 第一款 第（二）项``
US Code section        ``35 U.S.C. § 271`` ; subsection ``35 U.S.C. § 271(a)(1)``
patent abstract        ``US 8,927,118 B2, abstract``
patent claim           ``US 8,927,118 B2, claim 3``
patent paragraphs      ``US 8,927,118 B2, ¶ [0023]`` or ``US 8,927,118 B2, ¶¶ [0023]–[0027]``
patent figure          ``US 8,927,118 B2, FIG. 2``
CN judgment part       ``（2019）最高法知民终123号 本院认为``
US opinion part        ``<case name>, <docket or reporter>, Part II`` / ``…, ¶ 12``
=====================  ==================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Mapping


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


class DocKind(StrEnum):
    STATUTE = "statute"
    JUDGMENT = "judgment"
    PATENT = "patent"
    OTHER = "other"


class Jurisdiction(StrEnum):
    CN = "CN"
    US = "US"
    OTHER = "other"


class Language(StrEnum):
    ZH = "zh"
    EN = "en"


class QuestionType(StrEnum):
    DOCTRINE = "doctrine"
    CONDUCT = "conduct"
    CASE = "case"
    DRAFTING = "drafting"


@dataclass(frozen=True, slots=True)
class Part:
    """A citable position inside a chunk: 款/项 of an article, a subsection, a numbered paragraph.

    ``label`` is what is appended to the chunk's citation to cite just this part
    (``第一款``, ``第一款 第（二）项``, ``(a)(1)``, ``[0023]``); ``start``/``end`` index ``Chunk.text``.
    """

    label: str
    start: int
    end: int

    def __post_init__(self) -> None:
        if not self.label:
            raise ValueError("Part.label must not be empty")
        if not 0 <= self.start <= self.end:
            raise ValueError(f"Part {self.label!r}: bad span ({self.start}, {self.end})")


@dataclass(frozen=True)
class Document:
    """One source document: a law (one version of it), a judgment, a patent, or another file."""

    id: str
    kind: DocKind
    jurisdiction: Jurisdiction
    title: str
    language: Language
    source_path: str
    version: str | None = None  # ISO date of the version / effective date / publication date
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("Document.id must not be empty")
        if not self.title:
            raise ValueError(f"Document {self.id}: title must not be empty ({self.source_path})")
        object.__setattr__(self, "kind", DocKind(self.kind))
        object.__setattr__(self, "jurisdiction", Jurisdiction(self.jurisdiction))
        object.__setattr__(self, "language", Language(self.language))
        object.__setattr__(self, "metadata", _frozen_mapping(self.metadata))

    def __hash__(self) -> int:
        return hash(self.id)


@dataclass(frozen=True)
class Chunk:
    """Exactly one citable legal unit (an article, a section, a claim, a group of paragraphs…)."""

    id: str
    document_id: str
    text: str
    citation: str  # canonical citation, see the module docstring
    unit: str  # article | section | abstract | claim | paragraphs | figure | judgment_part | text
    language: Language
    hierarchy: tuple[str, ...] = ()  # e.g. ("第二编", "第三章", "第十一条")
    span: tuple[int, int] = (0, 0)  # character span in the source document's text
    page: int | None = None
    parts: tuple[Part, ...] = ()
    references: tuple[str, ...] = ()  # canonical citations this unit makes to other units
    ordinal: int = 0  # position within its document
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("Chunk.id must not be empty")
        if not self.citation:
            raise ValueError(f"Chunk {self.id}: citation must not be empty")
        object.__setattr__(self, "language", Language(self.language))
        object.__setattr__(self, "hierarchy", tuple(self.hierarchy))
        object.__setattr__(self, "span", tuple(self.span))
        object.__setattr__(self, "parts", tuple(self.parts))
        object.__setattr__(self, "references", tuple(self.references))
        object.__setattr__(self, "metadata", _frozen_mapping(self.metadata))

    def __hash__(self) -> int:
        return hash(self.id)

    def part(self, label: str) -> Part | None:
        return next((p for p in self.parts if p.label == label), None)


@dataclass(frozen=True)
class ParsedDocument:
    """What a parser returns for one document."""

    document: Document
    chunks: tuple[Chunk, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its score and where the score came from."""

    chunk: Chunk
    score: float
    rank: int = 0
    source: str = "hybrid"  # bm25 | dense | hybrid | rerank | xref
    component_scores: Mapping[str, float] = field(default_factory=dict)
    expanded_from: str | None = None  # chunk id whose cross-reference brought this one in

    def __post_init__(self) -> None:
        object.__setattr__(self, "component_scores", _frozen_mapping(self.component_scores))

    def __hash__(self) -> int:
        return hash((self.chunk.id, self.source, self.rank))


@dataclass(frozen=True)
class AnswerCitation:
    """One citation in an answer and the result of checking it against the cited text."""

    number: int  # the [n] marker used in the answer text
    citation: str  # canonical citation (as resolved) or the raw text when unresolved
    quoted_span: str  # the exact text of the cited unit that supports the statement
    chunk_id: str | None
    document_id: str | None
    verified: bool
    support: float
    problem: str | None = None  # unresolved | span_not_found | unsupported | None
    # The cited law version is no longer in force (or not yet): its counterparts in the version in force
    # today (``()``: the unit was deleted) and a note saying so. ``None``: the version is the current one.
    current: tuple[str, ...] | None = None
    note: str | None = None


@dataclass(frozen=True)
class Statement:
    """A sentence of the answer and the citations it relies on."""

    text: str
    citation_numbers: tuple[int, ...]
    supported: bool
    support: float


@dataclass(frozen=True)
class Answer:
    question: str
    question_type: QuestionType
    text: str
    citations: tuple[AnswerCitation, ...]
    statements: tuple[Statement, ...]
    evidence: tuple[Hit, ...]
    generator: str
    abstained: bool = False
    abstain_reason: str | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    # a follow-up made standalone from earlier turns (what retrieval searched); None when the
    # question stood alone. ``carried``: the laws, units and subject taken from those turns.
    standalone_question: str | None = None
    carried: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "question_type", QuestionType(self.question_type))
        object.__setattr__(self, "timings", _frozen_mapping(self.timings))
