"""CnStatuteParser on small inline texts: articles, 款/项 parts, numbering, hierarchy, versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.cn_law_check import check_numbering
from ingest.parsers.cn_judgment import CnJudgmentParser
from ingest.cn_numbers import parse_cn_date
from ingest.parsers import text_parsers
from ingest.parsers.cn_statute import CnStatuteParser, parse_statute, short_title
from ingest.protocols import PageSpan, SourceText
from ingest.skip import SkipFile
from ipqa.domain import DocKind, Jurisdiction, Language
from ipqa.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures" / "cn"

PATENT_LAW = """# 中华人民共和国示例专利法

1984年3月12日 第六届全国人民代表大会常务委员会第四次会议通过

2020年10月17日 第十三届全国人民代表大会常务委员会第二十二次会议第四次修正

<!-- INFO END -->

## 第一章 总则

第一条 为了保护专利权人的合法权益，制定本法。

第二条 本法所称的发明创造是指发明、实用新型和外观设计。

发明，是指对产品、方法或者其改进所提出的新的技术方案。

## 第二章 专利权的限制

### 第一节 一般规定

第三条 有下列情形之一的，不视为侵犯专利权：

（一）专利产品售出后，使用、许诺销售、销售该产品的；

（二）专为科学研究和实验而使用有关专利的。

第十条规定的情形除外。

第三条之一 为提供行政审批所需要的信息，制造专利药品的，不视为侵犯专利权。

