"""USPTO patents (every XML generation, bulk streaming) and the safe-XML helper they rely on."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from ingest.parsers.uspto import UsptoParser, iter_xml_documents
from ingest.parsers.uspto_chunks import figure_labels, subject_figures
from ingest.safe_xml import parse_xml_bytes
from ipqa.errors import InputError

EXAMPLE_PATENT = Path(__file__).resolve().parent.parent / "examples/corpus/us/US19000001B2-self-cleaning-filter.xml"

DESIGN_GRANT = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE us-patent-grant SYSTEM "us-patent-grant-v42-2006-08-23.dtd" [ ]>
<us-patent-grant lang="EN" dtd-version="v4.2 2006-08-23" id="us-patent-grant" country="US">
<us-bibliographic-data-grant>
<publication-reference><document-id><country>US</country><doc-number>D0612345</doc-number>
<kind>S</kind><date>20100323</date></document-id></publication-reference>
<application-reference appl-type="design"><document-id><country>US</country><doc-number>29123456</doc-number>
<date>20080115</date></document-id></application-reference>
<invention-title id="d0e1">Water bottle</invention-title>
</us-bibliographic-data-grant>
<description id="description">
<description-of-drawings>
<p id="p-0001" num="0001"><figref idref="DRAWINGS">FIG. 1</figref> is a front view of a water bottle showing our new design;</p>
<p id="p-0002" num="0002"><figref idref="DRAWINGS">FIG. 2</figref> is a top view thereof&#x2014;the cap is shown in broken lines.</p>
</description-of-drawings>
</description>
<us-claim-statement>CLAIM</us-claim-statement>
<claims id="claims"><claim id="CLM-00001" num="00001">
<claim-text>The ornamental design for a water bottle, as shown and described.</claim-text></claim></claims>
</us-patent-grant>
"""


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


@pytest.fixture(scope="module")
def example():
    [parsed] = list(UsptoParser().parse_file(EXAMPLE_PATENT))
    return parsed


# --- safe XML ---------------------------------------------------------------------------------


def test_truncated_xml_is_an_input_error_naming_the_source():
    data = EXAMPLE_PATENT.read_bytes()[:3000]
    with pytest.raises(InputError) as info:
        parse_xml_bytes(data, source="upload.xml")
    assert info.value.source == "upload.xml"
    assert "malformed or truncated" in info.value.problem


def test_external_entity_is_refused_and_never_read(tmp_path):
    xxe = ('<?xml version="1.0"?>\n<!DOCTYPE us-patent-grant [ <!ENTITY secret SYSTEM "file:///etc/passwd"> ]>\n'
           '<us-patent-grant><abstract><p>&secret;</p></abstract></us-patent-grant>\n')
    with pytest.raises(InputError) as info:
        parse_xml_bytes(xxe.encode(), source="xxe.xml")
    assert "entities" in info.value.problem
    path = _write(tmp_path, "xxe.xml", xxe)
    with pytest.raises(InputError) as info:
        list(UsptoParser().parse_file(path))
    assert "root:" not in str(info.value)


def test_billion_laughs_is_refused_quickly():
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, 10)
    ]
    bomb = f'<?xml version="1.0"?>\n<!DOCTYPE lolz [ {" ".join(levels)} ]>\n<lolz>&lol9;</lolz>'
    started = time.perf_counter()
    with pytest.raises(InputError, match="DOCTYPE declares entities"):
        parse_xml_bytes(bomb.encode(), source="bomb.xml")
    assert time.perf_counter() - started < 1.0


def test_utf16_xml_gets_the_same_entity_checks():
    bomb = '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE x [ <!ENTITY a "aaaa"> ]>\n<x>&a;</x>'
    with pytest.raises(InputError, match="DOCTYPE declares entities"):
        parse_xml_bytes(bomb.encode("utf-16"), source="utf16.xml")
    good = '<?xml version="1.0" encoding="UTF-16"?>\n<x>caf\u00e9 &deg;</x>'
    assert parse_xml_bytes(good.encode("utf-16"), source="utf16.xml").text == "caf\u00e9 \u00b0"


