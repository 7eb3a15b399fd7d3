"""Text extraction: encodings, PDF pages, DOCX, HTML, and the unstructured fallback."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from ingest import extract as extract_module
from ingest.encoding import decode_text
from ingest.extract import extract, join_pages, unstructured_partitioner
from ingest.skip import SkipFile
from ipqa.errors import InputError

STATUTE_LINES_PAGE_1 = ["# 中华人民共和国示例法", "<!-- INFO END -->", "## 第一章 总则",
                        "第一条 为了保护专利权人的合法权益，制定本法。", "第二条 本法所称的发明创造是指发明。"]
STATUTE_LINES_PAGE_2 = ["第三条 国务院专利行政部门负责管理全国的专利工作。"]


def write_pdf(path: Path, pages: list[list[str]], *, chinese: bool = True) -> Path:
    """A PDF whose pages draw the given lines (Chinese via reportlab's built-in CID font)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    font = "Helvetica"
    if chinese:
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
        font = "STSong-Light"
    pdf = canvas.Canvas(str(path))
    for lines in pages:
        pdf.setFont(font, 12)
        for i, line in enumerate(lines):
            pdf.drawString(72, 720 - 20 * i, line)
        pdf.showPage()
    pdf.save()
    return path


# --- plain text and encodings -------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_chinese_text_decodes_in_every_common_encoding(tmp_path, encoding):
    text = "第一条 为了保护专利权人的合法权益，鼓励发明创造，制定本法。\n第二条 本法所称的发明创造是指发明、实用新型和外观设计。\n"
    path = tmp_path / "law.txt"
    path.write_bytes(text.encode(encoding))
    assert extract(path).text == text


def test_crlf_line_ends_become_newlines(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"line one\r\nline two\rline three\r\n")
    assert extract(path).text == "line one\nline two\nline three\n"


def test_latin_text_in_a_legacy_encoding_is_decoded_not_taken_for_gbk():
    text = "Die Größe des Übermaßes wird örtlich bestimmt. Straße, Maß, Fuß und Gruß."
    assert decode_text(text.encode("latin-1"), "x.txt") == text


@pytest.mark.parametrize("data", [b"", b"   \n\t\n  ", codecs.BOM_UTF8 + b"\n \n"])
def test_empty_or_whitespace_text_is_refused(tmp_path, data):
    path = tmp_path / "empty.md"
    path.write_bytes(data)
    with pytest.raises(InputError, match="empty file") as info:
        extract(path)
    assert info.value.source == str(path)


@pytest.mark.parametrize("data", [
    bytes(range(256)) * 8,  # every byte value, NULs included
    bytes((i * 37 + 11) % 128 + 128 for i in range(2048)),  # high bytes only, no NUL
    b"\x01\x02\x03\x04\x05\x06\x07\x08" * 64 + b"some text",  # control characters
])
def test_binary_data_is_refused(tmp_path, data):
    path = tmp_path / "junk.md"
    path.write_bytes(data)
    with pytest.raises(InputError, match="binary data, not text"):
        extract(path)


def test_markdown_front_matter_is_dropped_and_front_matter_alone_is_empty(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("---\ntitle: x\n---\n# Heading\n\nBody text.\n", encoding="utf-8")
    assert extract(page).text == "# Heading\n\nBody text.\n"
    draft = tmp_path / "draft.md"
    draft.write_text("---\ntitle: draft\n---\n", encoding="utf-8")
    with pytest.raises(InputError, match="only YAML front matter") as raised:
        extract(draft)
    assert not isinstance(raised.value, SkipFile)  # a user's file that lost its text is an error


def test_a_site_folder_index_is_skipped_not_an_error(tmp_path):
    index = tmp_path / "_index.md"
    index.write_text("---\nbookCollapseSection: true\n---\n", encoding="utf-8")
    with pytest.raises(SkipFile, match="folder index") as raised:
        extract(index)
    assert raised.value.source == str(index)


def test_unsupported_suffix_names_the_supported_ones(tmp_path):
    path = tmp_path / "a.rtf"
    path.write_text("x")
    with pytest.raises(InputError, match=r"unsupported file type \.rtf; supported: .*\.docx"):
        extract(path)


# --- PDF ----------------------------------------------------------------------------------------

def test_two_page_chinese_pdf_keeps_its_page_boundaries(tmp_path):
    path = write_pdf(tmp_path / "law.pdf", [STATUTE_LINES_PAGE_1, STATUTE_LINES_PAGE_2])
    source = extract(path)
    assert source.format == "pdf"
    assert [p.page for p in source.pages] == [1, 2]
    for line in STATUTE_LINES_PAGE_1:
        assert source.page_at(source.text.index(line)) == 1
    assert source.page_at(source.text.index(STATUTE_LINES_PAGE_2[0])) == 2
    # Each page span holds exactly that page's text.
    first, second = source.pages
    assert source.text[first.start:first.end].splitlines() == STATUTE_LINES_PAGE_1
    assert source.text[second.start:second.end] == STATUTE_LINES_PAGE_2[0]


def test_pdfminer_fallback_gives_the_same_pages(tmp_path, monkeypatch):
    path = write_pdf(tmp_path / "law.pdf", [STATUTE_LINES_PAGE_1, STATUTE_LINES_PAGE_2])

    def pdfium_fails(data):
        raise RuntimeError("pdfium unavailable")

    monkeypatch.setattr(extract_module, "_pdf_pages_pdfium", pdfium_fails)
    source = extract(path)
    assert [p.page for p in source.pages] == [1, 2]
    assert source.page_at(source.text.index(STATUTE_LINES_PAGE_2[0])) == 2


def test_pdf_without_text_layer_says_ocr_is_not_configured(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "scan.pdf"
    pdf = canvas.Canvas(str(path))
    pdf.rect(72, 72, 200, 300, fill=1)  # an image-like page: drawing, no text
    pdf.showPage()
    pdf.save()
    with pytest.raises(InputError, match="no text layer; OCR is not configured"):
        extract(path)


def test_blank_page_keeps_the_numbering_of_later_pages(tmp_path):
    path = write_pdf(tmp_path / "gap.pdf", [["Page one."], [], ["Page three."]], chinese=False)
    source = extract(path)
    assert [p.page for p in source.pages] == [1, 3]
    assert source.page_at(source.text.index("Page three.")) == 3


def test_join_pages_spans_index_the_joined_text():
    text, spans = join_pages(["a\r\nb", "", "c\f"])
    assert text == "a\nb\n\nc\n"
    assert [(s.page, text[s.start:s.end]) for s in spans] == [(1, "a\nb"), (3, "c")]


def test_unstructured_pdf_is_not_usable_here():
    """The issue's claim, checked: unstructured's PDF path cannot work in this environment (its pdf
    extra is not installed: importing partition_pdf fails), so PDFs go through pypdfium2."""
    import importlib.util

    missing = [m for m in ("pi_heif", "unstructured_inference", "pdf2image")
               if importlib.util.find_spec(m) is None]
    if not missing:
        pytest.skip("unstructured[pdf] is installed here; the claim concerns environments without it")
    with pytest.raises(ImportError):
        import unstructured.partition.pdf  # noqa: F401
    assert unstructured_partitioner("pdf") is None


# --- DOCX and HTML ------------------------------------------------------------------------------

def test_docx_paragraphs_and_tables_in_document_order(tmp_path):
    import docx

    document = docx.Document()
    document.add_paragraph("第一条 为了保护专利权人的合法权益，制定本法。")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "费用", "金额"
    table.cell(1, 0).text, table.cell(1, 1).text = "申请费", "900"
    document.add_paragraph("第二条 本法所称的发明创造是指发明。")
    path = tmp_path / "law.docx"
    document.save(path)
    text = extract(path).text
    assert text.index("第一条") < text.index("申请费\t900") < text.index("第二条")
    assert "费用\t金额\n申请费\t900" in text


def test_corrupt_docx_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.docx"
    path.write_bytes(b"PK\x03\x04 this is not a real zip archive" * 10)
    with pytest.raises(InputError, match="not a readable DOCX file"):
        extract(path)


def test_html_drops_scripts_styles_and_navigation_and_keeps_blocks(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<nav>Home | About</nav><script>alert('x')</script>"
        "<h1>35 U.S.C. § 101</h1><p>Whoever invents any new and useful process<br>may obtain a patent.</p>"
        "<!-- a comment --><div>Second block</div></body></html>", encoding="utf-8")
    text = extract(path).text
    assert text == "35 U.S.C. § 101\n\nWhoever invents any new and useful process\nmay obtain a patent.\n\nSecond block\n"


def test_html_meta_charset_is_honoured(tmp_path):
    path = tmp_path / "gbk.htm"
    path.write_bytes('<html><head><meta charset="gbk"></head><body><p>第一条 专利</p></body></html>'
                     .encode("gbk"))
    assert extract(path).text == "第一条 专利\n"


def test_html_entities_do_not_reach_the_filesystem(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    path = tmp_path / "xxe.html"
    path.write_text(f'<!DOCTYPE html [<!ENTITY x SYSTEM "file://{secret}">]><html><body><p>a &x; b</p>'
                    "</body></html>", encoding="utf-8")
    assert "TOP-SECRET-CONTENT" not in extract(path).text


def test_unstructured_is_used_only_when_its_spacy_model_is_installed():
    import importlib.metadata

    # What spacy.util.is_package checks (an installed distribution), without importing spaCy (slow).
    try:
        importlib.metadata.distribution("en_core_web_sm")
        available = True
    except importlib.metadata.PackageNotFoundError:
        available = False
    assert (unstructured_partitioner("html") is not None) == available
    assert (unstructured_partitioner("docx") is not None) == available


def test_empty_element_list_from_unstructured_falls_back_to_lxml(tmp_path, monkeypatch):
    """The offline failure mode of unstructured is zero elements for a file full of text: that must
    not produce an empty document."""
    monkeypatch.setattr(extract_module, "unstructured_partitioner", lambda fmt: lambda **kw: [])
    path = tmp_path / "page.html"
    path.write_text("<html><body><p>Real text of the page.</p></body></html>", encoding="utf-8")
    assert extract(path).text == "Real text of the page.\n"


def test_failing_unstructured_falls_back_to_python_docx(tmp_path, monkeypatch):
    import docx

    def partition(**kwargs):
        raise RuntimeError("Failed to download spaCy model")

    monkeypatch.setattr(extract_module, "unstructured_partitioner", lambda fmt: partition)
    document = docx.Document()
    document.add_paragraph("Claim 1. A widget.")
    path = tmp_path / "a.docx"
    document.save(path)
    assert extract(path).text == "Claim 1. A widget.\n"
