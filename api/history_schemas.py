"""Response schemas of ``GET /v1/citations/history``: the JSON form of ``rag.history.history_to_dict``
(the one mapping of a history to JSON, also ``ipqa history --json``), validated and documented."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field



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



class VersionOfLawOut(BaseModel):
    document_id: str
    version: str | None
    promulgated: str | None
    effective: str | None
    in_force_until: str | None = Field(description="The next version's effective date; null for the newest.")
    current: bool = Field(description="The version in force today.")
    status: Literal["present", "not yet in the law", "deleted"]
    units: list[UnitInVersionOut] = Field(description="The unit in this version (several after a split).")



class HistoryResponse(BaseModel):
    citation: str = Field(description="The unit the asked citation names (canonical, versioned if superseded).")
    title: str
    current: list[str] = Field(description="Its counterparts in the version in force today (empty: deleted).")
    versions: list[VersionOfLawOut] = Field(description="Every version of the law, oldest first.")
    index_version: str
