"""Units a question cites explicitly ("专利法第十一条规定的…", "under 35 U.S.C. § 271(e)") are
what the asker is asking about: they go first, ahead of anything ranked by similarity.

A lawyer who names an article expects to see that article, whatever BM25 or a reranker think of
the rest of the question. Only units that really resolve in the index are used (newest version of
the law, or the version the question names), and the search filters still apply.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from indexes.protocols import ChunkLookup, SearchFilters
from ingest.citation_resolve import resolve_ref
from ingest.citations import find_citations
from ipqa.domain import Hit
from rag.filters import matches, out_of_force_ids
from rag.rerank.features import unit_key_of

MAX_CITED = 5  # a question quoting a long list of articles still leaves room for ranked hits


def cited_hits(question: str, lookup: ChunkLookup, *, known_laws: Iterable[str] | None,
               filters: SearchFilters | None = None, limit: int = MAX_CITED) -> list[Hit]:
    """The units ``question`` cites, in the order it cites them, as hits with ``source="cited"``.

    The score is 1.0 (a stated citation, not a similarity); ``component_scores`` say so.
    """
    hits: list[Hit] = []
    seen: set[str] = set()
    excluded = out_of_force_ids(filters, lookup)
    for found in find_citations(question, known_laws=known_laws):
        outcome = resolve_ref(found.ref, lookup)
        if not outcome.ok:
            # a unit not in the index, or a version of it the index lacks (原专利法… when only one
            # version is indexed): nothing to put first; the question is still answered by ranking
            # (`ipqa history` and /v1/citations/resolve say which versions exist)
            continue
        resolved = outcome.resolutions[0].chunk
        if outcome.ref is not None and outcome.ref.version is not None:
            # a version named in the citation (专利法实施细则（2010）第六十九条) is meant, whatever the date
            versions, left_out = [resolved], frozenset()
        else:  # the resolver picks the newest version; with a date, the version in force then is meant
            versions = [resolved] + ([c for c in lookup.chunks_by_unit_key(unit_key_of(resolved))
                                      if c.id != resolved.id] if excluded else [])
            left_out = excluded
        chunk = next((c for c in versions if matches(filters, c, lookup.document(c.document_id), left_out)), None)
        if chunk is None or chunk.id in seen:
            continue
        seen.add(chunk.id)
        hits.append(Hit(chunk=chunk, score=1.0, rank=len(hits) + 1, source="cited",
                        component_scores={"cited": 1.0}))
        if len(hits) >= limit:
            break
    return hits


def put_cited_first(cited: Sequence[Hit], ranked: Sequence[Hit], k: int) -> list[Hit]:
    """``cited`` then ``ranked`` without the units already cited (in any version of the law), cut
    to ``k``, ranks renumbered."""
    cited_units = {unit_key_of(hit.chunk) for hit in cited}
    merged = list(cited) + [hit for hit in ranked if unit_key_of(hit.chunk) not in cited_units]
    return [_with_rank(hit, rank) for rank, hit in enumerate(merged[:k], start=1)]


def _with_rank(hit: Hit, rank: int) -> Hit:
    if hit.rank == rank:
        return hit
    return Hit(chunk=hit.chunk, score=hit.score, rank=rank, source=hit.source,
               component_scores=hit.component_scores, expanded_from=hit.expanded_from)