def test_dtd_only_named_entities_become_characters():
    data = (b'<?xml version="1.0"?>\n<!DOCTYPE x SYSTEM "us-patent-grant-v42.dtd" [ ]>\n'
            b"<x>&lsquo;hot&rsquo; at 90&deg; &amp; &agr; &nosuchentity;</x>")
    root = parse_xml_bytes(data, source="entities.xml")
    assert root.text == "\u2018hot\u2019 at 90\u00b0 & \u03b1 &nosuchentity;"


def test_unparsed_image_entities_of_the_2001_format_are_accepted():
    data = (b'<?xml version="1.0"?>\n<!DOCTYPE patent-application-publication SYSTEM "pap-v15.dtd" [\n'
            b'<!ENTITY US1-D00001.TIF SYSTEM "US1-D00001.TIF" NDATA TIF>\n]>\n<patent-application-publication/>')
    assert parse_xml_bytes(data, source="pap.xml").tag == "patent-application-publication"


# --- figure references ------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("FIG. 2 is a view", ["2"]),
    ("FIGS. 2 and 3 show", ["2", "3"]),
    ("FIGS. 2-4 show", ["2", "3", "4"]),
    ("FIGS. 4A to 4C illustrate", ["4A", "4B", "4C"]),
    ("as in FIG. 1, and FIGS. 5A and 5B", ["1", "5A", "5B"]),
    ("Figure 7 shows", ["7"]),
    ("the 10 figures", []),
])
def test_figure_labels(text, expected):
    assert figure_labels(text) == expected


def test_subject_figures_only_from_the_opening_mention():
    assert subject_figures("FIG. 5 is a view similar to FIG. 4") == ["5"]
    assert subject_figures("The features will be clearer from the drawings, e.g. FIG. 1") == []


# --- the example grant (v4.5) -----------------------------------------------------------------


def test_sniff_recognises_patents_and_not_uslm():
    parser = UsptoParser()
    assert parser.sniff(EXAMPLE_PATENT, EXAMPLE_PATENT.read_bytes()[:65536])
    assert not parser.sniff(Path("x.xml"), b'<?xml version="1.0"?><uscDoc identifier="/us/usc/t35">')


def test_example_document_and_metadata(example):
    document = example.document
    assert document.kind == "patent" and document.jurisdiction == "US" and document.language == "en"
    assert document.title == "Self-cleaning filter assembly with rotating scraper and flush valve"
    assert document.version == "2024-03-12"
    meta = document.metadata
    assert meta["patent_id"] == "US 19,000,001 B2"
    assert meta["kind_code"] == "B2" and meta["patent_type"] == "utility"
    assert meta["application_number"] == "17654321" and meta["filing_date"] == "2021-09-08"
    assert meta["inventors"] == ["Elena Varga", "Samuel Oduya"]
    assert meta["assignees"] == ["Purewell Filtration Corp."]
    assert meta["cpc"] == ["B01D 29/6438"] and meta["ipc"] == ["B01D 29/64"]


def test_example_claims_and_dependencies(example):
    claims = [c for c in example.chunks if c.unit == "claim"]
    assert [c.citation for c in claims] == [f"US 19,000,001 B2, claim {n}" for n in range(1, 9)]
    by_number = {c.metadata["claim_number"]: c for c in claims}
    assert by_number[3].metadata["depends_on"] == [2]
    assert by_number[3].references == ("US 19,000,001 B2, claim 2",)
    assert by_number[7].metadata["independent"] is True and by_number[7].references == ()
    # nested claim-text elements become lines
    assert by_number[1].text.splitlines()[1] == "a housing having an inlet, an outlet and a flush port;"