第四条 本法自1985年4月1日起施行。
"""


def parse(text: str, path: str = "示例专利法(2020-10-17).md", fmt: str = "md", pages=()):
    return parse_statute(SourceText(path, text, fmt, pages=tuple(pages)))


def by_citation(parsed):
    return {chunk.citation: chunk for chunk in parsed.chunks}


def test_document_fields():
    parsed = parse(PATENT_LAW)
    doc = parsed.document
    assert doc.kind is DocKind.STATUTE and doc.jurisdiction is Jurisdiction.CN and doc.language is Language.ZH
    assert doc.title == "中华人民共和国示例专利法"
    assert doc.version == "2020-10-17"
    assert doc.metadata["history"][0].startswith("1984年3月12日")
    assert all("1984年" not in chunk.text for chunk in parsed.chunks)  # history never enters a chunk


def test_one_chunk_per_article_with_canonical_citation_and_label_stripped():
    chunks = by_citation(parse(PATENT_LAW))
    assert list(chunks) == ["示例专利法 第一条", "示例专利法 第二条", "示例专利法 第三条",
                            "示例专利法 第三条之一", "示例专利法 第四条"]
    second = chunks["示例专利法 第二条"]
    assert second.text == "本法所称的发明创造是指发明、实用新型和外观设计。\n发明，是指对产品、方法或者其改进所提出的新的技术方案。"
    assert second.unit == "article"
    assert second.metadata["article_no"] == 2 and second.metadata["article_sub"] == 0


def test_kuan_and_xiang_parts_index_the_chunk_text():
    article = by_citation(parse(PATENT_LAW))["示例专利法 第三条"]
    labels = [part.label for part in article.parts]
    assert labels == ["第一款", "第一款 第（一）项", "第一款 第（二）项", "第二款"]
    text = {part.label: article.text[part.start:part.end] for part in article.parts}
    assert text["第一款"].startswith("有下列情形之一的") and text["第一款"].endswith("专利的。")
    assert text["第一款 第（一）项"] == "（一）专利产品售出后，使用、许诺销售、销售该产品的；"
    assert text["第一款 第（二）项"] == "（二）专为科学研究和实验而使用有关专利的。"
    assert text["第二款"] == "第十条规定的情形除外。"


def test_quoted_article_inside_a_body_does_not_split_the_article():
    # "第十条规定的情形除外。" starts with 第十条 but continues the numbering of nothing.
    chunks = by_citation(parse(PATENT_LAW))
    assert "示例专利法 第十条" not in chunks
    assert chunks["示例专利法 第三条"].text.endswith("第十条规定的情形除外。")


def test_quoted_article_line_with_a_space_is_body_when_the_real_successor_follows():
    text = "# 示例法\n\n<!-- INFO END -->\n\n第一条 甲。\n\n第九条 被引用的条文。\n\n第二条 乙。\n"
    chunks = parse(text, "示例法(2001-01-01).md").chunks
    assert [c.citation for c in chunks] == ["示例法 第一条", "示例法 第二条"]
    assert chunks[0].text == "甲。\n第九条 被引用的条文。"


def test_zhi_yi_numbering():
    article = by_citation(parse(PATENT_LAW))["示例专利法 第三条之一"]
    assert article.metadata["article_no"] == 3 and article.metadata["article_sub"] == 1
    assert article.hierarchy[-1] == "第三条之一"
    assert check_numbering(parse(PATENT_LAW)) == []


def test_hierarchy_follows_markdown_heading_levels():
    chunks = by_citation(parse(PATENT_LAW))
    assert chunks["示例专利法 第一条"].hierarchy == ("第一章 总则", "第一条")
    assert chunks["示例专利法 第三条"].hierarchy == ("第二章 专利权的限制", "第一节 一般规定", "第三条")


def test_code_book_file_keeps_book_in_hierarchy_and_law_title():
    text = ("# 中华人民共和国民法典\n\n# 物权编\n\n2020年5月28日 通过\n\n2021年1月1日 施行\n\n<!-- INFO END -->\n\n"
            "## 第一分编  通则\n\n### 第一章  一般规定\n\n第二百零五条 本编调整因物的归属和利用产生的民事关系。\n\n"
            "第二百零六条 国家坚持和完善公有制。\n")
    parsed = parse(text, "民法典/物权编.md")
    assert parsed.document.title == "中华人民共和国民法典"
    assert parsed.document.version == "2021-01-01"  # no date in the file name: the last history date
    assert parsed.document.metadata["book"] == "物权编"
    first = parsed.chunks[0]
    assert first.citation == "民法典 第二百零五条"
    assert first.hierarchy == ("物权编", "第一分编 通则", "第一章 一般规定", "第二百零五条")
    assert check_numbering(parsed) == []  # a book continues the code's numbering: no "starts at"


def test_version_from_file_name_wins_over_history_and_none_without_either():
    text = "# 示例条例\n\n1999年1月1日 发布\n\n<!-- INFO END -->\n\n第一条 甲。\n"
    assert parse(text, "示例条例(2005-06-30).md").document.version == "2005-06-30"
    assert parse(text, "示例条例.md").document.version == "1999-01-01"
    undated = "# 示例条例\n\n<!-- INFO END -->\n\n第一条 甲。\n"
    assert parse(undated, "示例条例.md").document.version is None


def test_versions_of_one_law_are_separate_documents():
    old = parse(PATENT_LAW.replace("制定本法。", "特制定本法。"), "示例专利法(2008-12-27).md")
    new = parse(PATENT_LAW, "示例专利法(2020-10-17).md")
    assert old.document.id != new.document.id
    assert old.chunks[0].id != new.chunks[0].id
    # Same title, same text, different dates (two laws that share a name) never collide either.
    a = parse(PATENT_LAW, "a/示例专利法(2001-01-01).md")
    b = parse(PATENT_LAW, "b/示例专利法(2002-01-01).md")
    assert a.document.id != b.document.id
    # And the same file parsed twice gets the same ids (idempotent re-ingest).
    assert parse(PATENT_LAW).document.id == new.document.id
    assert [c.id for c in parse(PATENT_LAW).chunks] == [c.id for c in new.chunks]


def test_article_span_points_into_the_source():
    article = by_citation(parse(PATENT_LAW))["示例专利法 第三条"]
    start, end = article.span
    assert PATENT_LAW[start:end].startswith("第三条 有下列情形之一的")
    assert PATENT_LAW[start:end].endswith("第十条规定的情形除外。")


def test_plain_text_input_without_markdown():
    text = ("中华人民共和国示例商标法\n（1982年8月23日第五届全国人民代表大会常务委员会第二十四次会议通过　"
            "根据2019年4月23日第十三届全国人民代表大会常务委员会第十次会议第四次修正）\n目　　录\n"
            "第一章　总　　则\n第二章　商标注册的申请\n"
            "第一章　总　　则\n第一条　为了加强商标管理，制定本法。\n第二条　国务院工商行政管理部门商标局主管全国商标注册和管理的工作。\n"
            "第二章　商标注册的申请\n第三条　自然人、法人需要取得商标专用权的，应当向商标局申请商标注册。\n")
    source = SourceText("trademark.txt", text, "txt")
    assert CnStatuteParser().detect(source)
    parsed = parse_statute(source)
    assert parsed.document.title == "中华人民共和国示例商标法"
    assert parsed.document.version == "2019-04-23"
    assert [c.citation for c in parsed.chunks] == ["示例商标法 第一条", "示例商标法 第二条", "示例商标法 第三条"]
    assert parsed.chunks[0].hierarchy == ("第一章 总则", "第一条")
    assert parsed.chunks[2].hierarchy == ("第二章 商标注册的申请", "第三条")
    assert parsed.chunks[0].text == "为了加强商标管理，制定本法。"


def test_plain_text_chapter_and_section_levels():
    text = "示例法\n第一章 总则\n第一节 通则\n第一条 甲。\n第二节 细则\n第二条 乙。\n第二章 附则\n第三条 丙。\n"
    chunks = parse_statute(SourceText("x.txt", text, "txt")).chunks
    assert [c.hierarchy for c in chunks] == [
        ("第一章 总则", "第一节 通则", "第一条"), ("第一章 总则", "第二节 细则", "第二条"), ("第二章 附则", "第三条")
    ]


def test_pdf_text_page_artefacts_and_pages():
    page1 = "中华人民共和国示例法\n第一条　为了保护权利人的合法权益，促进\n科学技术进步，制定本法。\n- 1 -\n"
    page2 = "中华人民共和国示例法\n第二条　本法所称的发明创造是指发明。\n2\n"
    text = page1 + page2
    pages = [PageSpan(1, 0, len(page1)), PageSpan(2, len(page1), len(text))]
    parsed = parse(text, "law.pdf", "pdf", pages)
    assert [c.text for c in parsed.chunks] == ["为了保护权利人的合法权益，促进科学技术进步，制定本法。",
                                               "本法所称的发明创造是指发明。"]
    assert [c.page for c in parsed.chunks] == [1, 2]
    assert [p.label for p in parsed.chunks[0].parts] == ["第一款"]


def test_label_variants_found_in_the_corpus():
    # "第一百二十八 条" (space before 条) and "笫" (a typo for 第) are still article lines.
    text = "# 示例法\n\n<!-- INFO END -->\n\n第一条 甲。\n\n第二 条乙。\n\n笫三条 丙。\n"
    parsed = parse(text, "示例法(2001-01-01).md")
    assert [c.citation for c in parsed.chunks] == ["示例法 第一条", "示例法 第二条", "示例法 第三条"]
    assert parsed.chunks[1].text == "乙。"


def test_amending_document_keeps_inserted_articles_inside_the_amending_article():
    text = ("# 中华人民共和国宪法修正案（2018年）\n\n2018年3月11日 通过\n\n<!-- INFO END -->\n\n"
            "第五十一条 宪法第一百零七条第一款修改为：“……”\n\n"
            "第五十二条 宪法第三章中增加一节，内容如下：\n\n第七节 监察委员会\n\n"
            "第一百二十三条 中华人民共和国各级监察委员会是国家的监察机关。\n\n第一百二十四条 中华人民共和国设立国家监察委员会。\n")
    parsed = parse(text, "宪法/宪法修正案（2018年）.md")
    assert [c.citation for c in parsed.chunks] == ["宪法修正案（2018年） 第五十一条", "宪法修正案（2018年） 第五十二条"]
    assert "第一百二十四条 中华人民共和国设立国家监察委员会。" in parsed.chunks[1].text
    assert check_numbering(parsed) == []  # amendments continue the numbering of earlier ones


def test_item_numbered_document_gets_articles():
    text = ("# 最高人民法院关于示例问题的批复\n\n2001年1月1日 通过\n\n<!-- INFO END -->\n\n"
            "经研究，批复如下：\n\n一、专利权人可以请求停止侵权。\n\n二、本批复自公布之日起施行。\n")
    parsed = parse(text, "批复.md")
    assert [c.citation for c in parsed.chunks] == ["最高人民法院关于示例问题的批复 第一条",
                                                   "最高人民法院关于示例问题的批复 第二条"]
    assert parsed.chunks[0].text == "专利权人可以请求停止侵权。"
    assert parsed.document.metadata["numbering"] == "item"


def test_short_unnumbered_document_is_one_whole_text_unit():
    text = "# 关于示例问题的解释\n\n2001年1月1日 通过\n\n<!-- INFO END -->\n\n某行为应当依照刑法的规定定罪处罚。\n"
    parsed = parse(text, "解释.md")
    assert len(parsed.chunks) == 1
    assert parsed.chunks[0].unit == "text" and parsed.chunks[0].citation == "关于示例问题的解释"


def test_non_statutes_are_refused_with_a_reason():
    guide = "# 劳动仲裁攻略\n\n该攻略出自网络\n\n<!-- INFO END -->\n\n## 如何维权\n\n一、收集证据\n\n二、申请仲裁\n"
    with pytest.raises(InputError, match="not a statute") as info:
        parse(guide, "其他/攻略.md")
    assert info.value.source == "其他/攻略.md"
    standard = "# 示例鉴定标准\n\n<!-- INFO END -->\n\n## 范围\n\n" + "本标准规定了鉴定的原则和方法。\n\n" * 300
    with pytest.raises(InputError, match="not a statute in article form"):
        parse(standard, "其他/标准(2014-01-01).md")
    with pytest.raises(InputError):
        parse("", "empty.md")


def _first_text_parser(source: SourceText) -> str:
    return next(parser.name for parser in text_parsers() if parser.detect(source))


def test_detect_recognises_statutes_and_judgments_go_to_the_judgment_parser():
    statute = CnStatuteParser()
    assert statute.detect(SourceText("a.md", PATENT_LAW, "md"))
    assert _first_text_parser(SourceText("a.md", PATENT_LAW, "md")) == "cn_statute"
    for path in sorted(FIXTURES.glob("*.txt")):
        judgment = SourceText(str(path), path.read_text(encoding="utf-8"), "txt")
        assert CnJudgmentParser().detect(judgment), path.name
        assert _first_text_parser(judgment) == "cn_judgment", path.name
    assert not CnJudgmentParser().detect(SourceText("a.md", PATENT_LAW, "md"))
    assert not statute.detect(SourceText("a.txt", "Section 271. Infringement of patent.\n(a) Whoever…", "txt"))


def test_check_numbering_reports_gaps_duplicates_and_disorder():
    text = "# 示例法\n\n<!-- INFO END -->\n\n第一条 甲。\n\n第二条 乙。\n\n第五条 丙。\n"
    assert check_numbering(parse(text, "示例法(2001-01-01).md")) == ["gap: 第二条 -> 第五条"]
    late_start = "# 示例法\n\n<!-- INFO END -->\n\n第三条 甲。\n\n第四条 乙。\n"
    assert check_numbering(parse(late_start, "示例法(2001-01-01).md")) == ["starts at 第三条"]
    restart = "# 示例法\n\n<!-- INFO END -->\n\n第一条 甲。\n\n第二条 乙。\n\n第一条 丙。\n"
    problems = check_numbering(parse(restart, "示例法(2001-01-01).md"))
    assert "duplicate 第一条 (2×)" in problems and "out of order: 第一条 after 第二条" in problems


def test_helpers():
    assert short_title("中华人民共和国专利法") == "专利法"
    assert short_title("最高人民法院关于审理专利纠纷案件适用法律问题的若干规定") == "最高人民法院关于审理专利纠纷案件适用法律问题的若干规定"
    assert parse_cn_date("2020年10月17日 第四次修正") == "2020-10-17"
    assert parse_cn_date("二〇一九年十二月十六日") == "2019-12-16"
    assert parse_cn_date("1984年3月12日 通过；2000年8月25日 修正") == "2000-08-25"
    assert parse_cn_date("2020年13月40日") is None


def test_example_corpus_law(examples_dir):
    path = examples_dir / "cn" / "示例知识产权保护条例(2024-01-01).md"
    parsed = parse_statute(SourceText(str(path), path.read_text(encoding="utf-8"), "md"))
    chunks = by_citation(parsed)
    assert len(chunks) == 16 and check_numbering(parsed) == []
    assert "示例知识产权保护条例 第十条之一" in chunks
    assert "依照本条例第五条的规定" in chunks["示例知识产权保护条例 第六条"].text
    assert [p.label for p in chunks["示例知识产权保护条例 第五条"].parts] == [
        "第一款", "第一款 第（一）项", "第一款 第（二）项", "第一款 第（三）项", "第二款"]


def test_collection_folder_index_is_claimed_and_refused():
    index = SourceText("cn-law/刑法/_index.md", "---\nbookCollapseSection: true\n---\n", "md")
    assert CnStatuteParser().detect(index)
    with pytest.raises(SkipFile, match="folder index"):  # skipped by a batch, not an error
        parse_statute(index)


RUN_TOGETHER = """# 中华人民共和国示例规则

