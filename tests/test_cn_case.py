"""The Chinese case-number grammar and judgment section names (ingest/cn_case.py) round-trip both
ways, and the judgment parser and the citation parser agree on them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.citation_forms import CitationKind
from ingest.citations import find_citations, parse_citation, unit_keys
from ingest.cn_case import (
    CASE_NUMBER,
    CITED_SECTIONS,
    OTHER_CITED_SECTIONS,
    CaseNumber,
    JudgmentSection,
    normalize_case_number,
    numbered_section,
    parse_case_number,
)
from ingest.parsers.cn_judgment import parse_judgment
from ingest.protocols import SourceText

FIXTURES = Path(__file__).parent / "fixtures" / "cn"
JUDGMENTS = sorted(FIXTURES.glob("*.txt"))

# --- case numbers --------------------------------------------------------------------------------

WRITTEN_FORMS = [
    ("（2019）最高法知民终123号", "（2019）最高法知民终123号"),
    ("(2020)京73民初456号", "（2020）京73民初456号"),
    ("〔2018〕沪0115民初789号", "（2018）沪0115民初789号"),
    ("[2017]粤民再12号", "（2017）粤民再12号"),
    ("（２０１９）最高法知民终１２３号", "（2019）最高法知民终123号"),
    ("（2019） 最高法知民终 123 号", "（2019）最高法知民终123号"),
    ("（2015）民申字第00012号", "（2015）民申字第00012号"),
]


@pytest.mark.parametrize("written,canonical", WRITTEN_FORMS)
def test_case_number_parse_then_format_gives_the_canonical_form(written, canonical):
    parsed = parse_case_number(written)
    assert parsed is not None
    assert str(parsed) == canonical == normalize_case_number(written)
    assert parse_case_number(str(parsed)) == parsed  # the canonical form is a fixed point


@pytest.mark.parametrize("text", ["〔2020〕19号", "（2019）123号", "2019最高法知民终123号",
                                  "（2019）最高法知民终号", "（2019）最高法知民终123"])
def test_what_is_not_a_case_number(text):
    assert parse_case_number(text) is None


def test_the_strict_grammar_keeps_a_judicial_interpretations_number_out():
    assert CASE_NUMBER.search("法释〔2020〕19号") is None
    assert CASE_NUMBER.search("（2019）最高法知民终123号").group(0) == "（2019）最高法知民终123号"


def test_appeal_is_read_from_the_procedure_mark():
    assert parse_case_number("（2019）最高法知民终123号").is_appeal
    assert not parse_case_number("（2020）京73民初456号").is_appeal


COURTS = st.sampled_from(["最高法知", "京73", "沪0115", "粤", "浙01", "最高法"])
PROCEDURES = st.sampled_from(["民初", "民终", "知民终", "民再", "民申", "行初", "刑终", "执"])
BRACKETS = st.sampled_from([("（", "）"), ("(", ")"), ("〔", "〕"), ("[", "]")])


@settings(max_examples=200, deadline=None)
@given(year=st.integers(1990, 2039), court=COURTS, procedure=PROCEDURES, zi=st.booleans(),
       serial=st.integers(1, 999_999), brackets=BRACKETS, spaced=st.booleans())
def test_case_number_format_then_parse_gives_the_same_parts(year, court, procedure, zi, serial, brackets,
                                                           spaced):
    number = CaseNumber(str(year), court + procedure + ("字第" if zi else ""), str(serial))
    assert parse_case_number(str(number)) == number
    # any written form the judgment itself may use: the strict grammar finds it, the loose one
    # reads it back to the same parts
    opening, closing = brackets
    gap = " " if spaced else ""
    written = f"{opening}{year}{closing}{gap}{number.code}{gap}{serial}{gap}号"
    assert parse_case_number(written) == number
    if not spaced:
        found = CASE_NUMBER.search(f"民事判决书\n{written}\n原告：")
        assert found is not None and normalize_case_number(found.group(0)) == str(number)


# --- judgment sections -----------------------------------------------------------------------------

def _parse(path: Path):
    return parse_judgment(SourceText(str(path), path.read_text(encoding="utf-8"), "txt"))


def _section_of_label(label: str) -> str:
    return label.split("（", 1)[0]


@pytest.mark.parametrize("path", JUDGMENTS, ids=[p.stem for p in JUDGMENTS])
def test_every_section_the_parser_writes_is_one_the_citation_parser_reads_back(path):
    parsed = _parse(path)
    case_number = parsed.document.metadata["case_number"]
    assert parse_case_number(case_number) is not None and str(parse_case_number(case_number)) == case_number
    for chunk in parsed.chunks:
        label = chunk.metadata["section"]
        assert _section_of_label(label) in {s.value for s in JudgmentSection}
        assert chunk.citation == f"{case_number} {label}"
        ref = parse_citation(chunk.citation)
        assert ref is not None and ref.kind is CitationKind.JUDGMENT_PART
        assert ref.canonical == chunk.citation
        assert ref.unit_key in unit_keys(chunk)
        # written in prose, without the space, it is found with the same section
        prose = f"参见{case_number}{label}部分的论述。"
        [found] = find_citations(prose)
        assert found.ref.canonical == chunk.citation, prose


@pytest.mark.parametrize("section", [s.value for s in JudgmentSection])
def test_every_section_name_is_read_in_prose_and_as_a_whole_citation(section):
    for label in (section, numbered_section(section, 2)):
        expected = f"（2019）最高法知民终123号 {label}"
        assert parse_citation(f"(2019)最高法知民终123号{label}").canonical == expected
        [found] = find_citations(f"如（2019）最高法知民终123号{label}所述")
        assert found.ref.canonical == expected


def test_the_cited_names_are_the_parsers_names_plus_the_other_written_ones():
    assert set(CITED_SECTIONS) == {s.value for s in JudgmentSection} | set(OTHER_CITED_SECTIONS)
    # no cited name may be cut short by a shorter one it starts with (the prose regex tries longest first)
    assert list(CITED_SECTIONS) == sorted(CITED_SECTIONS, key=lambda name: (-len(name), name))


def test_numbered_section_labels():
    assert numbered_section("本院认为", 1) == "本院认为"
    assert numbered_section("本院认为", 3) == "本院认为（3）"
