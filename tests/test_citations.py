"""Citation parsing: every written form -> one canonical citation and one unit key; prose finding;
things that must not parse; unit keys of chunks."""

import pytest

from factories import make_chunk, make_document
from ingest.citation_forms import CitationKind, normalize_law_name
from ingest.citations import (
    extract_references,
    fallback_key,
    find_citations,
    parse_citation,
    parse_citations,
    same_unit,
    unit_keys,
)
from ipqa.domain import Part

# --- Chinese statutes ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text,canonical,part",
    [
        ("《中华人民共和国专利法》第十一条第一款", "专利法 第十一条 第一款", "第一款"),
        ("专利法第11条", "专利法 第十一条", None),
        ("专利法第十一条", "专利法 第十一条", None),
        ("《专利法》第十一条", "专利法 第十一条", None),
        ("中华人民共和国专利法第十一条", "专利法 第十一条", None),
        ("专利法 第十一条", "专利法 第十一条", None),  # the canonical form itself
        ("专利法第１１条", "专利法 第十一条", None),  # full-width digits
        ("专利法 第 11 条 第 1 款", "专利法 第十一条 第一款", "第一款"),
        ("专利法第11条第1款", "专利法 第十一条 第一款", "第一款"),
        ("《专利法》第十一条第一款第（二）项", "专利法 第十一条 第一款 第（二）项", "第一款 第（二）项"),
        ("《专利法》第十一条第一款第(二)项", "专利法 第十一条 第一款 第（二）项", "第一款 第（二）项"),
        ("专利法第十一条第二项", "专利法 第十一条 第（二）项", "第（二）项"),
        ("民法典第五十四条", "民法典 第五十四条", None),
        ("中华人民共和国民法典第五十四条", "民法典 第五十四条", None),
        ("个体工商户条例第二条", "个体工商户条例 第二条", None),
        ("刑法第一百二十条之一", "刑法 第一百二十条之一", None),
        ("刑法第120条之1", "刑法 第一百二十条之一", None),
        ("民法典第一千二百六十条", "民法典 第一千二百六十条", None),
        ("最高人民法院关于审理专利纠纷案件适用法律问题的若干规定第十九条",
         "最高人民法院关于审理专利纠纷案件适用法律问题的若干规定 第十九条", None),
        ("最高人民法院关于适用《民法典》有关担保制度的解释第七条",
         "最高人民法院关于适用《民法典》有关担保制度的解释 第七条", None),
        ("《最高人民法院关于适用〈民法典〉有关担保制度的解释》第七条",
         "最高人民法院关于适用《民法典》有关担保制度的解释 第七条", None),
        ("最高人民法院关于审理生态环境损害赔偿案件的若干规定（试行）第十二条",
         "最高人民法院关于审理生态环境损害赔偿案件的若干规定（试行） 第十二条", None),
        ("宪法修正案（2004年）第一条", "宪法修正案（2004年） 第一条", None),
        ("最高人民法院关于适用刑法第十二条几个问题的解释第三条", "最高人民法院关于适用刑法第十二条几个问题的解释 第三条", None),
    ],
)
def test_cn_forms(text, canonical, part):
    ref = parse_citation(text)
    assert ref is not None, text
    assert ref.canonical == canonical
    assert ref.part == part
    assert ref.kind is CitationKind.CN_ARTICLE
    assert ref.jurisdiction == "CN"


def test_cn_forms_share_one_key():
    forms = ["《中华人民共和国专利法》第十一条第一款", "专利法第11条", "《专利法》（2008年修正）第十一条",
             "中华人民共和国专利法第十一条", "专利法 第十一条 第一款 第（二）项", "专利法第１１条"]
    keys = {parse_citation(f).unit_key for f in forms}
    assert keys == {"cn|专利法|第十一条"}


def test_version_qualifier_is_kept_apart():
    ref = parse_citation("《专利法》（2008年修正）第十一条")
    assert ref.version == "2008年修正"
    assert ref.canonical == "专利法 第十一条"
    assert parse_citation("专利法(2020-10-17)第十一条").version == "2020-10-17"


def test_amendment_years_are_names_not_versions():
    a, b = parse_citation("宪法修正案（1988年）第一条"), parse_citation("宪法修正案（2004年）第一条")
    assert a.unit_key != b.unit_key
    assert a.version is None


