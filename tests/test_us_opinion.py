"""US court opinions as text: caption, headed parts or numbered paragraphs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.parsers.us_opinion import UsOpinionParser
from ingest.protocols import SourceText
from ipqa.errors import InputError

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "us"
FED_CIR = FIXTURES / "aquaflow_v_clearstream_fed_cir.txt"
DISTRICT = FIXTURES / "ledgerline_v_northgate_d_del_101.txt"

NUMBERED = """UNITED STATES DISTRICT COURT
NORTHERN DISTRICT OF CALIFORNIA

Orchard Valley Seeds LLC v. Greenfield Genetics, Inc.

Case No. 21-04567

ORDER ON MOTION FOR PRELIMINARY INJUNCTION

Filed: January 12, 2022

1. Plaintiff moves for a preliminary injunction under 35 U.S.C. § 283.

2. A plaintiff seeking a preliminary injunction must establish a likelihood of success on the merits.
The movant must also show irreparable harm.

3. The motion is DENIED.
"""


def _source(path: Path) -> SourceText:
    return SourceText(path=str(path), text=path.read_text(encoding="utf-8"), format="txt")


@pytest.fixture(scope="module")
def fed_cir():
    [parsed] = list(UsOpinionParser().parse_text(_source(FED_CIR)))
    return parsed


def test_detect_claims_opinions_only():
    parser = UsOpinionParser()
    assert parser.detect(_source(FED_CIR)) and parser.detect(_source(DISTRICT))
    assert parser.detect(SourceText(path="o.txt", text=NUMBERED, format="txt"))
    statute = "# Title 15— COMMERCE AND TRADE\n#### § 1114. Remedies\n\n(1) Any person who shall, in a " \
              "civil action in the United States District Court, No. 12-3456 v. …"
    assert not parser.detect(SourceText(path="s.md", text=statute, format="md"))
    chinese = "中华人民共和国最高人民法院\n民事判决书\n（2019）最高法知民终123号\n上诉人：甲公司 v. 乙公司"
    assert not parser.detect(SourceText(path="j.txt", text=chinese, format="txt"))
    assert not parser.detect(SourceText(path="n.txt", text="Meeting notes about the patent.", format="txt"))


def test_caption(fed_cir):
    document = fed_cir.document
    assert document.title == "Aquaflow Systems, Inc. v. Clearstream Filtration LLC"
    assert (document.kind, document.jurisdiction, document.language) == ("judgment", "US", "en")
    assert document.version == "2021-03-03"
    assert document.metadata["docket"] == "2019-1234"
    assert document.metadata["court"] == "United States Court of Appeals for the Federal Circuit"


def test_one_chunk_per_headed_part(fed_cir):
    base = "Aquaflow Systems, Inc. v. Clearstream Filtration LLC, No. 2019-1234"
    assert [c.citation for c in fed_cir.chunks] == [
        f"{base}, Introduction", f"{base}, Part I.A", f"{base}, Part I.B", f"{base}, Part I.C",
        f"{base}, Part II", f"{base}, Part II.A", f"{base}, Part II.B", f"{base}, Part II.C", f"{base}, Part III",
    ]
    estoppel = fed_cir.chunks[6]
    assert estoppel.unit == "judgment_part"
    assert estoppel.hierarchy == ("Aquaflow Systems, Inc. v. Clearstream Filtration LLC", "II. DISCUSSION",
                                  "B. Prosecution History Estoppel")
    assert estoppel.text.startswith("B. Prosecution History Estoppel\n")
    assert "tangential-relation" in estoppel.text and "C. Claims 4 and 7" not in estoppel.text
    text = FED_CIR.read_text(encoding="utf-8")
    for chunk in fed_cir.chunks:
        assert text[chunk.span[0]:chunk.span[1]] == chunk.text
    assert [c.ordinal for c in fed_cir.chunks] == list(range(len(fed_cir.chunks)))


def test_district_court_order_with_caption_on_separate_lines():
    [parsed] = list(UsOpinionParser().parse_text(_source(DISTRICT)))
    meta = parsed.document.metadata
    assert meta["case_name"] == "Ledgerline Analytics, Inc. v. Northgate Payments Corp."
    assert meta["docket"] == "1:20-cv-01587-JLH"
    assert meta["court"] == "United States District Court for the District of Delaware"
    assert parsed.document.version == "2021-09-14"
    citations = [c.citation.rsplit(", ", 1)[1] for c in parsed.chunks]
    assert citations == ["Introduction", "Part I", "Part II.A", "Part II.B", "Part III.A", "Part III.B",
                         "Part III.C", "Part IV"]


def test_numbered_paragraph_opinion():
    [parsed] = list(UsOpinionParser().parse_text(SourceText(path="o.txt", text=NUMBERED, format="txt")))
    base = "Orchard Valley Seeds LLC v. Greenfield Genetics, Inc., No. 21-04567"
    assert [c.citation for c in parsed.chunks] == [f"{base}, Introduction", f"{base}, ¶ 1", f"{base}, ¶ 2",
                                                   f"{base}, ¶ 3"]
    assert parsed.chunks[2].text.endswith("The movant must also show irreparable harm.")
    assert parsed.document.version == "2022-01-12"


def test_text_without_parts_or_paragraphs_is_an_input_error():
    text = "UNITED STATES DISTRICT COURT\n\nAcme Corp. v. Beta LLC\n\nNo. 21-1234\n\nThe motion is denied.\n"
    with pytest.raises(InputError, match="no headed parts"):
        list(UsOpinionParser().parse_text(SourceText(path="short.txt", text=text, format="txt")))


def test_example_corpus_opinion_parses(examples_dir):
    path = examples_dir / "us" / "purewell_v_brightwater_fed_cir.txt"
    [parsed] = list(UsOpinionParser().parse_text(_source(path)))
    assert parsed.document.metadata["docket"] == "2025-1718"
    assert any(c.citation.endswith("Part II.B") and "disclosure-dedication" in c.text.lower()
               for c in parsed.chunks)
