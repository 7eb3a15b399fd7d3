"""``SearchFilters`` applied to a chunk already in hand (candidates that do not come out of an index
search, e.g. those an association model proposes). Mirrors the store's SQL filter exactly."""

from __future__ import annotations

from dataclasses import replace

from indexes.protocols import SearchFilters
from ipqa.domain import Chunk, Document


def matches(filters: SearchFilters | None, chunk: Chunk, document: Document | None,
            out_of_force: frozenset[str] = frozenset()) -> bool:
    """True when ``chunk`` (of ``document``) passes ``filters``; a chunk without its document passes
    only an empty filter (never let an unknown document through a filter). ``out_of_force``: the
    store's ``out_of_force_document_ids(filters.as_of)`` (see :func:`out_of_force_ids`)."""
    if filters is None or filters.is_empty():
        return True
    if document is None:
        return False
    checks = [(filters.jurisdictions, document.jurisdiction), (filters.kinds, document.kind),
              (filters.document_ids, document.id), (filters.titles, document.title),
              (filters.languages, chunk.language)]
    for allowed, value in checks:
        if allowed is not None and str(value) not in allowed:
            return False
    if filters.as_of is not None and document.id in out_of_force:
        return False
    version = document.version
    if filters.version_from is not None and (version is None or version < filters.version_from):
        return False
    if filters.version_to is not None and (version is None or version[:len(filters.version_to)] > filters.version_to):
        return False
    return True


def out_of_force_ids(filters: SearchFilters | None, store: object) -> frozenset[str]:
    """The versions ``filters.as_of`` leaves out, from ``store`` (a ``ChunkStore``); empty without a date."""
    if filters is None or filters.as_of is None:
        return frozenset()
    return store.out_of_force_document_ids(filters.as_of)  # type: ignore[attr-defined]


def in_force_today(filters: SearchFilters | None, today: str) -> SearchFilters:
    """``filters`` with ``as_of`` defaulted to ``today``: unless a date is asked for, each law is
    searched in the version in force now."""
    base = filters or SearchFilters()
    return base if base.as_of is not None else replace(base, as_of=today)


def restrict_titles(filters: SearchFilters | None, titles: frozenset[str]) -> SearchFilters:
    """``filters`` further limited to documents titled one of ``titles``."""
    base = filters or SearchFilters()
    narrowed = titles if base.titles is None else base.titles & titles
    return replace(base, titles=frozenset(narrowed))