@pytest.mark.parametrize(
    "written,normalised",
    [
        ("中华人民共和国专利法", "专利法"),
        ("《专利法》", "专利法"),
        ("专利法（2008年修正）", "专利法"),
        ("最高人民法院关于适用《中华人民共和国民事诉讼法》的解释", "最高人民法院关于适用民事诉讼法的解释"),
        ("最高人民法院  最高人民检察院关于办理强奸、猥亵未成年人刑事案件适用法律若干问题的解释",
         "最高人民法院最高人民检察院关于办理强奸猥亵未成年人刑事案件适用法律若干问题的解释"),
        ("最高人民法院、最高人民检察院关于办理强奸、猥亵未成年人刑事案件适用法律若干问题的解释",
         "最高人民法院最高人民检察院关于办理强奸猥亵未成年人刑事案件适用法律若干问题的解释"),
        ("最高人民法院关于审理劳动争议案件适用法律问题的解释（一）", "最高人民法院关于审理劳动争议案件适用法律问题的解释(一)"),
    ],
)
def test_law_name_normalisation(written, normalised):
    assert normalize_law_name(written) == normalised


def test_cn_lists_and_ranges():
    assert [r.canonical for r in parse_citations("专利法第十一条、第十二条")] == ["专利法 第十一条", "专利法 第十二条"]
    assert [r.canonical for r in parse_citations("专利法第十一条至第十三条")] == [
        "专利法 第十一条", "专利法 第十二条", "专利法 第十三条"]
    assert [r.canonical for r in parse_citations("专利法第十一条第一款、第二款")] == [
        "专利法 第十一条 第一款", "专利法 第十一条 第二款"]
    assert [r.part for r in parse_citations("商标法第五十七条第（一）项至第（三）项")] == [
        "第（一）项", "第（二）项", "第（三）项"]
    # a list is several citations, so it is not "a citation"
    assert parse_citation("专利法第十一条、第十二条") is None


@pytest.mark.parametrize(
    "text",
    ["第十一条", "第十一条第一款", "本法第十一条", "该法第十一条", "专利法第十一条的规定",
     "请问第十一条", "", "   ", "法第十一条", "专利法第十一条的规定第三条", "条例", "该法",
     "民法典 序言 第一条", "专利法的规定。"],
)
def test_cn_not_citations(text):
    assert parse_citation(text) is None


@pytest.mark.parametrize(
    ("text", "canonical", "unit_key", "kind"),
    [
        # a law without articles is one whole-text unit, cited by its name alone
        ("刑法修正案（二）", "刑法修正案（二）", "cn|刑法修正案(二)|全文", CitationKind.CN_TEXT),
        ("《中华人民共和国刑法修正案(二)》", "刑法修正案(二)", "cn|刑法修正案(二)|全文", CitationKind.CN_TEXT),
        ("最高人民检察院关于检察工作中具体适用修订刑法第十二条若干问题的通知",
         "最高人民检察院关于检察工作中具体适用修订刑法第十二条若干问题的通知",
         "cn|最高人民检察院关于检察工作中具体适用修订刑法第十二条若干问题的通知|全文", CitationKind.CN_TEXT),
        ("最高人民法院、最高人民检察院关于执行《中华人民共和国刑法》 确定罪名的补充规定（七）",
         "最高人民法院、最高人民检察院关于执行《中华人民共和国刑法》确定罪名的补充规定（七）",
         "cn|最高人民法院最高人民检察院关于执行刑法确定罪名的补充规定(七)|全文", CitationKind.CN_TEXT),
        ("宪法 序言", "宪法 序言", "cn|宪法|序言", CitationKind.CN_PREAMBLE),
        ("《中华人民共和国宪法》序言", "宪法 序言", "cn|宪法|序言", CitationKind.CN_PREAMBLE),
    ],
)
def test_cn_whole_text_and_preamble(text, canonical, unit_key, kind):
    ref = parse_citation(text)
    assert (ref.canonical, ref.unit_key, ref.kind, ref.part) == (canonical, unit_key, kind, None)
    # the canonical form parses back to the same unit
    assert parse_citation(ref.canonical).unit_key == unit_key


def test_relative_law_needs_context():
    assert parse_citation("本法第十一条") is None
    assert parse_citation("本法第十一条", current_law="专利法").canonical == "专利法 第十一条"
    assert parse_citation("第十一条", current_law="专利法").canonical == "专利法 第十一条"


