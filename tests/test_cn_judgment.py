"""CnJudgmentParser on the three fictional judgments in tests/fixtures/cn."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.parsers.cn_judgment import CnJudgmentParser, looks_like_cn_judgment, parse_judgment
from ingest.protocols import SourceText
from ipqa.domain import DocKind, Jurisdiction, Language
from ipqa.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures" / "cn"
APPEAL = FIXTURES / "patent_appeal_2019_zhiminzhong_123.txt"
TRADEMARK = FIXTURES / "trademark_2020_jing73_minchu_456.txt"
COPYRIGHT = FIXTURES / "copyright_2021_hu0115_minchu_789.txt"


def parse(path: Path):
    return parse_judgment(SourceText(str(path), path.read_text(encoding="utf-8"), "txt"))


def sections(parsed):
    return [chunk.citation.split(" ", 1)[1] for chunk in parsed.chunks]


def test_appeal_document_fields():
    doc = parse(APPEAL).document
    assert doc.kind is DocKind.JUDGMENT and doc.jurisdiction is Jurisdiction.CN and doc.language is Language.ZH
    assert doc.title == "（2019）最高法知民终123号 侵害发明专利权纠纷"
    assert doc.version == "2019-12-16"
    assert doc.metadata["court"] == "中华人民共和国最高人民法院"
    assert doc.metadata["case_number"] == "（2019）最高法知民终123号"
    assert doc.metadata["cause_of_action"] == "侵害发明专利权纠纷"
    assert doc.metadata["document_type"] == "民事判决书"
    assert doc.metadata["parties"][0].startswith("上诉人（原审被告）：示例精密机械有限公司")
    assert any(p.startswith("被上诉人（原审原告）：样本智能科技有限公司") for p in doc.metadata["parties"])


def test_appeal_sections_are_chunks_with_canonical_citations():
    parsed = parse(APPEAL)
    assert sections(parsed) == ["审理经过", "上诉人诉称", "被上诉人辩称", "一审法院查明", "一审法院认为",
                                "经审理查明", "本院认为", "判决如下"]
    reasoning = next(c for c in parsed.chunks if c.citation == "（2019）最高法知民终123号 本院认为")
    assert reasoning.unit == "judgment_part"
    assert reasoning.text.startswith("本院认为，本案二审的争议焦点")
    assert reasoning.text.endswith("判决如下：")
    order = parsed.chunks[-1]
    assert order.text.startswith("驳回上诉，维持原判。") and "审判长" not in order.text


def test_paragraphs_are_parts_with_spans_into_the_chunk_text():
    reasoning = next(c for c in parse(APPEAL).chunks if c.citation.endswith("本院认为"))
    assert [p.label for p in reasoning.parts] == ["¶ 1", "¶ 2", "¶ 3"]
    paragraphs = reasoning.text.split("\n")
    assert [reasoning.text[p.start:p.end] for p in reasoning.parts] == paragraphs
    source = APPEAL.read_text(encoding="utf-8")
    assert source[reasoning.span[0]:reasoning.span[1]].startswith("本院认为，本案二审")


def test_first_instance_sections():
    assert sections(parse(TRADEMARK)) == ["审理经过", "原告诉称", "被告辩称", "经审理查明", "本院认为", "判决如下"]
    copyright = parse(COPYRIGHT)
    assert sections(copyright) == ["审理经过", "原告诉称", "被告辩称", "经审理查明", "本院认为", "判决如下"]
    assert copyright.document.metadata["court"] == "上海市浦东新区人民法院"
    assert copyright.document.version == "2021-06-10"
    order = copyright.chunks[-1]
    assert [p.label for p in order.parts] == ["¶ 1", "¶ 2", "¶ 3"]


def test_ids_are_stable_and_distinct():
    first, again = parse(TRADEMARK), parse(TRADEMARK)
    assert [c.id for c in first.chunks] == [c.id for c in again.chunks]
    assert len({c.id for c in first.chunks}) == len(first.chunks)
    assert first.document.id != parse(COPYRIGHT).document.id


def test_detect_and_looks_like():
    parser = CnJudgmentParser()
    for path in (APPEAL, TRADEMARK, COPYRIGHT):
        assert parser.detect(SourceText(str(path), path.read_text(encoding="utf-8"), "txt"))
    # A judicial interpretation carries a document number (法释〔2020〕19号) and speaks of 原告/被告,
    # but is no judgment.
    interpretation = ("# 最高人民法院关于审理专利纠纷案件的规定\n\n法释〔2020〕19号\n\n<!-- INFO END -->\n\n"
                      "第一条 原告起诉被告侵害专利权的，人民法院应当受理。\n")
    assert not looks_like_cn_judgment(interpretation)


def test_example_corpus_has_the_appeal(examples_dir):
    assert (examples_dir / "cn" / APPEAL.name).read_text(encoding="utf-8") == APPEAL.read_text(encoding="utf-8")


def test_bad_input_is_refused_with_the_path():
    with pytest.raises(InputError, match="case number") as info:
        parse_judgment(SourceText("x.txt", "某某法院\n民事判决书\n本院认为，……\n", "txt"))
    assert info.value.source == "x.txt"
    with pytest.raises(InputError, match="sections"):
        parse_judgment(SourceText("y.txt", "某某法院\n民事判决书\n（2020）京73民初1号\n原告：甲。\n", "txt"))


def test_ruling_order_section_is_named_after_its_intro():
    text = ("北京知识产权法院\n民事裁定书\n（2021）京73民初9号\n原告：甲公司。\n被告：乙公司。\n"
            "原告甲公司与被告乙公司侵害商标权纠纷一案，本院于2021年1月5日立案。\n"
            "本院认为，原告申请撤诉，不违反法律规定。依照《中华人民共和国民事诉讼法》第一百四十五条第一款之规定，裁定如下：\n"
            "准许原告甲公司撤回起诉。\n审判员　张某\n二〇二一年二月一日\n书记员　李某\n")
    parsed = parse_judgment(SourceText("r.txt", text, "txt"))
    assert sections(parsed) == ["审理经过", "本院认为", "裁定如下"]
    assert parsed.chunks[-1].text == "准许原告甲公司撤回起诉。"
    assert parsed.document.metadata["document_type"] == "民事裁定书"
    assert parsed.document.version == "2021-02-01"
