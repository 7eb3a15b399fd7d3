"""Resolving citations to chunks and parts: across versions, and failing (with the reason) for
units and parts that do not exist."""

import pytest

from factories import Unit, parsed_document
from ingest.citation_resolve import FailureReason
from ingest.citations import resolve, resolve_all, resolve_citation, resolve_one, unit_keys
from ingest.lookup import InMemoryChunkLookup
from ingest.protocols import SourceText
from ipqa.domain import Part

LAW_2008 = """# 中华人民共和国专利法

<!-- INFO END -->

## 第一章 总则

第十条 专利申请权和专利权可以转让。

第十一条 发明和实用新型专利权被授予后，任何单位或者个人未经专利权人许可，都不得实施其专利。

外观设计专利权被授予后，任何单位或者个人未经专利权人许可，都不得实施其专利。

第十二条 任何单位或者个人实施他人专利的，应当与专利权人订立实施许可合同。
"""

LAW_2020 = LAW_2008.replace("第十二条 任何单位", "第十二条 （修改后）任何单位") + """
第十三条 有下列情形之一的，不视为侵犯专利权：

（一）专利产品售出后，使用、许诺销售、销售、进口该产品的；

（二）在专利申请日前已经制造相同产品的；

第十四条 国务院有关主管部门可以决定推广应用。

下列行为属于侵权：

（一）制造；

（二）销售；

第三款有下列情形的除外：

（一）科研；
"""


def _statute(path, text):
    from ingest.parsers.cn_statute import CnStatuteParser

    return list(CnStatuteParser().parse_text(SourceText(path=path, text=text, format="md")))


def _hand_document(title, chunks_spec, *, kind="patent", jurisdiction="US", language="en", version=None):
    return parsed_document(title, [Unit(citation, text, unit=unit, parts=tuple(parts))
                                   for citation, text, unit, parts in chunks_spec],
                           kind=kind, jurisdiction=jurisdiction, language=language, version=version,
                           source_path=f"{title}.xml")


PARAS = "[0023] A widget. [0024] A gadget. [0025] A gizmo."
SECTION = "(a) Whoever makes.\n(b) Whoever induces.\n(1) In general."
INLINE = "(e) Consists of a mark which (1) is descriptive, (2) is deceptive as in paragraph (4), (3) is a surname."


@pytest.fixture(scope="module")
def lookup():
    parsed = _statute("民法商法/专利法(2008-12-27).md", LAW_2008) + _statute("民法商法/专利法(2020-10-17).md", LAW_2020)
    parsed.append(_hand_document("Widget", [
        ("US 8,927,118 B2, claim 1", "1. A widget comprising a gear.", "claim", ()),
        ("US 8,927,118 B2, ¶¶ [0023]–[0025]", PARAS, "paragraphs",
         (Part("[0023]", 0, 16), Part("[0024]", 17, 33), Part("[0025]", 34, 49))),
        ("US 8,927,118 B2, ¶ [0026]", "[0026] Alone.", "paragraphs", ()),
        ("US 8,927,118 B2, abstract", "A widget.", "abstract", ()),
    ]))
    parsed.append(_hand_document("Title 35", [
        ("35 U.S.C. § 271", SECTION, "section",
         (Part("(a)", 0, 18), Part("(b)", 19, 55), Part("(b)(1)", 40, 55))),
    ], kind="statute"))
    parsed.append(_hand_document("Title 15", [
        ("15 U.S.C. § 1052", INLINE, "section", (Part("(e)", 0, len(INLINE)),)),
    ], kind="statute"))
    parsed.append(_hand_document("判决", [
        ("（2019）最高法知民终123号 本院认为", "本院认为，……", "judgment_part", ()),
        ("（2019）最高法知民终123号 判决如下", "驳回上诉。", "judgment_part", ()),
        ("专利法 序言", "序言文本", "preamble", ()),
    ], kind="judgment", jurisdiction="CN", language="zh"))
    return InMemoryChunkLookup(parsed)


def test_one_resolution_per_version_newest_first(lookup):
    resolutions = resolve("《中华人民共和国专利法》第11条", lookup)
    assert [r.version for r in resolutions] == ["2020-10-17", "2008-12-27"]
    assert all(r.chunk.citation == "专利法 第十一条" and r.part is None for r in resolutions)
    assert resolutions[0].ref.canonical == "专利法 第十一条"


def test_versions_can_be_chosen(lookup):
    assert resolve_one("专利法第十二条", lookup).version == "2020-10-17"
    assert "（修改后）" in resolve_one("专利法第十二条", lookup).text
    older = resolve_one("专利法第十二条", lookup, version="2008")
    assert older.version == "2008-12-27" and "（修改后）" not in older.text
    assert [r.version for r in resolve("《专利法》（2008年修正）第十二条", lookup)] == ["2008-12-27"]