# --- US Code ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text,canonical,part",
    [
        ("35 USC 271(a)", "35 U.S.C. § 271(a)", "(a)"),
        ("35 U.S.C. § 271(a)", "35 U.S.C. § 271(a)", "(a)"),
        ("35 U.S.C. 271", "35 U.S.C. § 271", None),
        ("35 U.S.C. §271", "35 U.S.C. § 271", None),
        ("35 U.S.C. § 271", "35 U.S.C. § 271", None),
        ("§ 271(a) of title 35", "35 U.S.C. § 271(a)", "(a)"),
        ("section 271(a) of title 35", "35 U.S.C. § 271(a)", "(a)"),
        ("15 U.S.C. §1125(a)(1)(A)", "15 U.S.C. § 1125(a)(1)(A)", "(a)(1)(A)"),
        ("17 U.S.C. § 106A", "17 U.S.C. § 106A", None),
    ],
)
def test_usc_forms(text, canonical, part):
    ref = parse_citation(text)
    assert ref is not None, text
    assert (ref.canonical, ref.part, ref.kind) == (canonical, part, CitationKind.USC_SECTION)
    assert ref.unit == canonical[: len(canonical) - len(part or "")]


def test_usc_key_is_the_section():
    keys = {parse_citation(t).unit_key for t in ["35 USC 271(a)", "35 U.S.C. § 271", "§ 271(b)(1) of title 35"]}
    assert keys == {"usc|35|271"}


def test_usc_this_title_needs_current_title():
    assert parse_citation("section 271(a) of this title") is None
    assert parse_citation("section 271(a) of this title", current_title=35).canonical == "35 U.S.C. § 271(a)"


def test_usc_range_gives_each_section():
    assert [r.canonical for r in parse_citations("35 U.S.C. §§ 102–103")] == ["35 U.S.C. § 102", "35 U.S.C. § 103"]
    assert [r.canonical for r in parse_citations("35 U.S.C. §§ 101-103")] == [
        "35 U.S.C. § 101", "35 U.S.C. § 102", "35 U.S.C. § 103"]


@pytest.mark.parametrize("text", ["35 USC", "35 U.S.C.", "section 5", "§ 271", "the section on damages",
                                  "section 2 of the report", "99 U.S.C. § 1"])
def test_usc_not_citations(text):
    assert parse_citation(text) is None


# --- patents ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text,key,kind,part",
    [
        ("claim 3 of US 8927118", "patent|US8927118|claim|3", CitationKind.PATENT_CLAIM, None),
        ("US 8,927,118 B2, claim 3", "patent|US8927118|claim|3", CitationKind.PATENT_CLAIM, None),
        ("U.S. Patent No. 8,927,118, claim 3", "patent|US8927118|claim|3", CitationKind.PATENT_CLAIM, None),
        ("US8927118B2 claim 3", "patent|US8927118|claim|3", CitationKind.PATENT_CLAIM, None),
        ("US 08927118 B2, claim 3", "patent|US8927118|claim|3", CitationKind.PATENT_CLAIM, None),
        ("US 8,927,118 B2, ¶ [0023]", "patent|US8927118|paragraph|23", CitationKind.PATENT_PARAGRAPH, "[0023]"),
        ("paragraph [0023] of US 8927118", "patent|US8927118|paragraph|23", CitationKind.PATENT_PARAGRAPH,
         "[0023]"),
        ("US 8,927,118, FIG. 2", "patent|US8927118|figure|2", CitationKind.PATENT_FIGURE, None),
        ("US 8,927,118 B2, abstract", "patent|US8927118|abstract", CitationKind.PATENT_ABSTRACT, None),
        ("D612,345, claim 1", "patent|USD612345|claim|1", CitationKind.PATENT_CLAIM, None),
        ("US D612,345 S, claim 1", "patent|USD612345|claim|1", CitationKind.PATENT_CLAIM, None),
        ("US 2005/0004437 A1, ¶ [0012]", "patent|US20050004437|paragraph|12", CitationKind.PATENT_PARAGRAPH,
         "[0012]"),
        ("US20050004437A1 claim 2", "patent|US20050004437|claim|2", CitationKind.PATENT_CLAIM, None),
    ],
)
def test_patent_forms(text, key, kind, part):
    ref = parse_citation(text)
    assert ref is not None, text
    assert (ref.unit_key, ref.kind, ref.part) == (key, kind, part)


