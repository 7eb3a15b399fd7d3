"""Citations: parse any written form into one canonical form, find citations in prose, compute the
keys a store indexes chunks under, and resolve a citation to the chunk (and part) it names.

The public entry points (every later stage calls these; this module only gathers them):

* :func:`parse_citation` / :func:`parse_citations` — a whole text that is a citation (or a list of
  them, ``专利法第十一条、第十二条``) -> :class:`CitationRef` (None / [] when it is not one);
* :func:`find_citations` — citations inside prose, with their spans;
* :func:`unit_keys` — the lookup keys of a chunk;
* :func:`extract_references` — the canonical citations a chunk makes to other units
  (all four in :mod:`ingest.citation_parse`);
* :func:`resolve`, :func:`resolve_one`, :func:`resolve_citation` (in :mod:`ingest.citation_resolve`,
  which imports the parser, never this facade).
"""

from __future__ import annotations

from ingest.citation_forms import CitationKind, CitationRef, FoundCitation, normalize_law_name
from ingest.citation_parse import (
    extract_references,
    fallback_key,
    find_citations,
    parse_citation,
    parse_citations,
    same_unit,
    unit_keys,
)
from ingest.citation_resolve import (
    FailureReason,
    Resolution,
    ResolutionFailure,
    ResolveOutcome,
    resolve,
    resolve_all,
    resolve_citation,
    resolve_one,
)

__all__ = [
    "CitationKind", "CitationRef", "FoundCitation", "FailureReason", "Resolution", "ResolutionFailure",
    "ResolveOutcome", "parse_citation", "parse_citations", "find_citations", "unit_keys", "fallback_key",
    "extract_references", "resolve", "resolve_all", "resolve_citation", "resolve_one", "normalize_law_name",
    "same_unit",
]
