"""Response schemas of ``GET /v1/citations/history`` (built from ``rag.history.UnitHistory``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from rag.history import UnitHistory, UnitInVersion, VersionOfLaw


class DiffOpOut(BaseModel):
    op: Literal["equal", "delete", "insert", "replace"]
    old: str = Field(description="The previous version's words (empty for an insertion).")
    new: str = Field(description="This version's words (empty for a deletion).")


class UnitInVersionOut(BaseModel):
    citation: str = Field(description="Canonical; carries the version unless it is the version in force today.")
    chunk_id: str
    label: str
    text: str
    relation: Literal["same", "amended", "moved", "split", "merged", "inserted"] | None = Field(
        description="To the unit(s) it came from in the previous version; null in the oldest version.")
    renumbered: bool
    similarity: float | None
    came_from: list[str] = Field(description="Citations of its predecessors in the previous version.")
    diff: list[DiffOpOut] = Field(description="Word-level diff from the predecessors' text; empty when unchanged.")

    @classmethod
    def of(cls, unit: UnitInVersion) -> "UnitInVersionOut":
        return cls(citation=unit.citation, chunk_id=unit.chunk_id, label=unit.label, text=unit.text,
                   relation=unit.relation.value if unit.relation else None, renumbered=unit.renumbered,
                   similarity=None if unit.similarity is None else round(unit.similarity, 3),
                   came_from=list(unit.came_from),
                   diff=[DiffOpOut(op=d.op, old=d.old, new=d.new) for d in unit.diff])


class VersionOfLawOut(BaseModel):
    document_id: str
    version: str | None
    promulgated: str | None
    effective: str | None
    in_force_until: str | None = Field(description="The next version's effective date; null for the newest.")
    current: bool = Field(description="The version in force today.")
    status: Literal["present", "not yet in the law", "deleted"]
    units: list[UnitInVersionOut] = Field(description="The unit in this version (several after a split).")

    @classmethod
    def of(cls, version: VersionOfLaw) -> "VersionOfLawOut":
        return cls(document_id=version.document_id, version=version.version, promulgated=version.promulgated,
                   effective=version.effective, in_force_until=version.in_force_until, current=version.current,
                   status=version.status, units=[UnitInVersionOut.of(u) for u in version.units])


class HistoryResponse(BaseModel):
    citation: str = Field(description="The unit the asked citation names (canonical, versioned if superseded).")
    title: str
    current: list[str] = Field(description="Its counterparts in the version in force today (empty: deleted).")
    versions: list[VersionOfLawOut] = Field(description="Every version of the law, oldest first.")
    index_version: str

    @classmethod
    def of(cls, history: UnitHistory, index_version: str) -> "HistoryResponse":
        return cls(citation=history.citation, title=history.title, current=[u.citation for u in history.current],
                   versions=[VersionOfLawOut.of(v) for v in history.versions], index_version=index_version)