def test_patent_canonical_forms():
    assert parse_citation("US8927118B2 claim 3").canonical == "US 8,927,118 B2, claim 3"
    assert parse_citation("paragraph [23] of US 8927118").canonical == "US 8,927,118, ¶ [0023]"
    assert parse_citation("US 8,927,118 B2, ¶¶ [0023]–[0027]").canonical == "US 8,927,118 B2, ¶¶ [0023]–[0027]"
    assert parse_citation("US20050004437A1 claim 2").canonical == "US 2005/0004437 A1, claim 2"


def test_patent_claim_range():
    assert [r.canonical for r in parse_citations("US 8,927,118 B2, claims 1-3")] == [
        "US 8,927,118 B2, claim 1", "US 8,927,118 B2, claim 2", "US 8,927,118 B2, claim 3"]


@pytest.mark.parametrize("text", ["'118 patent, claim 3", "US 8,927,118", "claim 3", "8927118 claim 3",
                                  "the claim 3 limitation"])
def test_patent_not_citations(text):
    assert parse_citation(text) is None


# --- judgments ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text",
    ["（2019）最高法知民终123号 本院认为", "(2019)最高法知民终123号本院认为", "（2019） 最高法知民终 123 号 本院认为"],
)
def test_judgment_forms(text):
    ref = parse_citation(text)
    assert ref.canonical == "（2019）最高法知民终123号 本院认为"
    assert ref.unit_key == "judgment|（2019）最高法知民终123号|本院认为"
    assert ref.kind is CitationKind.JUDGMENT_PART


def test_judgment_with_digits_in_court_code():
    assert parse_citation("(2020)京73民初1234号").canonical == "（2020）京73民初1234号"


# --- US opinions ------------------------------------------------------------------------------

def test_opinion_parts():
    ref = parse_citation("Purewell Filtration Corp. v. Brightwater Home Products, Inc., No. 2025-1718, part ii.a")
    assert ref.canonical == "Purewell Filtration Corp. v. Brightwater Home Products, Inc., No. 2025-1718, Part II.A"
    assert ref.kind is CitationKind.OPINION_PART
    assert parse_citation("Smith v. Jones, No. 19-123, para. 12").canonical == "Smith v. Jones, No. 19-123, ¶ 12"
    assert parse_citation("Smith and Jones, Part II") is None
    chunk = make_chunk("Smith v. Jones, No. 19-123, Part II", unit="opinion_part", language="en")
    # cited with or without the docket number
    assert parse_citation("Smith v. Jones, No. 19-123, Part II").unit_key in unit_keys(chunk)
    assert parse_citation("SMITH v. JONES, Part II").unit_key in unit_keys(chunk)


# --- prose --------------------------------------------------------------------------------------

def _found(text, **kw):
    return [(f.ref.canonical, f.matched) for f in find_citations(text, **kw)]


def test_prose_relative_law():
    text = "依照本法第十一条的规定，处以罚款。"
    assert _found(text, current_law="专利法") == [("专利法 第十一条", "本法第十一条")]
    assert _found(text) == []
    assert _found("本条例第五条规定的", current_law="个体工商户条例") == [("个体工商户条例 第五条", "本条例第五条")]


def test_prose_spans_index_the_text():
    text = "根据《中华人民共和国专利法》（2008年修正）第二十二条第三款，该发明不具备创造性。"
    [found] = find_citations(text)
    assert text[found.start:found.end] == found.matched == "《中华人民共和国专利法》（2008年修正）第二十二条第三款"
    assert found.ref.canonical == "专利法 第二十二条 第三款"
    assert found.ref.version == "2008年修正"


def test_prose_lists_ranges_and_items():
    assert _found("违反了专利法第十一条、第十二条的规定") == [
        ("专利法 第十一条", "专利法第十一条、第十二条"), ("专利法 第十二条", "专利法第十一条、第十二条")]
    assert [c for c, _ in _found("第十一条至第十三条", current_law="专利法")] == [
        "专利法 第十一条", "专利法 第十二条", "专利法 第十三条"]
    assert _found("依据《商标法》第五十七条第（一）项规定") == [("商标法 第五十七条 第（一）项", "《商标法》第五十七条第（一）项")]


def test_prose_bare_names_are_cut_from_the_sentence():
    assert [c for c, _ in _found("被告的行为违反了专利法第十一条和商标法第五条")] == [
        "专利法 第十一条", "商标法 第五条"]
    assert [c for c, _ in _found("依照最高人民法院关于审理专利纠纷案件适用法律问题的若干规定第十九条")] == [
        "最高人民法院关于审理专利纠纷案件适用法律问题的若干规定 第十九条"]
    assert [c for c, _ in _found("医疗纠纷预防和处理条例第五条")] == ["医疗纠纷预防和处理条例 第五条"]
    assert [c for c, _ in _found("除有民法典第六百八十七条第二款规定的情形外")] == ["民法典 第六百八十七条 第二款"]