def test_example_paragraph_groups_respect_headings_and_cite_each_paragraph(example):
    groups = [c for c in example.chunks if c.unit == "paragraphs"]
    covered = [n for c in groups for n in c.metadata["paragraphs"]]
    assert covered == list(range(1, 16))
    for chunk in groups:
        assert len({chunk.metadata["heading"]}) == 1 and len(chunk.metadata["paragraphs"]) <= 5
        assert [p.label for p in chunk.parts] == [f"[{n:04d}]" for n in chunk.metadata["paragraphs"]]
    first = groups[0]
    assert first.citation == "US 19,000,001 B2, ¶¶ [0001]–[0005]"
    assert first.hierarchy == ("US 19,000,001 B2", "Description", "BACKGROUND AND SUMMARY")
    part = first.part("[0002]")
    assert first.text[part.start:part.end].startswith("Screen filters protect irrigation emitters")
    assert first.text[part.start:part.end].endswith("exposes the operator to the pressurized line.")
    headings = [c.metadata["heading"] for c in groups]
    assert headings == ["BACKGROUND AND SUMMARY", "BRIEF DESCRIPTION OF THE DRAWINGS",
                        "DETAILED DESCRIPTION", "DETAILED DESCRIPTION"]


def test_example_figures_combine_brief_description_and_referring_paragraphs(example):
    figures = {c.metadata["figure"]: c for c in example.chunks if c.unit == "figure"}
    assert sorted(figures) == ["1", "2", "3"]
    fig3 = figures["3"]
    assert fig3.citation == "US 19,000,001 B2, FIG. 3"
    assert fig3.metadata["brief_description_paragraph"] == 8
    assert fig3.metadata["referring_paragraphs"] == [13]
    assert "flow chart of a cleaning cycle" in fig3.text and "0.5 bar" in fig3.text
    assert [p.label for p in fig3.parts] == ["[0008]", "[0013]"]


def test_chunk_ids_are_stable_and_spans_index_the_document_text(example):
    [again] = list(UsptoParser().parse_file(EXAMPLE_PATENT))
    assert [c.id for c in again.chunks] == [c.id for c in example.chunks]
    assert again.document.id == example.document.id
    full = "\n\n".join(c.text for c in example.chunks)
    for chunk in example.chunks:
        assert full[chunk.span[0]:chunk.span[1]] == chunk.text


def test_design_patent_has_one_claim_and_figures(tmp_path):
    [parsed] = list(UsptoParser().parse_file(_write(tmp_path, "design.xml", DESIGN_GRANT)))
    assert parsed.document.metadata["patent_id"] == "US D612,345 S"
    assert parsed.document.metadata["patent_type"] == "design"
    units = [c.unit for c in parsed.chunks]
    assert units.count("claim") == 1 and "abstract" not in units
    assert [c.citation for c in parsed.chunks if c.unit == "figure"] == ["US D612,345 S, FIG. 1",
                                                                        "US D612,345 S, FIG. 2"]


# --- bulk streaming ---------------------------------------------------------------------------


def test_bulk_file_is_cut_at_each_declaration_and_bad_documents_do_not_stop_the_rest(tmp_path):
    good = EXAMPLE_PATENT.read_text()
    second = good.replace("19000001", "19000002").replace("Self-cleaning", "Second self-cleaning")
    broken = good.replace("</claims>", "")  # malformed: unclosed element
    path = _write(tmp_path, "ipg.xml", good + broken + second)
    assert [line for line, _ in iter_xml_documents(path)] == [1, 1 + good.count("\n"),
                                                             1 + good.count("\n") + broken.count("\n")]
    yielded = []
    with pytest.raises(InputError) as info:
        for parsed in UsptoParser().parse_file(path):
            yielded.append(parsed.document.metadata["patent_id"])
    assert yielded == ["US 19,000,001 B2", "US 19,000,002 B2"]
    assert "1 of 3 documents" in info.value.problem and f"line {1 + good.count(chr(10))}" in info.value.problem


def test_documents_stream_before_the_rest_of_the_file_is_read(tmp_path):
    good = EXAMPLE_PATENT.read_text()
    path = _write(tmp_path, "ipg.xml", good + '<?xml version="1.0"?>\n<us-patent-grant><unclosed')
    documents = UsptoParser().parse_file(path)
    first = next(documents)  # available although a later document is broken
    assert first.document.metadata["patent_id"] == "US 19,000,001 B2"
    with pytest.raises(InputError):
        next(documents)


def test_file_without_patents_is_an_input_error(tmp_path):
    path = _write(tmp_path, "seq.xml", '<?xml version="1.0"?>\n<sequence-cwu id="S1"><x/></sequence-cwu>\n')
    with pytest.raises(InputError, match="no USPTO patent document"):
        list(UsptoParser().parse_file(path))


