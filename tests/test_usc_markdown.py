"""US Code chapters as Markdown (the Lanham Act), sections merged across repeated headings."""

from __future__ import annotations

import pytest

from ingest.parsers.usc_markdown import LabelPath, UscMarkdownParser
from ingest.protocols import SourceText
from ipqa.errors import InputError

HEADER = "# Title 15— COMMERCE AND TRADE\n### CHAPTER 22— TRADEMARKS\n"
SPLIT_SECTION = (
    "\n" + HEADER + "\nSUBCHAPTER I— THE PRINCIPAL REGISTER\n\n\n"
    + HEADER + "#### § 1051. Application for registration; verification\n##### (a) Application for use\n\n"
    "(1) The owner of a trademark may request registration.\n\n(2) The application shall include a drawing.\n\n\n"
    + HEADER + "#### § 1051. Application for registration; verification\n##### (a) Application for use\n"
    "(3) The statement shall be verified and specify that\n\n(A) the person is the owner;\n\n"
    "(B) the facts are accurate.\n\n\n"
    + HEADER + "#### § 1051. Application for registration; verification\n##### (b) Intent to use\n\n"
    "A person with a bona fide intention may apply.\n\n\n"
    + HEADER + "#### § 1052. Trademarks registrable\n\nNo trademark shall be refused unless it\n\n"
    "(a) Consists of immoral matter.\n"
)


def _source(text: str, path: str = "lanham.md") -> SourceText:
    return SourceText(path=path, text=text, format="md")


def test_detect_needs_section_headings_and_a_title():
    parser = UscMarkdownParser()
    assert parser.detect(_source(SPLIT_SECTION))
    assert not parser.detect(_source("# 中华人民共和国专利法\n\n第一条 为了保护专利权人的合法权益……"))
    assert not parser.detect(_source("# Notes\n\nSection 1051 of title 15 concerns registration."))


def test_pieces_of_a_section_merge_into_one_chunk():
    [parsed] = list(UscMarkdownParser().parse_text(_source(SPLIT_SECTION)))
    assert [c.citation for c in parsed.chunks] == ["15 U.S.C. § 1051", "15 U.S.C. § 1052"]
    chunk = parsed.chunks[0]
    assert chunk.text.splitlines() == [
        "§ 1051. Application for registration; verification",
        "(a) Application for use",
        "(1) The owner of a trademark may request registration.",
        "(2) The application shall include a drawing.",
        "(3) The statement shall be verified and specify that",
        "(A) the person is the owner;",
        "(B) the facts are accurate.",
        "(b) Intent to use",
        "A person with a bona fide intention may apply.",
    ]
    assert [p.label for p in chunk.parts] == ["(a)", "(a)(1)", "(a)(2)", "(a)(3)", "(a)(3)(A)", "(a)(3)(B)", "(b)"]
    part = chunk.part("(a)(3)")
    assert chunk.text[part.start:part.end] == ("(3) The statement shall be verified and specify that\n"
                                               "(A) the person is the owner;\n(B) the facts are accurate.")
    assert chunk.hierarchy == ("Title 15", "Chapter 22", "Subchapter I", "§ 1051")
    assert parsed.document.title == "Title 15, United States Code, Chapter 22 — Trademarks"
    assert SPLIT_SECTION[chunk.span[0]:].startswith("#### § 1051.")


@pytest.mark.parametrize(("labels", "expected"), [
    (["a", "1", "A", "i", "ii", "I", "II", "b"], "(b)"),
    (["a", "1", "A", "i", "ii", "I", "II"], "(a)(1)(A)(ii)(II)"),
    (["h", "1", "i"], "(i)"),  # clauses sit under subparagraphs, so this (i) is the subsection after (h)
    (["h", "1", "A", "i"], "(h)(1)(A)(i)"),  # inside a subparagraph (i) opens a clause
    (["a", "1", "A", "i", "I", "aa", "bb"], "(a)(1)(A)(i)(I)(bb)"),
    (["1", "2", "A", "v"], "(2)(A)(v)"),
    # a section without subsections: its numbered paragraphs hold lower-case subparagraphs (§ 1114)
    (["1", "a"], "(1)(a)"),
    (["1", "a", "b", "2", "A"], "(2)(A)"),
    (["1", "a", "b", "2", "A", "i", "I", "aa"], "(2)(A)(i)(I)(aa)"),
    (["a", "1", "b"], "(b)"),  # with subsections, a lower-case letter is still the next subsection
])
def test_label_paths(labels, expected):
    tracker = LabelPath()
    path = ""
    for label in labels:
        path = tracker.push(label)
    assert path == expected


def test_label_path_subsection_i_after_h():
    tracker = LabelPath()
    for label in ["g", "h"]:
        tracker.push(label)
    assert tracker.push("i") == "(i)"


def test_text_without_title_heading_is_an_input_error():
    with pytest.raises(InputError, match="Title"):
        list(UscMarkdownParser().parse_text(_source("#### § 1051. Application\n\n(a) text\n")))


@pytest.mark.shared
def test_lanham_act_one_chunk_per_section(shared_data):
    path = shared_data / "us-law/15usc-ch22-lanham-act.md"
    text = path.read_text(encoding="utf-8")
    source = _source(text, str(path))
    assert UscMarkdownParser().detect(source)
    [parsed] = list(UscMarkdownParser().parse_text(source))
    distinct_headings = {line for line in text.splitlines() if line.startswith("#### §")}
    assert len(parsed.chunks) == len(distinct_headings) == 63
    by_citation = {c.citation: c for c in parsed.chunks}
    s1125 = by_citation["15 U.S.C. § 1125"]
    part = s1125.part("(d)(1)(B)(i)(I)")
    assert s1125.text[part.start:part.end].startswith("(I) the trademark or other intellectual property rights")
    s1116 = by_citation["15 U.S.C. § 1116"]
    assert s1116.text.count("(d) Civil actions arising out of use of counterfeit marks") == 1
    assert s1116.part("(d)(1)(B)(ii)") is not None
    # § 1114 has no subsections: (a) and (b) are subparagraphs of paragraph (1), not its siblings
    s1114 = by_citation["15 U.S.C. § 1114"]
    part = s1114.part("(1)(a)")
    assert s1114.text[part.start:part.end].startswith("(a) use in commerce any reproduction")
    assert s1114.part("(a)") is None and s1114.part("(2)(D)(i)(II)(aa)") is not None
    from ingest.citations import resolve
    from ingest.lookup import InMemoryChunkLookup

    [resolution] = resolve("15 U.S.C. § 1114(1)(a)", InMemoryChunkLookup([parsed]))
    assert resolution.part == part
