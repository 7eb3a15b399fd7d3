"""The one set of test factories for the domain: documents, chunks, parsed documents and hits.

Ids are derived from content the way the parsers derive them (:mod:`ipqa.ids`) unless a test gives
one, so a corpus built twice has the same ids. Corpora (tests/index_corpus.py, tests/rag_fixtures.py)
and single tests build on these instead of constructing ``Chunk``/``Document`` by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ipqa.domain import Chunk, Document, Hit, ParsedDocument, Part
from ipqa.ids import chunk_id, document_id


@dataclass(frozen=True)
class Unit:
    """One citable unit of a :func:`parsed_document`: what becomes a chunk."""

    citation: str
    text: str
    unit: str = "article"
    parts: tuple[Part, ...] = ()
    hierarchy: tuple[str, ...] = ()
    span: tuple[int, int] = (0, 0)
    references: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)


def parsed_document(title: str, units: Sequence[Unit], *, kind: str = "statute", jurisdiction: str = "CN",
                    language: str = "zh", version: str | None = None, source_path: str | None = None,
                    metadata: Mapping[str, Any] | None = None) -> ParsedDocument:
    """A document and its chunks (in ``units`` order), with content-derived ids."""
    full_text = "\n".join(unit.text for unit in units)
    did = document_id(kind, jurisdiction, title, version, full_text)
    document = Document(id=did, kind=kind, jurisdiction=jurisdiction, title=title, language=language,
                        source_path=source_path or f"{title}.txt", version=version, metadata=metadata or {})
    chunks = tuple(
        Chunk(id=chunk_id(did, unit.citation, unit.text), document_id=did, text=unit.text, citation=unit.citation,
              unit=unit.unit, language=language, hierarchy=unit.hierarchy, span=unit.span, parts=unit.parts,
              references=unit.references, ordinal=ordinal, metadata=unit.metadata)
        for ordinal, unit in enumerate(units))
    return ParsedDocument(document=document, chunks=chunks)


def make_document(title: str = "中华人民共和国专利法", *, id: str = "d1", kind: str = "statute",
                  jurisdiction: str = "CN", language: str = "zh", source_path: str | None = None,
                  version: str | None = None, metadata: Mapping[str, Any] | None = None) -> Document:
    """A lone document (no chunks), for tests of functions that take one."""
    return Document(id=id, kind=kind, jurisdiction=jurisdiction, title=title, language=language,
                    source_path=source_path or f"{title}.md", version=version, metadata=metadata or {})


def make_chunk(citation: str, text: str = "x", *, id: str | None = None, document_id: str = "d1",
               unit: str = "article", language: str = "zh", parts: tuple[Part, ...] = (),
               references: tuple[str, ...] = (), hierarchy: tuple[str, ...] = (),
               metadata: Mapping[str, Any] | None = None) -> Chunk:
    """A lone chunk; its id is derived from document id, citation and text unless given."""
    return Chunk(id=id or chunk_id(document_id, citation, text), document_id=document_id, text=text,
                 citation=citation, unit=unit, language=language, hierarchy=hierarchy, parts=parts,
                 references=references, metadata=metadata or {})


def make_hit(chunk: Chunk | str, *, score: float = 1.0, rank: int = 1, source: str = "hybrid",
             language: str = "zh") -> Hit:
    """A hit of ``chunk``, or of a placeholder chunk whose id and citation are the given string."""
    if isinstance(chunk, str):
        chunk = make_chunk(chunk, "t", id=chunk, document_id="d", language=language)
    return Hit(chunk=chunk, score=score, rank=rank, source=source)