<!-- INFO END -->

## 第一章 总则

第一条 为了规范飞行，制定本规则。 第二条 飞行应当遵守本规则。 违反第三条规定的，依照第九条处理。 第三条 飞行前应当申请。 第三条规定的申请，由空军批准。 第四条 本规则自公布之日起施行。
"""


def test_articles_run_together_on_one_line_are_split_where_the_numbering_continues():
    parsed = parse(RUN_TOGETHER, path="示例规则(2007-10-18).md")
    chunks = by_citation(parsed)
    assert list(chunks) == [f"示例规则 第{n}条" for n in "一二三四"]
    # a quotation without a space before it (依照第九条) or one that is not the next number never cuts
    second = chunks["示例规则 第二条"]
    assert second.text == "飞行应当遵守本规则。\n违反第三条规定的，依照第九条处理。"
    # the paragraphs run together after a sentence end become 款 parts
    assert [p.label for p in second.parts] == ["第一款", "第二款"]
    # "第三条规定的…" after a space continues no numbering (第三条 is open): body text, not an article
    assert chunks["示例规则 第三条"].text == "飞行前应当申请。\n第三条规定的申请，由空军批准。"
    for chunk in parsed.chunks:  # spans point at the article in the source
        assert RUN_TOGETHER[chunk.span[0]:chunk.span[1]].startswith(chunk.hierarchy[-1])
    assert parsed.warnings == ()


def test_an_amending_document_never_splits_quoted_articles():
    text = ("# 中华人民共和国示例法修正案\n\n<!-- INFO END -->\n\n"
            "第一条 将第五条修改为： 第二条 新的条文。\n第二条 本修正案自公布之日起施行。\n")
    chunks = by_citation(parse(text, path="示例法修正案(2020-10-17).md"))
    assert list(chunks) == ["示例法修正案 第一条", "示例法修正案 第二条"]
    # the quoted 第二条 continues the numbering after a space, yet stays inside the amendment's 第一条
    assert chunks["示例法修正案 第一条"].text == "将第五条修改为： 第二条 新的条文。"
    assert chunks["示例法修正案 第二条"].text == "本修正案自公布之日起施行。"
