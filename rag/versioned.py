"""Canonical citations of law versions not in force today carry the version (issue 13):
``专利法实施细则（2010）第六十九条`` for a unit of the superseded 2010 version, ``专利法实施细则 第六十九条``
for the version in force. The qualifier is the year of the version date when no other version of
the law has that year, else the whole date (``（2022-04-04）``): :func:`ipqa.in_force.version_labels`.

Done where results leave retrieval and resolution (hits, resolutions, the unit shown), never in the
stored chunks: index texts, unit keys, chunk ids and what BM25 and the dense index read stay as they
are. The resolver reads every such form back to that version (``ingest.citation_forms.VERSION_QUALIFIER``),
so an answer citing it verifies.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import replace
from typing import Callable, Iterable, Mapping

from ingest.citation_forms import CitationKind
from ingest.citation_parse import parse_citation
from ipqa.domain import Chunk, Hit
from ipqa.in_force import version_labels

_CHINESE_LAW_UNITS = (CitationKind.CN_ARTICLE, CitationKind.CN_PREAMBLE, CitationKind.CN_TEXT)


def versioned_citation(citation: str, label: str | None) -> str:
    """``专利法实施细则 第六十九条`` with ``2010`` -> ``专利法实施细则（2010）第六十九条`` (title, the
    qualifier in full-width brackets, the rest without a space). Without a label, for a citation
    that is not of a Chinese law's unit, or one already qualified, ``citation`` as it is."""
    if not label:
        return citation
    ref = parse_citation(citation)
    if ref is None or ref.kind not in _CHINESE_LAW_UNITS or not ref.law or ref.version:
        return citation
    canonical = citation if citation.startswith(ref.law) else ref.canonical
    return f"{ref.law}（{label}）{canonical[len(ref.law):].lstrip()}"


def _today() -> str:
    return dt.date.today().isoformat()


class CitationVersions:
    """The version labels of one store's law versions not in force today (recomputed when the day
    changes), and the hits, chunks and citations they qualify."""

    def __init__(self, store: object, *, today: Callable[[], str] = _today) -> None:
        self._store = store
        self._today = today
        self._lock = threading.Lock()
        self._cached: tuple[str, Mapping[str, str]] | None = None

    def labels(self) -> Mapping[str, str]:
        """Document id -> qualifier, for the versions not in force today."""
        today = self._today()
        cached = self._cached
        if cached is not None and cached[0] == today:
            return cached[1]
        dated = getattr(self._store, "dated_versions", None)  # a store without dated laws: nothing to say
        labels = version_labels(dated(), today) if dated is not None else {}
        with self._lock:
            self._cached = (today, labels)
        return labels

    def citation(self, citation: str, document_id: str | None) -> str:
        """``citation`` of a unit of ``document_id``, with the version when that is not in force today."""
        return versioned_citation(citation, self.labels().get(document_id or ""))

    def chunk(self, chunk: Chunk) -> Chunk:
        """``chunk`` with its citation versioned (the same object when nothing changes)."""
        citation = self.citation(chunk.citation, chunk.document_id)
        return chunk if citation == chunk.citation else replace(chunk, citation=citation)

    def hits(self, hits: Iterable[Hit]) -> list[Hit]:
        labels = self.labels()
        if not labels:
            return list(hits)
        out = []
        for hit in hits:
            chunk = self.chunk(hit.chunk) if hit.chunk.document_id in labels else hit.chunk
            out.append(hit if chunk is hit.chunk else replace(hit, chunk=chunk))
        return out
