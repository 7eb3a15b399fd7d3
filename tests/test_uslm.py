"""US Code titles in USLM XML."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from ingest.parsers.uslm import USLM_NAMESPACE, UslmParser
from ipqa.errors import InputError

MINI_TITLE = f"""<?xml version="1.0" encoding="UTF-8"?>
<uscDoc xmlns="{USLM_NAMESPACE}" xmlns:dc="http://purl.org/dc/elements/1.1/"
        xmlns:dcterms="http://purl.org/dc/terms/" identifier="/us/usc/t35">
<meta><dc:title>Title 35</dc:title><docNumber>35</docNumber><dcterms:created>2013-07-26T05:18:14</dcterms:created></meta>
<main><title identifier="/us/usc/t35"><num value="35">Title 35—</num><heading>PATENTS</heading>
<part identifier="/us/usc/t35/ptIII"><num value="III">PART III—</num><heading>PATENTS AND PROTECTION</heading>
<chapter identifier="/us/usc/t35/ptIII/ch28"><num value="28">CHAPTER 28—</num><heading>INFRINGEMENT</heading>
<section identifier="/us/usc/t35/s271"><num value="271">§ 271.</num><heading> Infringement of patent</heading>
<subsection identifier="/us/usc/t35/s271/a"><num value="a">(a)</num><content> Whoever makes a patented invention infringes.</content></subsection>
<subsection identifier="/us/usc/t35/s271/e"><num value="e">(e)</num>
<paragraph identifier="/us/usc/t35/s271/e/1"><num value="1">(1)</num><content> It shall not be an act of infringement to test.</content></paragraph>
<paragraph identifier="/us/usc/t35/s271/e/2"><num value="2">(2)</num><chapeau> It shall be an act of infringement to submit—</chapeau>
<subparagraph identifier="/us/usc/t35/s271/e/2/A"><num value="A">(A)</num><content> an application,</content></subparagraph>
<subparagraph identifier="/us/usc/t35/s271/e/2/B"><num value="B">(B)</num><content> a second application.</content></subparagraph>
</paragraph></subsection>
<sourceCredit>(July 19, 1952, ch. 950, 66 Stat. 811.)</sourceCredit>
<notes><note><heading>Amendments</heading><p>NOTE TEXT MUST NOT APPEAR</p>
<quotedContent><section><num value="9">§ 9.</num><heading>Quoted</heading></section></quotedContent></note></notes>
</section>
<section status="repealed" identifier="/us/usc/t35/s155, 155A"><num value="155, 155A">[§§ 155, 155A.</num><heading> Repealed. Pub. L. 112–29]</heading></section>
</chapter></part></title></main></uscDoc>
"""


@pytest.fixture()
def mini(tmp_path):
    path = tmp_path / "usc35-mini.xml"
    path.write_text(MINI_TITLE, encoding="utf-8")
    [parsed] = list(UslmParser().parse_file(path))
    return parsed


def test_sniff():
    parser = UslmParser()
    assert parser.sniff(Path("t.xml"), MINI_TITLE.encode()[:2000])
    assert not parser.sniff(Path("p.xml"), b'<?xml version="1.0"?><us-patent-grant lang="EN">')


def test_document_fields(mini):
    document = mini.document
    assert document.title == "Title 35, United States Code — Patents"
    assert (document.kind, document.jurisdiction, document.language) == ("statute", "US", "en")
    assert document.version == "2013-07-26"
    assert document.metadata["snapshot_date"] == "2013-07-26"  # the title as of its snapshot


def test_section_chunk_text_parts_and_hierarchy(mini):
    chunk = mini.chunks[0]
    assert chunk.citation == "35 U.S.C. § 271" and chunk.unit == "section"
    assert chunk.hierarchy == ("Title 35", "Part III", "Chapter 28", "§ 271")
    assert chunk.text.splitlines() == [
        "§ 271. Infringement of patent",
        "(a) Whoever makes a patented invention infringes.",
        "(e)",
        "(1) It shall not be an act of infringement to test.",
        "(2) It shall be an act of infringement to submit—",
        "(A) an application,",
        "(B) a second application.",
    ]
    assert "NOTE TEXT" not in chunk.text and "66 Stat." not in chunk.text
    assert chunk.metadata["source_credit"] == "(July 19, 1952, ch. 950, 66 Stat. 811.)"
    labels = [p.label for p in chunk.parts]
    assert labels == ["(a)", "(e)", "(e)(1)", "(e)(2)", "(e)(2)(A)", "(e)(2)(B)"]
    part = chunk.part("(e)(2)")
    assert chunk.text[part.start:part.end] == ("(2) It shall be an act of infringement to submit—\n"
                                               "(A) an application,\n(B) a second application.")


def test_repealed_section_numbering_two_sections_gives_two_chunks(mini):
    repealed = [c for c in mini.chunks if c.metadata.get("status") == "repealed"]
    assert [c.citation for c in repealed] == ["35 U.S.C. § 155", "35 U.S.C. § 155A"]
    assert all("Repealed" in c.text for c in repealed)


def test_not_uslm_is_an_input_error(tmp_path):
    path = tmp_path / "other.xml"
    path.write_text('<?xml version="1.0"?><other/>')
    with pytest.raises(InputError, match="not a USLM document"):
        list(UslmParser().parse_file(path))


def _numbered_sections(path: Path) -> int:
    """Independent count: <section identifier="/us/usc/tNN/s…"> with a direct <num>, one per number."""
    tree = etree.parse(str(path))
    count = 0
    for section in tree.iter(f"{{{USLM_NAMESPACE}}}section"):
        num = section.find(f"{{{USLM_NAMESPACE}}}num")
        if section.get("identifier", "").startswith("/us/usc/t") and num is not None:
            count += len([n for n in num.get("value", "").split(",") if n.strip()])
    return count


@pytest.mark.shared
@pytest.mark.parametrize("name", ["usc35.xml", "usc17.xml"])
def test_one_chunk_per_numbered_section(shared_data, name):
    path = shared_data / "us-law" / name
    [parsed] = list(UslmParser().parse_file(path))
    assert len(parsed.chunks) == _numbered_sections(path)
    citations = [c.citation for c in parsed.chunks]
    assert len(set(citations)) == len(citations)
    assert all(c.text for c in parsed.chunks)


@pytest.mark.shared
def test_real_title_35_sections(shared_data):
    [parsed] = list(UslmParser().parse_file(shared_data / "us-law/usc35.xml"))
    by_citation = {c.citation: c for c in parsed.chunks}
    assert parsed.document.title == "Title 35, United States Code — Patents"
    s101 = by_citation["35 U.S.C. § 101"]
    assert s101.text.startswith("§ 101. Inventions patentable\nWhoever invents or discovers")
    assert s101.hierarchy == ("Title 35", "Part II", "Chapter 10", "§ 101")
    s271 = by_citation["35 U.S.C. § 271"]
    part = s271.part("(e)(2)(A)")
    assert s271.text[part.start:part.end].startswith("(A) an application under section 505(j) of the Federal Food")
    assert "Historical and Revision Notes" not in by_citation["35 U.S.C. § 102"].text
    assert by_citation["35 U.S.C. § 104"].metadata["status"] == "repealed"
