"""Request and response bodies (pydantic), and their conversion from ipqa's domain values.

Domain objects stay frozen dataclasses; these models exist only at the HTTP boundary so the OpenAPI
document describes exactly what clients send and receive.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from indexes.protocols import SearchFilters
from ipqa.errors import InputError
from ipqa.in_force import parse_as_of
from ipqa.domain import (
    Answer,
    AnswerCitation,
    Chunk,
    DocKind,
    Document,
    Hit,
    Jurisdiction,
    Language,
    Part,
    QuestionType,
)
from rag.conversation import Turn

_ISO_DATE = r"^\d{4}(-\d{2}(-\d{2})?)?$"
AS_OF_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"  # what a schema can say of a real date
MAX_K = 100


def checked_as_of(value: str | None) -> str | None:
    """An ``as_of`` field's value checked by ``ipqa.in_force.parse_as_of`` (the CLI's and every
    endpoint's rule): a date that is not in the calendar or lies after today fails validation."""
    if value is None:
        return None
    try:
        return parse_as_of(value)
    except InputError as exc:
        raise ValueError(exc.problem) from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _encodable(value: str) -> str:
    """JSON may carry a lone surrogate ("\\ud800") that no text encoding can write: refuse it here
    (422) rather than let SQLite or a tokenizer fail on it later (500)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains a lone surrogate (an unpaired \\ud800-\\udfff escape), which is not text") from None
    return value


# --- requests ------------------------------------------------------------------------------------

class Filters(_Strict):
    """Metadata filters applied inside both indexes (before the top-k cut)."""

    jurisdictions: list[Jurisdiction] | None = Field(default=None, max_length=8)
    kinds: list[DocKind] | None = Field(default=None, max_length=8)
    languages: list[Language] | None = Field(default=None, max_length=8)
    document_ids: list[str] | None = Field(default=None, max_length=200)
    titles: list[str] | None = Field(default=None, max_length=50, description="Exact document titles.")
    version_from: str | None = Field(default=None, pattern=_ISO_DATE, description="ISO date, inclusive.")
    version_to: str | None = Field(default=None, pattern=_ISO_DATE, description="ISO date, inclusive.")

    @field_validator("document_ids", "titles")
    @classmethod
    def _text_items(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else [_encodable(v) for v in values]

    def to_domain(self) -> SearchFilters | None:
        def values(items: list[Any] | None) -> frozenset[str] | None:
            return None if items is None else frozenset(str(i) for i in items)

        filters = SearchFilters(jurisdictions=values(self.jurisdictions), kinds=values(self.kinds),
                                document_ids=values(self.document_ids), titles=values(self.titles),
                                languages=values(self.languages), version_from=self.version_from,
                                version_to=self.version_to)
        return None if filters.is_empty() else filters


class _QueryBase(_Strict):
    filters: Filters | None = None
    k: int | None = Field(default=None, ge=1, le=MAX_K,
                          description="How many hits retrieval keeps (default: the server's top_k). Not an upper "
                                      "bound on what is returned: cross-reference expansion then adds the "
                                      "provisions those hits cite, each marked with `expanded_from`.")

    as_of: str | None = Field(
        default=None, pattern=AS_OF_PATTERN, examples=["2015-06-01"],
        description="YYYY-MM-DD, a real date not after today (else 422): of each law only the version in "
                    "force on that date is searched and cited (default: the version in force today).")

    @field_validator("question", "query", check_fields=False)
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return _encodable(value)

    @field_validator("as_of")
    @classmethod
    def _a_past_date(cls, value: str | None) -> str | None:
        return checked_as_of(value)

    def search_filters(self) -> SearchFilters | None:
        """The request's filters with its ``as_of`` date (None: none of either)."""
        filters = self.filters.to_domain() if self.filters else None
        if self.as_of is None:
            return filters
        return replace(filters or SearchFilters(), as_of=self.as_of)


class SearchRequest(_QueryBase):
    query: str = Field(min_length=1, max_length=20_000, examples=["专利法第十一条 未经许可实施专利"])


class HistoryTurn(_Strict):
    """An earlier turn of the conversation, as the client keeps it."""

    question: str = Field(min_length=1, max_length=20_000)
    answer: str = Field(default="", max_length=100_000)
    citations: list[str] = Field(default_factory=list, max_length=100,
                                 description="Canonical citations of the answer (carried to follow-ups).")

    @field_validator("question", "answer")
    @classmethod
    def _text(cls, value: str) -> str:
        return _encodable(value)

    @field_validator("citations")
    @classmethod
    def _text_items(cls, values: list[str]) -> list[str]:
        return [_encodable(v) for v in values]

    def to_domain(self) -> Turn:
        return Turn(question=self.question, answer=self.answer, citations=tuple(self.citations))