def test_missing_version_fails_with_the_versions_there_are(lookup):
    outcome = resolve_citation("专利法第十二条", lookup, version="1992")
    assert outcome.failure.reason is FailureReason.NO_SUCH_VERSION
    assert "2020-10-17" in outcome.failure.message and "2008-12-27" in outcome.failure.message
    # an article added in 2020 does not exist in the 2008 version
    assert resolve_citation("专利法第十三条", lookup, version="2008").failure.reason is FailureReason.NO_SUCH_VERSION


@pytest.mark.parametrize("citation", ["专利法（2008）第十二条", "2008年专利法第十二条", "2008年修正的专利法第十二条",
                                      "《专利法》（2008年修正）第十二条", "《中华人民共和国专利法》（2008年修正）第十二条",
                                      "原专利法第十二条"])
def test_version_qualifiers_as_lawyers_write_them(lookup, citation):
    resolutions = resolve(citation, lookup)
    assert [r.version for r in resolutions] == ["2008-12-27"], citation
    assert resolutions[0].chunk.citation == "专利法 第十二条" and "（修改后）" not in resolutions[0].text


def test_a_qualifier_that_matches_no_version_lists_the_versions_there_are(lookup):
    for citation in ("专利法（1992）第十二条", "1992年专利法第十二条"):
        failure = resolve_citation(citation, lookup).failure
        assert failure.reason is FailureReason.NO_SUCH_VERSION
        assert "2020-10-17" in failure.message and "2008-12-27" in failure.message and "1992" in failure.message


def test_the_previous_version_of_a_law_with_one_version_is_an_error_naming_it():
    single = parsed_document("中华人民共和国示例法", [Unit("示例法 第一条", "甲。")], version="2020-09-12")
    failure = resolve_citation("原示例法第一条", InMemoryChunkLookup([single])).failure
    assert failure.reason is FailureReason.NO_SUCH_VERSION and "2020-09-12" in failure.message
    # a name that merely starts with 原 is not a previous version
    atomic = parsed_document("中华人民共和国原子能法", [Unit("原子能法 第一条", "乙。")], version="2018-01-01")
    assert resolve_one("原子能法第一条", InMemoryChunkLookup([atomic])).text == "乙。"


def test_paragraphs_and_items(lookup):
    para = resolve_one("专利法第十一条第二款", lookup)
    assert para.part.label == "第二款"
    assert para.text == "外观设计专利权被授予后，任何单位或者个人未经专利权人许可，都不得实施其专利。"
    item = resolve_one("专利法第十三条第一款第（二）项", lookup)
    assert item.text == "（二）在专利申请日前已经制造相同产品的；"
    # an article with a single 款: 第（一）项 is that 款's item
    assert resolve_one("专利法第十三条第（一）项", lookup).part.label == "第一款 第（一）项"
    assert resolve_one("专利法第十三条第一项", lookup).part.label == "第一款 第（一）项"
    # 第一款 of a one-款 article is the whole article
    whole = resolve_one("专利法第十条第一款", lookup)
    assert whole.text == "专利申请权和专利权可以转让。"


def test_fabricated_parts_fail(lookup):
    outcome = resolve_citation("专利法第十一条第五款", lookup)
    assert outcome.failure.reason is FailureReason.NO_SUCH_PART
    assert "第五款" in outcome.failure.message and "第二款" in outcome.failure.message
    assert resolve("专利法第十一条第五款", lookup) == []
    assert resolve_citation("专利法第十三条第一款第（九）项", lookup).failure.reason is FailureReason.NO_SUCH_PART
    assert resolve_citation("专利法第十条第二款", lookup).failure.reason is FailureReason.NO_SUCH_PART


def test_item_without_paragraph_in_an_article_with_several_items_is_ambiguous(lookup):
    outcome = resolve_citation("专利法第十四条第（一）项", lookup)
    assert outcome.failure.reason is FailureReason.AMBIGUOUS_PART
    assert resolve_one("专利法第十四条第三款第（一）项", lookup).text == "（一）科研；"


def test_missing_units_fail(lookup):
    outcome = resolve_citation("专利法第九十九条", lookup)
    assert outcome.failure.reason is FailureReason.NO_SUCH_UNIT
    assert "专利法 第九十九条" in outcome.failure.message
    assert resolve_citation("商标法第十一条", lookup).failure.reason is FailureReason.NO_SUCH_UNIT
    assert resolve_citation("US 8,927,118 B2, claim 9", lookup).failure.reason is FailureReason.NO_SUCH_UNIT
    assert resolve_citation("US 8,927,118 B2, ¶ [0030]", lookup).failure.reason is FailureReason.NO_SUCH_UNIT
    assert resolve_citation("US 7,000,000, claim 1", lookup).failure.reason is FailureReason.NO_SUCH_UNIT
    # a bare law name cites a whole-text unit, which a law with articles does not have
    whole = resolve_citation("专利法", lookup)
    assert whole.failure.reason is FailureReason.NO_SUCH_UNIT and "专利法 第X条" in whole.failure.message


