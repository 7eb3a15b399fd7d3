"""Building the responses that need the chunk store: documents of hits, a chunk in its context."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from api.schemas import ChunkContext, ChunkOut, DocumentOut, NeighbourOut, PartOut
from api.uploads import display_name
from ipqa.domain import Chunk, Part
from rag.versioned import CitationVersions


def documents_by_id(store: Any, document_ids: Iterable[str | None], uploads_dir: Path,
                    cache: dict[str, DocumentOut] | None = None) -> dict[str, DocumentOut]:
    """The documents of these ids. ``cache`` (one per index version: documents never change
    inside a version) saves a store query and a conversion per document per response."""
    out: dict[str, DocumentOut] = {}
    for document_id in dict.fromkeys(d for d in document_ids if d):
        found = cache.get(document_id) if cache is not None else None
        if found is None:
            document = store.document(document_id)
            if document is None:
                continue
            found = document_out(document, uploads_dir)
            if cache is not None:
                cache[document_id] = found
        out[document_id] = found
    return out


def document_out(document: Any, uploads_dir: Path) -> DocumentOut:
    out = DocumentOut.of(document)
    # the file a document came from, as its uploader or the corpus names it (never a server path)
    out.metadata["file"] = display_name(document.source_path, uploads_dir)
    return out


def chunk_context(store: Any, chunk: Chunk, *, part: Part | None, index_version: str,
                  uploads_dir: Path, versions: CitationVersions | None = None) -> ChunkContext:
    """``chunk`` with its document, part and neighbours; ``versions``: their citations name the
    version when it is not in force today."""
    if versions is not None:
        chunk = versions.chunk(chunk)
    document = store.document(chunk.document_id)
    previous = following = None
    siblings = getattr(store, "chunks_of_document", None)
    if siblings is not None:
        ordered = siblings(chunk.document_id)
        position = next((i for i, c in enumerate(ordered) if c.id == chunk.id), None)
        if position is not None:
            if position > 0:
                previous = _neighbour(ordered[position - 1], versions)
            if position + 1 < len(ordered):
                following = _neighbour(ordered[position + 1], versions)
    return ChunkContext(chunk=ChunkOut.of(chunk),
                        document=document_out(document, uploads_dir) if document is not None else None,
                        part=PartOut.of(part, chunk) if part is not None else None,
                        previous=previous, next=following, index_version=index_version)


def _neighbour(chunk: Chunk, versions: CitationVersions | None) -> NeighbourOut:
    citation = versions.citation(chunk.citation, chunk.document_id) if versions is not None else chunk.citation
    return NeighbourOut(id=chunk.id, citation=citation, ordinal=chunk.ordinal)