MAX_HISTORY = 50


class AskRequest(_QueryBase):
    # `history` and `conversation_id` exclude each other; said in the document so that clients (and
    # schema-driven tests) know it
    model_config = ConfigDict(extra="forbid", json_schema_extra={"not": {"required": ["history", "conversation_id"]}})

    question: str = Field(min_length=1, max_length=20_000, examples=["未经专利权人许可制造其专利产品是否侵权？"])
    type: QuestionType | None = Field(default=None, description="Question type; detected when omitted.")
    stream: StrictBool = Field(default=False, description="Server-Sent Events: `token` events, then `answer`.")
    history: list[HistoryTurn] | None = Field(
        default=None, max_length=MAX_HISTORY,
        description="Earlier turns, oldest first: a follow-up (\"那商标呢？\", \"第二款呢？\") is read against them.")
    conversation_id: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$",
        description="A server-side conversation (POST /v1/conversations): its turns are the history, and "
                    "this question and its answer are added to it. Not together with `history`.")


class RebuildRequest(_Strict):
    sources: list[Annotated[str, Field(min_length=1, max_length=4096, pattern=r"^[^\x00]+$")]] | None = Field(
        default=None, max_length=100,
        description="Paths to ingest, inside the configured rebuild sources or the uploads directory "
                    "(default: all configured rebuild sources). Uploaded documents are always included.")

    @field_validator("sources")
    @classmethod
    def _text_items(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else [_encodable(v) for v in values]


# --- responses: the pieces -----------------------------------------------------------------------

class DocumentOut(BaseModel):
    id: str
    kind: DocKind
    jurisdiction: Jurisdiction
    title: str
    language: Language
    version: str | None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, document: Document, *, metadata: dict[str, Any] | None = None) -> "DocumentOut":
        return cls(id=document.id, kind=document.kind, jurisdiction=document.jurisdiction, title=document.title,
                   language=document.language, version=document.version,
                   metadata=metadata if metadata is not None else _public_metadata(document.metadata))


class PartOut(BaseModel):
    label: str
    start: int
    end: int
    citation: str
    text: str

    @classmethod
    def of(cls, part: Part, chunk: Chunk) -> "PartOut":
        return cls(label=part.label, start=part.start, end=part.end, citation=f"{chunk.citation} {part.label}",
                   text=chunk.text[part.start:part.end])


class ChunkOut(BaseModel):
    id: str
    document_id: str
    citation: str
    unit: str
    language: Language
    text: str
    hierarchy: list[str]
    parts: list[PartOut]
    references: list[str]
    page: int | None
    ordinal: int

    @classmethod
    def of(cls, chunk: Chunk) -> "ChunkOut":
        return cls(id=chunk.id, document_id=chunk.document_id, citation=chunk.citation, unit=chunk.unit,
                   language=chunk.language, text=chunk.text, hierarchy=list(chunk.hierarchy),
                   parts=[PartOut.of(p, chunk) for p in chunk.parts], references=list(chunk.references),
                   page=chunk.page, ordinal=chunk.ordinal)


class NeighbourOut(BaseModel):
    id: str
    citation: str
    ordinal: int


class HitOut(BaseModel):
    rank: int
    score: float
    source: str
    component_scores: dict[str, float]
    expanded_from: str | None
    chunk_id: str
    citation: str
    text: str
    document_id: str
    hierarchy: list[str]

    @classmethod
    def of(cls, hit: Hit) -> "HitOut":
        chunk = hit.chunk
        return cls(rank=hit.rank, score=_finite(hit.score), source=hit.source,
                   component_scores={k: _finite(v) for k, v in hit.component_scores.items()},
                   expanded_from=hit.expanded_from, chunk_id=chunk.id, citation=chunk.citation, text=chunk.text,
                   document_id=chunk.document_id, hierarchy=list(chunk.hierarchy))


class CitationOut(BaseModel):
    number: int
    citation: str
    quoted_span: str
    chunk_id: str | None
    document_id: str | None
    verified: bool
    support: float
    problem: str | None
    current: list[str] | None = Field(
        default=None, description="Set when the cited law version is not the one in force today: the "
                                  "corresponding articles of today's version (empty: deleted since).")
    note: str | None = Field(default=None, description="Says that the cited version is no longer current "
                                                       "and names the current article.")

    @classmethod
    def of(cls, c: AnswerCitation) -> "CitationOut":
        return cls(number=c.number, citation=c.citation, quoted_span=c.quoted_span, chunk_id=c.chunk_id,
                   document_id=c.document_id, verified=c.verified, support=_finite(c.support), problem=c.problem,
                   current=None if c.current is None else list(c.current), note=c.note)