def test_unparseable_and_multiple(lookup):
    assert resolve_citation("第十一条", lookup).failure.reason is FailureReason.UNPARSEABLE
    assert resolve_citation("hello", lookup).failure.reason is FailureReason.UNPARSEABLE
    outcome = resolve_citation("专利法第十条、第十一条", lookup)
    assert outcome.failure.reason is FailureReason.MULTIPLE
    outcomes = resolve_all("专利法第十条至第十二条", lookup)
    assert [o.ref.canonical for o in outcomes] == ["专利法 第十条", "专利法 第十一条", "专利法 第十二条"]
    assert all(o.ok for o in outcomes)


def test_patent_paragraph_in_a_group_and_alone(lookup):
    grouped = resolve_one("paragraph [0024] of US 8927118", lookup)
    assert grouped.chunk.citation == "US 8,927,118 B2, ¶¶ [0023]–[0025]"
    assert grouped.part.label == "[0024]" and grouped.text == "[0024] A gadget."
    alone = resolve_one("US 8927118, ¶ [0026]", lookup)
    assert alone.part is None and alone.text == "[0026] Alone."
    assert resolve_one("US8927118B1 claim 1", lookup).chunk.citation == "US 8,927,118 B2, claim 1"
    assert resolve_one("US 8,927,118, abstract", lookup).text == "A widget."


def test_usc_subsections(lookup):
    assert resolve_one("35 U.S.C. § 271", lookup).part is None
    assert resolve_one("35 USC 271(b)(1)", lookup).text == "(1) In general."
    outcome = resolve_citation("35 U.S.C. § 271(z)", lookup)
    assert outcome.failure.reason is FailureReason.NO_SUCH_PART
    assert resolve_one("section 271(a) of this title", lookup, current_title=35).part.label == "(a)"


def test_judgments_and_fallback_citations(lookup):
    assert resolve_one("(2019)最高法知民终123号本院认为", lookup).text == "本院认为，……"
    assert len(resolve("（2019）最高法知民终123号", lookup)) == 2  # the case: all its parts
    preamble = resolve_one("专利法 序言", lookup)
    assert preamble.text == "序言文本"
    assert (preamble.ref.kind, preamble.ref.jurisdiction) == ("cn_preamble", "CN")
    # a preamble is a unit with a grammar now, so every written form finds it
    assert resolve_one("《中华人民共和国专利法》序言", lookup).chunk == preamble.chunk


def test_same_law_filed_twice_resolves_once():
    a = _statute("司法解释/最高人民法院、最高人民检察院关于办理X刑事案件的解释(2020-09-12).md",
                 "# 最高人民法院、最高人民检察院关于办理X刑事案件的解释\n\n<!-- INFO END -->\n\n第一条 甲。\n")
    b = _statute("司法解释/最高人民法院 最高人民检察院关于办理X刑事案件的解释(2020-09-12).md",
                 "# 最高人民法院 最高人民检察院关于办理X刑事案件的解释\n\n<!-- INFO END -->\n\n第一条 甲。\n")
    lookup = InMemoryChunkLookup(a + b)
    assert len(lookup) == 2  # different titles: different documents and chunks
    resolutions = resolve("最高人民法院、最高人民检察院关于办理X刑事案件的解释第一条", lookup)
    assert [(r.version, r.text) for r in resolutions] == [("2020-09-12", "甲。")]


def test_lookup_holds_each_chunk_once_and_by_every_key(lookup):
    chunk = resolve_one("US 8,927,118 B2, ¶ [0023]", lookup).chunk
    for key in unit_keys(chunk):
        assert lookup.chunks_by_unit_key(key) == [chunk]
    assert lookup.chunks_by_unit_key("cn|专利法|第一百条") == []
    assert lookup.document(chunk.document_id).title == "Widget"
    assert lookup.document("nope") is None


def test_usc_items_written_inline_are_found_in_the_text(lookup):
    assert resolve_one("15 U.S.C. § 1052(e)(2)", lookup).text == "(2) is deceptive as in paragraph (4), "
    assert resolve_one("15 U.S.C. § 1052(e)(3)", lookup).text == "(3) is a surname."
    # "(4)" occurs only as a cross-reference ("paragraph (4)"): no such item
    assert resolve_citation("15 U.S.C. § 1052(e)(4)", lookup).failure.reason is FailureReason.NO_SUCH_PART
    assert resolve_citation("15 U.S.C. § 1052(f)(1)", lookup).failure.reason is FailureReason.NO_SUCH_PART
