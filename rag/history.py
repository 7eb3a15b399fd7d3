"""A unit's history: the same article in every version of its law, with dates and word-level diffs.

``专利法实施细则（2010）第六十九条`` → its 2023 counterpart 第七十三条 (renumbered, reworded), found by
aligning each pair of consecutive versions (``ingest.article_alignment``) and following the links
from the version the citation names, forwards and backwards. A unit split in two has two
successors; a deleted one has none from the version that deleted it on.

Used by ``ipqa history``, ``GET /v1/citations/history``, the web page's unit view and the answer
note that a cited version is no longer current.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass
from typing import Protocol, Sequence

from indexes.read_cache import BoundedCache
from ingest.article_alignment import ArticleLink, Relation, UnitText, align_articles
from ingest.citation_resolve import resolve_citation
from ingest.protocols import ChunkLookup
from ipqa.domain import Chunk, Document
from ipqa.errors import InputError
from ipqa.in_force import DatedVersion, version_labels
from rag.versioned import versioned_citation  # one form of a versioned citation (re-exported)

ALIGNED_UNITS = frozenset({"article"})  # the units aligned across versions (statute articles)


class LawVersionStore(ChunkLookup, Protocol):
    """What the history needs of an index store (``indexes.store.SqliteChunkStore``)."""

    def law_versions(self, document: Document) -> list[Document]: ...

    def chunks_of_document(self, document_id: str) -> list[Chunk]: ...

    def out_of_force_document_ids(self, as_of: str) -> frozenset[str]: ...


@dataclass(frozen=True)
class DiffOp:
    """One step of a word-level diff from the previous version's text to this one's."""

    op: str  # equal | delete | insert | replace
    old: str
    new: str


@dataclass(frozen=True)
class UnitInVersion:
    """The unit as it stands in one version."""

    citation: str  # canonical; carries the version unless the version is the one in force today
    chunk_id: str
    label: str  # 第七十三条
    text: str
    relation: Relation | None  # to its predecessor(s) in the previous version; None in the oldest version
    renumbered: bool
    similarity: float | None
    came_from: tuple[str, ...]  # citations of the predecessors in the previous version
    diff: tuple[DiffOp, ...]  # from the predecessors' text to this text (empty when unchanged or first)


@dataclass(frozen=True)
class VersionOfLaw:
    document_id: str
    version: str | None
    promulgated: str | None
    effective: str | None
    in_force_until: str | None  # the next version's effective date
    current: bool  # the version in force today
    units: tuple[UnitInVersion, ...]  # empty: the unit is not in this version
    status: str  # present | not yet in the law | deleted


@dataclass(frozen=True)
class UnitHistory:
    asked: str  # the citation as asked
    citation: str  # the unit it names (versioned canonical citation)
    title: str
    versions: tuple[VersionOfLaw, ...]  # oldest first

    @property
    def current(self) -> tuple[UnitInVersion, ...]:
        """The unit's counterparts in the version in force today (empty: deleted, or no current version)."""
        return next((v.units for v in self.versions if v.current), ())


def version_labels_of(versions: Sequence[Document], today: str) -> dict[str, str]:
    """The qualifier of each version not in force on ``today`` (``2010``, or the ISO date when two
    versions share a year; none for a version without a version date), by document id: exactly
    ``ipqa.in_force.version_labels``, the rule search and answers cite by (``rag.versioned``), so a
    history's citations resolve back to their versions."""
    return version_labels([DatedVersion(v.id, "law", str(v.metadata.get("effective") or "")[:10], v.version)
                           for v in versions], today)


def distinct_in_time(versions: Sequence[Document], keep: str | None = None) -> list[Document]:
    """One version per effective date, oldest first: the corpus holds some versions twice (two files
    of one amendment, dated by different days, taking effect the same day); of such a group the
    document ``keep`` (the one asked about) stays, else the last in ``version_order``."""
    groups: dict[str, list[Document]] = {}
    for version in versions:
        groups.setdefault(str(version.metadata.get("effective") or "")[:10], []).append(version)
    return [next((v for v in group if v.id == keep), group[-1]) for _, group in sorted(groups.items())]


def unit_label(chunk: Chunk) -> str:
    return chunk.hierarchy[-1] if chunk.hierarchy else chunk.citation.rpartition(" ")[2]


class HistoryError(InputError):
    """The citation names no unit with a history (unparseable, absent, not a law article)."""


# Alignments of pairs of law versions, shared by every LawHistory of the process: keyed by the two
# documents' ids, which are derived from their content (ipqa.ids), so a pair of ids always aligns the
# same way in any index version. Bounded and thread-safe (the API serves from a thread pool).
ALIGNMENTS: BoundedCache[tuple[str, str], tuple[ArticleLink, ...]] = BoundedCache(256)