class StatementOut(BaseModel):
    text: str
    citation_numbers: list[int]
    supported: bool
    support: float


# --- responses: the endpoints --------------------------------------------------------------------

class SearchResponse(BaseModel):
    query: str
    index_version: str
    hits: list[HitOut]
    documents: dict[str, DocumentOut] = Field(description="The hits' documents by id.")
    timings: dict[str, float]


class AskResponse(BaseModel):
    question: str
    question_type: QuestionType
    answer: str
    abstained: bool
    abstain_reason: str | None
    citations: list[CitationOut]
    statements: list[StatementOut]
    evidence: list[HitOut]
    documents: dict[str, DocumentOut] = Field(description="The evidence's and citations' documents by id.")
    generator: str
    index_version: str
    timings: dict[str, float]
    standalone_question: str | None = Field(
        default=None, description="A follow-up made standalone from the earlier turns (what was searched).")
    carried: list[str] = Field(default_factory=list,
                               description="Laws, units and subject carried forward from the earlier turns.")
    conversation_id: str | None = None

    @classmethod
    def of(cls, answer: Answer, *, index_version: str, documents: dict[str, DocumentOut],
           conversation_id: str | None = None) -> "AskResponse":
        return cls(question=answer.question, question_type=answer.question_type, answer=answer.text,
                   abstained=answer.abstained, abstain_reason=answer.abstain_reason,
                   citations=[CitationOut.of(c) for c in answer.citations],
                   statements=[StatementOut(text=s.text, citation_numbers=list(s.citation_numbers),
                                            supported=s.supported, support=_finite(s.support))
                               for s in answer.statements],
                   evidence=[HitOut.of(h) for h in answer.evidence], documents=documents,
                   generator=answer.generator, index_version=index_version,
                   timings={k: float(v) for k, v in answer.timings.items()},
                   standalone_question=answer.standalone_question, carried=list(answer.carried),
                   conversation_id=conversation_id)


class ChunkContext(BaseModel):
    """What a user clicking a citation needs: the unit, its document, its neighbours, the part."""

    chunk: ChunkOut
    document: DocumentOut | None
    part: PartOut | None = None
    previous: NeighbourOut | None
    next: NeighbourOut | None
    index_version: str


class Resolved(BaseModel):
    citation: str = Field(description="Canonical citation of what was resolved.")
    version: str | None
    context: ChunkContext


class ResolveResponse(BaseModel):
    query: str
    resolutions: list[Resolved] = Field(description="One per law version, newest first.")


class DocumentPage(BaseModel):
    items: list[DocumentOut]
    total: int
    offset: int
    limit: int
    index_version: str


class StoredUploadOut(BaseModel):
    filename: str
    sha256: str
    size: int
    duplicate: bool


class JobAccepted(BaseModel):
    job_id: str
    state: str
    kind: str
    href: str
    uploads: list[StoredUploadOut] = Field(default_factory=list)


class JobOut(BaseModel):
    id: str
    kind: str
    state: Literal["queued", "running", "succeeded", "failed", "interrupted"]
    created_at: str
    started_at: str | None
    finished_at: str | None
    stage: str | None
    progress: dict[str, Any]
    params: dict[str, Any]
    errors: list[dict[str, str]]
    error: str | None
    result: dict[str, Any] | None


class ConversationOut(BaseModel):
    id: str
    created_at: float
    updated_at: float
    turns: list[HistoryTurn]


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    """``ready`` alone for a caller without read access."""

    ready: bool
    index_version: str | None = None
    documents: int | None = None
    chunks: int | None = None
    embedder: str | None = None
    generator: str | None = None


# --- helpers ---------------------------------------------------------------------------------------

def _finite(value: float) -> float:
    """JSON has no NaN/inf: a score that is not finite becomes 0 (never a 500 at serialisation)."""
    value = float(value)
    return value if math.isfinite(value) else 0.0


_HIDDEN_METADATA = {"source", "source_path", "path"}


def _public_metadata(metadata: Any) -> dict[str, Any]:
    """A document's metadata without server paths (clients see the original name, not where it lives)."""
    return {str(k): v for k, v in dict(metadata).items() if k not in _HIDDEN_METADATA and _jsonable(v)}


def _jsonable(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, type(None), list, dict))
