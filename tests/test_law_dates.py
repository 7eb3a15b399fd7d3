"""Promulgation and effective dates of Chinese law versions (issue 13, part 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.law_dates import in_force_clause, law_dates
from ingest.parsers.cn_statute import parse_statute
from ingest.protocols import SourceText
from ipqa.ids import document_id

LAW = """# 中华人民共和国示例法

{history}

<!-- INFO END -->

第一条 为了保护权利人的合法权益，制定本法。

第二条 本法自{clause}起施行。
"""


def parse(history: str, clause: str, path: str):
    text = LAW.format(history=history, clause=clause)
    return parse_statute(SourceText(path, text, "md")), text


def test_an_original_law_takes_effect_on_the_date_its_last_article_names():
    parsed, _ = parse("2019年4月23日 第十三届全国人民代表大会常务委员会第十次会议通过", "2019年11月1日", "示例法.md")
    meta = parsed.document.metadata
    assert (meta["promulgated"], meta["effective"], meta["effective_source"]) == ("2019-04-23", "2019-11-01", "article")


def test_an_amended_version_keeps_the_original_clause_so_its_own_date_is_used():
    history = "1984年3月12日 通过\n\n2020年10月17日 第四次修正"
    parsed, _ = parse(history, "1985年4月1日", "示例法(2020-10-17).md")
    meta = parsed.document.metadata
    assert (meta["promulgated"], meta["effective"], meta["effective_source"]) == ("2020-10-17", "2020-10-17",
                                                                                  "version date")


def test_the_file_name_date_wins_when_the_history_stops_earlier():
    parsed, _ = parse("2001年6月15日 公布\n\n2002年12月28日 第一次修订", "2001年7月1日", "示例法(2010-01-09).md")
    assert parsed.document.metadata["promulgated"] == "2010-01-09"
    assert parsed.document.metadata["effective"] == "2010-01-09"


def test_in_force_on_promulgation_and_chinese_numeral_dates():
    parsed, _ = parse("2005年3月1日 发布", "公布之日", "示例法.md")
    assert parsed.document.metadata["effective"] == "2005-03-01"
    assert in_force_clause(["本条例自二〇〇三年二月一日起施行。"]) == "2003-02-01"
    # a quotation of another law's clause in an earlier article does not count; the last one does
    assert in_force_clause(["本法自1990年1月1日起施行前发生的行为，依照当时的规定。", "甲。"]) is None
    assert law_dates(file_date=None, history=[], article_texts=["甲。"]).effective is None


def test_dates_are_metadata_and_leave_the_content_derived_id_as_it_was():
    parsed, text = parse("2019年4月23日 通过", "2019年11月1日", "示例法(2019-04-23).md")
    assert parsed.document.id == document_id("statute", "CN", "中华人民共和国示例法", "2019-04-23", text)
    assert parsed.document.version == "2019-04-23"


@pytest.mark.shared
def test_patent_rules_versions_in_the_collection(shared_data: Path):
    folder = shared_data / "cn-law" / "行政法规"
    dates = {}
    for name in ("专利法实施细则(2010-01-09).md", "专利法实施细则(2023-12-11).md"):
        path = folder / name
        document = parse_statute(SourceText(str(path), path.read_text(encoding="utf-8"), "md")).document
        dates[name] = (document.metadata["promulgated"], document.metadata["effective"])
    assert dates == {"专利法实施细则(2010-01-09).md": ("2010-01-09", "2010-01-09"),
                     "专利法实施细则(2023-12-11).md": ("2023-12-11", "2023-12-11")}