class LawHistory:
    """Follows a unit through its law's versions. Aligning a pair of versions takes 5–150 ms (a few
    hundred articles; ``ALIGNMENTS`` keeps each pair for the process); the chunks it reads are kept
    for the life of the object (one request)."""

    def __init__(self, store: LawVersionStore, *, today: dt.date | None = None) -> None:
        self._store = store
        self._today = (today or dt.date.today()).isoformat()
        self._units: dict[str, list[Chunk]] = {}

    def history(self, citation: str) -> UnitHistory:
        outcome = resolve_citation(citation, self._store)
        if not outcome.ok:
            reason = outcome.failure.message if outcome.failure else "it names no unit in the index"
            raise HistoryError("citation", f"{citation!r}: {reason}")
        resolution = outcome.resolutions[0]
        chunk, document = resolution.chunk, resolution.document or self._store.document(resolution.chunk.document_id)
        if document is None or chunk.unit not in ALIGNED_UNITS:
            raise HistoryError("citation", f"{citation!r} names a {chunk.unit}, not a statute article: only "
                                           "articles have a history across versions")
        versions = distinct_in_time(self._store.law_versions(document) or [document], keep=document.id)
        return self._history(citation, chunk, document, versions)

    def of_chunk(self, chunk: Chunk, document: Document) -> UnitHistory | None:
        """The history of the unit ``chunk`` is (its citation carrying its version when superseded);
        ``None`` for a unit that is not a law article or a law with one version."""
        versions = distinct_in_time(self._store.law_versions(document), keep=document.id)
        if len(versions) < 2 or chunk.unit not in ALIGNED_UNITS:
            return None
        return self._history(chunk.citation, chunk, document, versions)

    def current_counterparts(self, chunk: Chunk, document: Document) -> tuple[UnitInVersion, ...] | None:
        """The unit's counterparts in today's version; ``None`` when ``chunk`` is of today's version
        (or of a law without versions), ``()`` when the unit no longer exists."""
        versions = distinct_in_time(self._store.law_versions(document), keep=document.id)
        if len(versions) < 2 or chunk.unit not in ALIGNED_UNITS:
            return None
        if document.id not in self._store.out_of_force_document_ids(self._today):
            return None
        return self._history(chunk.citation, chunk, document, versions, diffs=False).current

    # --- the walk ----------------------------------------------------------------------------------
    def _history(self, asked: str, chunk: Chunk, document: Document, versions: list[Document], *,
                 diffs: bool = True) -> UnitHistory:
        """``versions``: distinct in time (``distinct_in_time``), oldest first, ``document`` among them.
        ``diffs``: compute the word-level diffs (an answer's note needs only the current units)."""
        out_of_force = self._store.out_of_force_document_ids(self._today)
        labels = version_labels_of(versions, self._today)
        position = next(i for i, v in enumerate(versions) if v.id == document.id)
        present: dict[int, list[int]] = {position: [self._index_of(versions[position], chunk)]}
        links_into: dict[int, dict[int, list[ArticleLink]]] = {}  # version -> its unit index -> links into it
        for k in range(position, len(versions) - 1):  # forwards
            links = self.alignment(versions[k], versions[k + 1])
            wanted = set(present[k])
            present[k + 1] = sorted({link.new for link in links if link.old in wanted and link.new is not None})
            # every predecessor of those units, also one merged in from outside the unit's own line
            links_into[k + 1] = _by_new([link for link in links if link.new in present[k + 1] and link.old is not None])
            if not present[k + 1]:
                break
        for k in range(position, 0, -1):  # backwards
            links = self.alignment(versions[k - 1], versions[k])
            wanted = set(present[k])
            preceding = [link for link in links if link.new in wanted and link.old is not None]
            links_into[k] = _by_new(preceding)
            present[k - 1] = sorted({link.old for link in preceding})
            if not present[k - 1]:
                break
        entries = []
        for k, version in enumerate(versions):
            units = self.article_chunks(version)
            previous_units = self.article_chunks(versions[k - 1]) if k > 0 else []
            previous_label = labels.get(versions[k - 1].id) if k > 0 else None
            built = tuple(self._unit(units[j], labels.get(version.id), links_into.get(k, {}).get(j, []),
                                     previous_units, previous_label, first=k == 0, diffs=diffs)
                          for j in present.get(k, []))
            status = "present" if built else ("not yet in the law" if k < position else "deleted")
            following = versions[k + 1].metadata.get("effective") if k + 1 < len(versions) else None
            entries.append(VersionOfLaw(
                document_id=version.id, version=version.version,
                promulgated=_text(version.metadata.get("promulgated")), effective=_text(version.metadata.get("effective")),
                in_force_until=_text(following), current=version.id not in out_of_force, units=built,
                status=status))
        return UnitHistory(asked=asked, citation=_cite(chunk, labels.get(document.id)), title=document.title,
                           versions=tuple(entries))

    def _unit(self, chunk: Chunk, label: str | None, links: list[ArticleLink], previous_units: list[Chunk],
              previous_label: str | None, *, first: bool, diffs: bool) -> UnitInVersion:
        links = sorted(links, key=lambda link: link.old if link.old is not None else -1)  # in the law's order
        sources = [previous_units[link.old] for link in links if link.old is not None]
        relation = None if first else (_combined_relation(links) if links else Relation.INSERTED)
        diff = () if not diffs or not sources or relation is Relation.SAME else word_diff(
            "\n".join(s.text for s in sources), chunk.text)
        return UnitInVersion(
            citation=_cite(chunk, label), chunk_id=chunk.id, label=unit_label(chunk), text=chunk.text,
            relation=relation, renumbered=any(link.renumbered for link in links),
            similarity=max((link.similarity for link in links), default=None) if links else None,
            came_from=tuple(_cite(s, previous_label) for s in sources), diff=diff)

    def article_chunks(self, document: Document) -> list[Chunk]:
        if document.id not in self._units:
            self._units[document.id] = [c for c in self._store.chunks_of_document(document.id)
                                        if c.unit in ALIGNED_UNITS]
        return self._units[document.id]

    def _index_of(self, document: Document, chunk: Chunk) -> int:
        return next(i for i, c in enumerate(self.article_chunks(document)) if c.id == chunk.id)

    def alignment(self, old: Document, new: Document) -> tuple[ArticleLink, ...]:
        key = (old.id, new.id)
        found = ALIGNMENTS.get_many((key,)).get(key)
        if found is None:
            found = align_articles(
                [UnitText(unit_label(c), c.text) for c in self.article_chunks(old)],
                [UnitText(unit_label(c), c.text) for c in self.article_chunks(new)])
            ALIGNMENTS.put_many({key: found})
        return found