# --- real data --------------------------------------------------------------------------------


@pytest.mark.shared
@pytest.mark.parametrize(("relative", "patent_id", "numbering"), [
    ("uspto-samples/pap/US20010000943A1.xml", "US 2001/0000943 A1", "source"),
    ("uspto-samples/pap/US20010000044A1.xml", "US 2001/0000044 A1", None),
    ("uspto-samples/xmlApp2004/US20050004437A1.xml", "US 2005/0004437 A1", "source"),
    ("uspto-samples/xml2004/US06859910.xml", "US 6,859,910 B2", "source"),
    ("uspto-samples/xml2006/US07272630B2.xml", "US 7,272,630 B2", "source"),
    ("uspto-samples/xml2014/US08927118.xml", "US 8,927,118 B2", "source"),
])
def test_every_format_generation_in_the_samples(shared_data, relative, patent_id, numbering):
    path = shared_data / "patents" / relative
    assert UsptoParser().sniff(path, path.read_bytes()[:65536])
    [parsed] = list(UsptoParser().parse_file(path))
    meta = parsed.document.metadata
    assert meta["patent_id"] == patent_id
    assert parsed.document.title and parsed.document.version
    units = {c.unit for c in parsed.chunks}
    assert {"abstract", "claim", "paragraphs"} <= units
    if numbering:
        assert meta["paragraph_numbering"] == numbering
    claims = [c for c in parsed.chunks if c.unit == "claim"]
    assert any(c.metadata["depends_on"] for c in claims)


@pytest.mark.shared
def test_pap_dependent_claims_and_bracketed_paragraph_numbers(shared_data):
    path = shared_data / "patents/uspto-samples/pap/US20010009014A1.xml"
    [parsed] = list(UsptoParser().parse_file(path))
    assert parsed.document.metadata["paragraph_numbering"] == "source"
    paragraphs = [n for c in parsed.chunks if c.unit == "paragraphs" for n in c.metadata["paragraphs"]]
    assert paragraphs[:3] == [1, 2, 3]


def _expected_counts(data: bytes) -> tuple[int, int]:
    """Independent counts from the raw XML: <claim> elements and numbered <p> in <description>."""
    text = data.decode("utf-8")
    start, end = text.find("<description"), text.find("</description>")
    paragraphs = len(re.findall(r'<p\b[^>]*\bnum="[^"]*\d"', text[start:end])) if start >= 0 else 0
    return len(re.findall(r"<claim\s[^>]*\bid=", text)), paragraphs


@pytest.mark.shared
@pytest.mark.slow
def test_bulk_grants_yield_every_abstract_claim_and_paragraph(shared_data):
    files = sorted((shared_data / "patents/uspto-bulk").glob("ipg*.xml"))
    assert files
    expected: dict[str, tuple[int, int]] = {}
    for path in files:
        for _, data in iter_xml_documents(path):
            if b"<us-patent-grant" in data[:4000]:
                number = re.search(rb"<doc-number>([^<]+)</doc-number>", data).group(1).decode()
                expected[number] = _expected_counts(data)
    totals = {"grants": 0, "designs": 0, "claims": 0, "paragraphs": 0, "chunks": 0}
    for path in files:
        for parsed in UsptoParser().parse_file(path):
            meta = parsed.document.metadata
            claims, paragraphs = expected[meta["doc_number"]]
            chunks = parsed.chunks
            got_claims = sum(1 for c in chunks if c.unit == "claim")
            got_paragraphs = sum(len(c.metadata["paragraphs"]) for c in chunks if c.unit == "paragraphs")
            assert (got_claims, got_paragraphs) == (claims, paragraphs), meta["patent_id"]
            if meta["patent_type"] == "utility":
                assert sum(1 for c in chunks if c.unit == "abstract") == 1, meta["patent_id"]
            totals["grants"] += 1
            totals["designs"] += meta["patent_type"] == "design"
            totals["claims"] += got_claims
            totals["paragraphs"] += got_paragraphs
            totals["chunks"] += len(chunks)
    assert totals["grants"] == len(expected) == 225
    assert totals["designs"] == 24
