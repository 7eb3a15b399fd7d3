"""When a Chinese law version was made and when it took effect.

* ``promulgated``: the date of this version (its enactment or latest amendment): the later of the
  date in the file name and the last date of the enactment history (the cn-law collection's file
  for the 2010 专利法实施细则 lists the history only up to 2002, its file name says 2010-01-09).
* ``effective``: from the article ``本法自…起施行``. That article keeps the original enactment's date
  through later amendments (专利法 2020 still says 自1985年4月1日起施行), and the amending
  decision's own date of effect is not in the file; so when the article's date lies before this
  version's date, the version's date is the best date known (and ``effective_source`` says so).
  ``自公布之日起施行`` (发布/颁布) means the version's own date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from ingest.cn_numbers import CN_DATE, parse_cn_date

# 本法 / 本细则 / 本条例 / 本规定 / 本解释 / 本办法 / 本决定 … 自X起施行 (X a date or "公布之日")
_IN_FORCE = re.compile(
    r"本[^\s，。；]{0,8}?自\s*(?P<when>" + CN_DATE.pattern + r"|(?:公布|发布|颁布|印发)之日)\s*起施行(?=[。；，,]|\s*$)")


@dataclass(frozen=True)
class LawDates:
    promulgated: str | None
    effective: str | None
    effective_source: str | None  # article | version date | None

    def as_metadata(self) -> dict[str, str]:
        return {key: value for key, value in (("promulgated", self.promulgated), ("effective", self.effective),
                                              ("effective_source", self.effective_source)) if value}


def in_force_clause(article_texts: Sequence[str]) -> str | None:
    """The date the ``本法自…起施行`` clause names (``"on promulgation"`` for 自公布之日), searching
    from the last article back (the clause closes a law; earlier articles may quote other laws')."""
    for text in reversed(article_texts):
        match = _IN_FORCE.search(text)
        if match is None:
            continue
        when = match["when"]
        return "on promulgation" if when.endswith("之日") else parse_cn_date(when)
    return None


def law_dates(*, file_date: str | None, history: Sequence[str], article_texts: Sequence[str]) -> LawDates:
    history_date = parse_cn_date("\n".join(history))
    known = [d for d in (file_date, history_date) if d]
    promulgated = max(known) if known else None
    clause = in_force_clause(article_texts)
    if clause is not None and clause != "on promulgation" and (promulgated is None or clause >= promulgated):
        return LawDates(promulgated, clause, "article")
    if promulgated is not None:
        return LawDates(promulgated, promulgated, "version date")
    return LawDates(None, None, None)
