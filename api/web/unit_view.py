"""What the unit view shows for a chunk: its document, hierarchy path, version, text with the
quoted span marked, neighbours, other versions, and the verification result."""

from __future__ import annotations

import re
from typing import Any, Callable, NamedTuple

from ipqa.domain import Chunk
from rag.versioned import CitationVersions


class Neighbour(NamedTuple):
    id: str
    citation: str


def highlight(text: str, quote: str) -> tuple[str, str, str] | None:
    """(before, quoted, after) of ``text`` around ``quote``; whitespace may differ (a quote is
    normalised when verified). None when the quote is not in the text."""
    quote = quote.strip().rstrip("…").strip()
    if not quote:
        return None
    at = text.find(quote)
    if at >= 0:
        return text[:at], quote, text[at + len(quote):]
    pattern = r"\s*".join(re.escape(ch) for ch in re.sub(r"\s+", "", quote))
    match = re.search(pattern, text)
    if match is None:
        return None
    return text[:match.start()], match.group(), text[match.end():]


def unit_view(store: Any, chunk: Chunk, *, quote: str = "", status: str | None = None,
              versions: CitationVersions | None = None) -> dict[str, Any]:
    """``versions``: the citations shown name the version when it is not in force today; ``chunk``
    is the stored one (its citation is what finds its other versions)."""
    cite = (lambda c: versions.citation(c.citation, c.document_id)) if versions is not None else (lambda c: c.citation)
    document = store.document(chunk.document_id)
    previous = following = None
    siblings = getattr(store, "chunks_of_document", None)
    if siblings is not None:
        ordered = siblings(chunk.document_id)
        position = next((i for i, c in enumerate(ordered) if c.id == chunk.id), None)
        if position is not None:
            previous = ordered[position - 1] if position > 0 else None
            following = ordered[position + 1] if position + 1 < len(ordered) else None
    return {
        "chunk": chunk,
        "citation": cite(chunk),
        "document": document,
        "path": list(chunk.hierarchy),
        "marked": highlight(chunk.text, quote),
        "quote": quote,
        "status": status,
        "previous": Neighbour(previous.id, cite(previous)) if previous else None,
        "next": Neighbour(following.id, cite(following)) if following else None,
        "versions": other_versions(store, chunk, cite),
        "history": unit_history(store, chunk, document),
    }


def unit_history(store: Any, chunk: Chunk, document: Any) -> Any:
    """The article in every version of its law (``rag.history``), newest version first; ``None`` for
    a unit without versions (judgments, patents, a law with one version) or a store that has none."""
    from rag.history import LawHistory

    if document is None or not callable(getattr(store, "law_versions", None)):
        return None
    found = LawHistory(store).of_chunk(chunk, document)
    if found is None:
        return None
    return {"citation": found.citation, "versions": list(reversed(found.versions))}


def other_versions(store: Any, chunk: Chunk, cite: Callable[[Chunk], str] | None = None) -> list[dict[str, Any]]:
    """The same unit in the index's other versions of the law, newest first (``cite``: how each
    is cited; default: its stored citation)."""
    from ingest.citations import resolve_citation

    try:
        outcome = resolve_citation(chunk.citation, store)
    except Exception:  # a citation form the resolver cannot read: no versions, not a broken view
        return []
    if not outcome.ok:
        return []
    return [{"id": r.chunk.id, "version": r.version,
             "citation": cite(r.chunk) if cite is not None else (r.ref.canonical if r.ref else r.chunk.citation)}
            for r in outcome.resolutions if r.chunk.id != chunk.id]
