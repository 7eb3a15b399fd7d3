"""Cross-reference expansion: an article that says 依照本法第十一条 (or "under section 271(a)") brings
the referenced unit in as context, because the citing article alone does not say what applies.

The referenced units are appended after the ranked hits (never displacing them), marked
``source="xref"`` with ``expanded_from`` = the citing chunk's id, bounded per hit and in total, and
never repeat a unit already in the list. When the citing article refers to its own law (本法), the
version of the citing document is preferred; otherwise the newest version.
"""

from __future__ import annotations

from typing import Sequence

from indexes.protocols import ChunkLookup
from ingest.citations import resolve
from ipqa.domain import Hit
from rag.rerank.features import unit_key_of


def _pick(resolutions: Sequence, citing: Hit, citing_version: str | None):
    """Same document, else same version, else the newest (resolutions come newest first)."""
    for resolution in resolutions:
        if resolution.chunk.document_id == citing.chunk.document_id:
            return resolution
    for resolution in resolutions:
        if citing_version is not None and resolution.version == citing_version:
            return resolution
    return resolutions[0]


def expand_references(hits: Sequence[Hit], lookup: ChunkLookup, *, per_hit: int = 1, total: int = 5,
                      out_of_force: frozenset[str] = frozenset()) -> list[Hit]:
    """``hits`` followed by at most ``total`` referenced units (at most ``per_hit`` per citing hit),
    never from the law versions ``out_of_force`` (those the search's date leaves out)."""
    ranked = list(hits)
    if per_hit < 1 or total < 1:
        return ranked
    present = {unit_key_of(hit.chunk) for hit in ranked} | {hit.chunk.id for hit in ranked}
    added: list[Hit] = []
    versions: dict[str, str | None] = {}
    for hit in ranked:
        if len(added) >= total:
            break
        taken = 0
        for reference in hit.chunk.references:
            if taken >= per_hit or len(added) >= total:
                break
            resolutions = [r for r in resolve(reference, lookup) if r.chunk.document_id not in out_of_force]
            if not resolutions:
                continue  # a reference to a law that is not indexed: nothing to bring in
            document_id = hit.chunk.document_id
            if document_id not in versions:
                document = lookup.document(document_id)
                versions[document_id] = document.version if document else None
            chosen = _pick(resolutions, hit, versions[document_id])
            key = chosen.ref.unit_key
            if key in present or chosen.chunk.id in present:
                continue
            present.update({key, chosen.chunk.id})
            added.append(Hit(chunk=chosen.chunk, score=0.0, rank=len(ranked) + len(added) + 1, source="xref",
                             component_scores={}, expanded_from=hit.chunk.id))
            taken += 1
    return ranked + added