def _by_new(links: list[ArticleLink]) -> dict[int, list[ArticleLink]]:
    grouped: dict[int, list[ArticleLink]] = {}
    for link in links:
        if link.new is not None:
            grouped.setdefault(link.new, []).append(link)
    return grouped


def _combined_relation(links: list[ArticleLink]) -> Relation:
    """Several predecessors: merged; otherwise the one link's relation."""
    if len(links) > 1:
        return Relation.MERGED
    return links[0].relation


def _cite(chunk: Chunk, label: str | None) -> str:
    return versioned_citation(chunk.citation, label) if label else chunk.citation


def _text(value: object) -> str | None:
    return str(value) if value is not None else None


_WORD = re.compile(r"[A-Za-z0-9]+|\s+|.", re.S)


def _words(text: str) -> list[str]:
    """Words for the diff: the index's segmenter for Chinese (rjieba, else jieba),
    runs of letters/digits otherwise; every character of the text is in exactly one word."""
    if re.search(r"[\u3400-\u9fff]", text):
        return _segment(text)
    return _WORD.findall(text)


def _segment(text: str) -> list[str]:
    from indexes.tokenize import segment

    return segment(text)


def word_diff(old: str, new: str) -> tuple[DiffOp, ...]:
    """Word-level diff from ``old`` to ``new``; joining ``old`` of every op gives ``old`` back, and
    ``new`` of every op gives ``new``."""
    a, b = _words(old), _words(new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return tuple(DiffOp(op, "".join(a[i1:i2]), "".join(b[j1:j2])) for op, i1, i2, j1, j2 in matcher.get_opcodes())


def render_diff(ops: Sequence[DiffOp]) -> str:
    """``[-deleted-]{+inserted+}`` around what changed (the wdiff convention)."""
    out = []
    for op in ops:
        if op.op == "equal":
            out.append(op.old)
            continue
        if op.old:
            out.append(f"[-{op.old}-]")
        if op.new:
            out.append(f"{{+{op.new}+}}")
    return "".join(out)


def history_to_dict(history: UnitHistory) -> dict[str, object]:
    """The JSON form (``ipqa history --json``, ``GET /v1/citations/history``)."""
    return {
        "asked": history.asked,
        "citation": history.citation,
        "title": history.title,
        "current": [unit.citation for unit in history.current],
        "versions": [{
            "document_id": v.document_id, "version": v.version, "promulgated": v.promulgated,
            "effective": v.effective, "in_force_until": v.in_force_until, "current": v.current,
            "status": v.status,
            "units": [{
                "citation": u.citation, "chunk_id": u.chunk_id, "label": u.label, "text": u.text,
                "relation": u.relation.value if u.relation else None, "renumbered": u.renumbered,
                "similarity": None if u.similarity is None else round(u.similarity, 3),
                "came_from": list(u.came_from),
                "diff": [{"op": d.op, "old": d.old, "new": d.new} for d in u.diff],
                "diff_text": render_diff(u.diff) if u.diff else None,
            } for u in v.units],
        } for v in history.versions],
    }


def superseded_note(citation: str, current: Sequence[UnitInVersion], language: str) -> str:
    """What an answer says of a citation of a version that is not the one in force today."""
    names = "、".join(u.citation for u in current) if language == "zh" else ", ".join(u.citation for u in current)
    if language == "zh":
        return (f"{citation} 不是现行有效的版本；现行对应条文为 {names}。" if current
                else f"{citation} 不是现行有效的版本；现行版本中已无对应条文（已删除）。")
    return (f"{citation} is not the version in force today; the current corresponding provision is {names}."
            if current else f"{citation} is not the version in force today; the current version has no "
                            "corresponding provision (deleted).")