def test_prose_known_laws_make_bare_names_exact():
    text = "债务人主张其享有民法典第六百八十七条第二款的先诉抗辩权"
    assert [c for c, _ in _found(text, known_laws=["中华人民共和国民法典"])] == ["民法典 第六百八十七条 第二款"]


def test_prose_known_laws_never_shorten_a_name_into_another_law():
    # 调解仲裁法 abbreviates 劳动争议调解仲裁法; it ends with 仲裁法, which is a different law
    found = find_citations("当事人可以依照调解仲裁法第五条申请仲裁", known_laws=["仲裁法", "劳动争议调解仲裁法"])
    assert [f.ref.law for f in found] == ["调解仲裁法"]
    found = find_citations("当事人可以依照劳动争议调解仲裁法第五条", known_laws=["仲裁法", "劳动争议调解仲裁法"])
    assert [f.ref.law for f in found] == ["劳动争议调解仲裁法"]
    assert [f.ref.law for f in find_citations("依照香港特别行政区基本法第十八条")] == ["香港特别行政区基本法"]


def test_prose_vague_law_is_not_a_citation():
    assert _found("依照该法第十条的规定") == []
    assert _found("依照第十条的规定") == []  # no law and no context


def test_prose_paragraph_references_need_the_current_article():
    text = "第一款之外的情形。\n除前款规定的情形外，依照本条第一款处理。"
    assert _found(text) == []
    found = _found(text, current_law="专利法", current_article="第十五条")
    assert ("专利法 第十五条 第一款", "前款") in found
    assert ("专利法 第十五条 第一款", "本条第一款") in found


def test_prose_us_code():
    text = "an infringer under section 271(a) of this title, and sections 102 and 103 of this title"
    assert [c for c, _ in _found(text, current_title=35)] == [
        "35 U.S.C. § 271(a)", "35 U.S.C. § 102", "35 U.S.C. § 103"]
    assert _found(text) == []
    assert [c for c, _ in _found("see 35 U.S.C. §§ 102–103 and § 112(f)", current_title=35)] == [
        "35 U.S.C. § 102", "35 U.S.C. § 103", "35 U.S.C. § 112(f)"]
    assert [c for c, _ in _found("under § 2 of the Clayton Act", current_title=15)] == []


def test_prose_random_text_with_section_and_claim_words():
    text = "This section describes the claims. See section 5 of the report and claim 3 as amended in 2012."
    assert _found(text) == []
    assert _found(text, current_title=35) == []


def test_prose_patents_and_judgments():
    assert [c for c, _ in _found("claim 3 of US 8927118 and U.S. Patent No. 7,654,321, claims 1-2")] == [
        "US 8,927,118, claim 3", "US 7,654,321, claim 1", "US 7,654,321, claim 2"]
    assert _found("如（2019）最高法知民终123号本院认为部分所述") == [
        ("（2019）最高法知民终123号 本院认为", "（2019）最高法知民终123号本院认为")]


# --- keys of chunks -----------------------------------------------------------------------------

def test_unit_keys_of_an_article_match_every_written_form():
    chunk = make_chunk("专利法 第十一条")
    assert unit_keys(chunk) == ["cn|专利法|第十一条"]
    assert parse_citation("《中华人民共和国专利法》第11条第1款").unit_key in unit_keys(chunk)


def test_unit_keys_of_grouped_patent_paragraphs():
    text = "[0023] first. [0024] second."
    chunk = make_chunk("US 8,927,118 B2, ¶¶ [0023]–[0024]", text, parts=(Part("[0023]", 0, 14), Part("[0024]", 15, 29)),
                   unit="paragraphs", language="en")
    keys = unit_keys(chunk)
    assert keys == ["patent|US8927118|paragraphs|23-24", "patent|US8927118|paragraph|23",
                    "patent|US8927118|paragraph|24"]
    assert parse_citation("US 8927118, ¶ [0024]").unit_key in keys


def test_unit_keys_of_a_judgment_part_include_the_case():
    keys = unit_keys(make_chunk("（2019）最高法知民终123号 本院认为", unit="judgment_part"))
    assert keys == ["judgment|（2019）最高法知民终123号|本院认为", "judgment|（2019）最高法知民终123号"]


