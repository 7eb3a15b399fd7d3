"""Which version of each law is in force on a date: the one that took effect last on or before it.

A law's versions are the documents sharing jurisdiction, kind, title and (for a code split into
books) book. Only documents with an ``effective`` date in their metadata take part (Chinese law
versions, see ``ingest.law_dates``); everything else (judgments, patents, US Code snapshots, of
which the corpus holds one state only) is never excluded by a date.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any, Hashable, Iterable, NamedTuple

from ipqa.errors import InputError


class DatedVersion(NamedTuple):
    document_id: str
    law: Hashable  # what makes two documents versions of one law
    effective: str  # ISO date
    version: str | None = None  # the version's own date, as citations name it (``Document.version``)


def out_of_force(versions: Iterable[DatedVersion], as_of: str) -> frozenset[str]:
    """Ids of the versions not in force on ``as_of``: superseded by a later version already in
    effect, or not yet in effect (a law enacted after the date is left out entirely)."""
    by_law: dict[Hashable, list[DatedVersion]] = defaultdict(list)
    for version in versions:
        by_law[version.law].append(version)
    excluded: set[str] = set()
    for group in by_law.values():
        in_effect = [v.effective[:10] for v in group if v.effective[:10] <= as_of]
        current = max(in_effect) if in_effect else None
        # versions taking effect the same day (books of one code) all stay
        excluded.update(v.document_id for v in group if v.effective[:10] != current)
    return frozenset(excluded)


def version_labels(versions: Iterable[DatedVersion], today: str) -> dict[str, str]:
    """The qualifier each version not in force on ``today`` is cited with (``专利法实施细则（2010）
    第六十九条``): the year of its version date when no other version of the law has that year, else
    the whole ISO date. The version in force has none (it is cited plainly); a version without a
    version date has none either (nothing a citation could name it by)."""
    versions = list(versions)
    excluded = out_of_force(versions, today)
    dates_by_law: dict[Hashable, set[str]] = defaultdict(set)
    for version in versions:
        if version.version:
            dates_by_law[version.law].add(version.version[:10])
    labels: dict[str, str] = {}
    for version in versions:
        if version.document_id not in excluded or not version.version:
            continue
        date = version.version[:10]
        same_year = [d for d in dates_by_law[version.law] if d[:4] == date[:4]]
        labels[version.document_id] = date[:4] if len(same_year) == 1 else date
    return labels


def parse_as_of(text: str, *, today: dt.date | None = None, name: str = "as_of") -> str:
    """``"2015-06-01"`` -> the same ISO date, checked: an unparseable date or one after today is an
    ``InputError`` naming the input (the law of the future is not known)."""
    value = text.strip()
    try:
        date = dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(name, f"{text!r} is not a date in the form YYYY-MM-DD") from None
    if len(value) != 10:
        raise InputError(name, f"{text!r} is not a date in the form YYYY-MM-DD")
    today = today or dt.date.today()
    if date > today:
        raise InputError(name, f"{value} is in the future (today is {today.isoformat()}): "
                               "the law in force on it is not known yet")
    return date.isoformat()


def version_order(document: Any) -> tuple[str, str, str]:
    """Sort key of a law's versions, oldest first: effective date, then the version's own date (two
    versions taking effect the same day: the later amendment is the newer), then id (stable)."""
    return (str(document.metadata.get("effective") or "")[:10], document.version or "", document.id)