def test_unit_keys_fall_back_to_the_citation():
    assert unit_keys(make_chunk("专利法 附件一")) == [fallback_key("专利法 附件一")]


def test_unit_keys_of_a_preamble_and_a_whole_text_law():
    assert unit_keys(make_chunk("宪法 序言", unit="preamble")) == ["cn|宪法|序言"]
    assert unit_keys(make_chunk("刑法修正案（二）", unit="text")) == ["cn|刑法修正案(二)|全文"]


def test_same_unit_compares_keys_not_strings():
    chunk = make_chunk("US 8,927,118 B2, claim 3", unit="claim", language="en")
    assert same_unit(parse_citation("claim 3 of US 8927118"), chunk)
    assert not same_unit(parse_citation("claim 4 of US 8927118"), chunk)
    interpretation = make_chunk("最高人民法院关于适用《中华人民共和国民法典》有关担保制度的解释 第七条")
    assert same_unit(parse_citation("《最高人民法院关于适用〈民法典〉有关担保制度的解释》第七条第二款"), interpretation)


# --- references ---------------------------------------------------------------------------------

def test_extract_references_resolves_relative_forms_and_drops_self_references():
    chunk = make_chunk("专利法 第十五条", "依照本法第十一条和商标法第五条的规定。\n除前款规定的情形外，适用本条第一款。\n依照本法第十一条。")
    assert extract_references(chunk, make_document()) == ("专利法 第十一条", "商标法 第五条")


def test_extract_references_keeps_parser_references_first():
    chunk = make_chunk("US 8,927,118 B2, claim 3", "The method of claim 1, see 35 U.S.C. § 112(f).",
                   unit="claim", language="en", references=("US 8,927,118 B2, claim 1",))
    doc = make_document("Widget", kind="patent", jurisdiction="US", language="en")
    assert extract_references(chunk, doc) == ("US 8,927,118 B2, claim 1", "35 U.S.C. § 112(f)")


def test_extract_references_in_the_us_code_use_the_own_title():
    chunk = make_chunk("35 U.S.C. § 271", "(a) ... (f) as provided in section 287(a) of this title ...",
                   unit="section", language="en")
    doc = make_document("Title 35", jurisdiction="US", language="en")
    assert extract_references(chunk, doc) == ("35 U.S.C. § 287(a)",)


@pytest.mark.shared
def test_corpus_law_names_are_cut_out_of_sentences(shared_data):
    """Names written without 《》 in prose: nearly every cn-law title is recovered exactly from
    "依照<title>第一条" without knowing the titles (the rest resolve to nothing, never to another law)."""
    from ingest.citation_forms import clean_law_title

    titles = set()
    for path in (shared_data / "cn-law").rglob("*.md"):
        if path.name != "_index.md":
            with path.open(encoding="utf-8") as fh:
                titles.add(clean_law_title(fh.readline().strip().lstrip("#").strip()))
    exact = sum(
        [f.ref.law for f in find_citations(f"依照{t}第一条的规定")] == [t] for t in titles
    )
    assert len(titles) > 1400
    assert exact / len(titles) >= 0.98
    # and with the titles known, every title whose own name holds no article number is exact
    plain = [t for t in titles if "第" not in t and not t.endswith("攻略")]  # one file is a guide, not a law
    known = [[f.ref.law for f in find_citations(f"违反了{t}第一条", known_laws=titles)] == [t] for t in plain]
    assert all(known)


# --- robustness ---------------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PIECES = st.sampled_from(["第", "十", "一", "百", "千", "条", "款", "项", "之", "（", "）", "(", ")", "《", "》", "〈", "〉",
                           "本法", "前款", "本条", "专利法", "关于", "、", "至", "号", "§", "§§", "U.S.C.", " ", "section ",
                           "of this title", "claim ", "US ", "¶", "[", "]", "FIG. ", ",", "-", "–", "0", "1", "9",
                           "\n", "最高人民法院", "解释", "年修正", "2019", "D", "abstract"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join), st.text(max_size=40))
def test_parsing_never_raises_and_spans_hold(pieces, noise):
    for text in (pieces, noise, pieces + noise):
        parse_citations(text)
        parse_citations(text, current_law="专利法", current_title=35)
        for found in find_citations(text, current_law="专利法", current_title=35, current_article="第十条"):
            assert text[found.start:found.end] == found.matched
            assert parse_citation(found.ref.canonical, current_title=35) is not None or found.ref.kind in (
                CitationKind.JUDGMENT_PART,)
