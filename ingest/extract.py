"""Text extraction: one file (.md/.txt/.html/.htm/.pdf/.docx) -> :class:`SourceText`.

Each format has one small function. PDFs keep their page boundaries (``SourceText.pages``) so chunks
can cite the page they come from. Everything here is offline: no network, no entity resolution.
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
from pathlib import Path
from typing import Callable, Sequence

from ingest.archive_limits import check_zip_archive
from ingest.encoding import decode_text
from ingest.protocols import PageSpan, SourceText
from ingest.skip import SECTION_INDEX_REASON, SkipFile, is_section_index_name
from ipqa.errors import InputError

# Suffix -> SourceText.format. XML is not here: XML formats are streamed by the file parsers.
TEXT_FORMATS: dict[str, str] = {
    ".md": "md",
    ".markdown": "md",
    ".txt": "txt",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}

# What separates two pages' text in SourceText.text: a blank line, so no paragraph spans a page break.
PAGE_SEPARATOR = "\n\n"


def extract(path: Path, *, display_path: str | None = None) -> SourceText:
    """Decode the text of ``path``. ``display_path`` (default ``str(path)``) names it in errors.

    Raises InputError naming the file for an unsupported suffix, an empty or binary file, a corrupt
    PDF/DOCX, and a PDF without a text layer.
    """
    source = display_path or str(path)
    fmt = TEXT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(source, f"unsupported file type {path.suffix or '(no extension)'}; "
                                 f"supported: {', '.join(sorted(TEXT_FORMATS))}")
    data = read_bytes(path)
    if not data.strip():
        raise InputError(source, "empty file")
    if fmt == "md":
        text, pages = strip_front_matter(decode_text(data, source), source), ()
    elif fmt == "txt":
        text, pages = decode_text(data, source), ()
    elif fmt == "html":
        text, pages = _html_text(data, source), ()
    elif fmt == "pdf":
        text, pages = pdf_text(data, source)
    else:
        text, pages = _docx_text(data, source), ()
    if not text.strip():
        raise InputError(source, "no text found")
    return SourceText(path=source, text=text, format=fmt, pages=tuple(pages))


def read_bytes(path: Path) -> bytes:
    """The one place extraction reads a file (so tests can simulate unreadable files)."""
    return path.read_bytes()


# --- Markdown ---------------------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n.*?\n---[ \t]*(?:\n|\Z)", re.DOTALL)


def strip_front_matter(text: str, source: str) -> str:
    """Drop a leading YAML front-matter block (site-generator metadata, not legal text)."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return text
    rest = text[match.end():]
    if not rest.strip():
        if is_section_index_name(source):
            raise SkipFile(source, SECTION_INDEX_REASON)
        # Any other front-matter-only file is a user's file that lost its text: an error.
        raise InputError(source, "empty file (only YAML front matter)")
    return rest


# --- unstructured: where it works ---------------------------------------------------------------

def unstructured_partitioner(fmt: str) -> Callable[..., list] | None:
    """``unstructured``'s partition function for ``fmt``, or None where it cannot work here.

    Why this guard exists: ``partition_html``/``partition_docx`` call spaCy's ``en_core_web_sm`` and,
    when it is missing, try to download it; offline that raises (or, in some versions, returns zero
    elements for a file full of text). ``partition_pdf`` additionally needs the ``unstructured[pdf]``
    extra (pi_heif, unstructured_inference, pdf2image), which is not installed. PDFs never go through
    unstructured: pypdfium2 gives the exact per-page text this module needs for page citations.
    The direct libraries (lxml, python-docx) are the fallback, and the only path in this environment.
    """
    if fmt not in ("html", "docx"):
        return None
    # find_spec, not spacy.util.is_package: importing spaCy just to ask takes seconds.
    if importlib.util.find_spec("en_core_web_sm") is None:
        return None
    os.environ.setdefault("DO_NOT_TRACK", "true")
    try:
        if fmt == "html":
            from unstructured.partition.html import partition_html as partition
        else:
            from unstructured.partition.docx import partition_docx as partition
    except Exception:  # an optional dependency that fails to import is simply "not available"
        return None
    return partition


def _try_unstructured(fmt: str, data: bytes) -> str | None:
    """Text from unstructured, or None when unavailable, failing, or (wrongly) empty."""
    partition = unstructured_partitioner(fmt)
    if partition is None:
        return None
    try:
        elements = partition(file=io.BytesIO(data))
    except Exception:
        return None
    text = "\n\n".join(str(el).strip() for el in elements if str(el).strip())
    # Zero elements from a file that has text is the known offline failure, not an empty document.
    return text or None


# --- HTML -------------------------------------------------------------------------------------

_DROPPED_TAGS = ("script", "style", "nav", "noscript", "template", "head", "iframe", "object", "svg",
                 "form", "button")
_BLOCK_TAGS = frozenset(
    "address article aside blockquote body caption dd div dl dt fieldset figcaption figure footer h1 h2 "
    "h3 h4 h5 h6 header hr html li main ol p pre section table tbody thead tfoot tr ul".split())
_CELL_TAGS = frozenset(("td", "th"))
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)


def _html_text(data: bytes, source: str) -> str:
    text = _try_unstructured("html", data)
    if text is not None:
        return text
    return html_to_text(_decode_html(data, source), source)


def _decode_html(data: bytes, source: str) -> str:
    """Honour a ``<meta charset>`` declaration; otherwise decode like a plain text file."""
    match = _META_CHARSET.search(data[:4096])
    if match:
        try:
            return data.decode(match.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong or unknown label: fall back to detection
    return decode_text(data, source)


def html_to_text(markup: str, source: str) -> str:
    """Visible text of an HTML page; block elements become line breaks, table cells tabs."""
    import lxml.html
    from lxml import etree

    # no_network: never fetch a DTD or anything else; comments and PIs are not content. The markup is
    # already decoded, so the parser is told the bytes are UTF-8 (a <meta charset> would mislead it).
    parser = lxml.html.HTMLParser(encoding="utf-8", no_network=True, remove_comments=True, remove_pis=True)
    try:
        root = lxml.html.document_fromstring(markup.encode("utf-8"), parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise InputError(source, f"unreadable HTML ({exc})") from None
    for el in list(root.iter(*_DROPPED_TAGS)):  # a list: dropping while iterating skips nodes
        el.drop_tree()
    pieces: list[str] = []
    _walk_html(root, pieces)
    return _tidy_lines("".join(pieces))


def _walk_html(el, out: list[str]) -> None:
    tag = el.tag if isinstance(el.tag, str) else ""
    block = tag in _BLOCK_TAGS
    if block:
        out.append("\n")
    if tag == "br":
        out.append("\n")
    if el.text and tag:
        out.append(el.text)
    for child in el:
        _walk_html(child, out)
    if tag in _CELL_TAGS:
        out.append("\t")
    if block:
        out.append("\n")
    if el.tail:
        out.append(el.tail)


def _tidy_lines(text: str) -> str:
    """Collapse runs of spaces inside lines; one blank line between blocks."""
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip() + "\n"


# --- DOCX -------------------------------------------------------------------------------------

def _docx_text(data: bytes, source: str) -> str:
    check_zip_archive(data, source)  # before anything inflates it
    text = _try_unstructured("docx", data)
    if text is not None:
        return text
    return docx_to_text(data, source)


def docx_to_text(data: bytes, source: str) -> str:
    """Body paragraphs and tables in document order; a table row per line, cells tab-separated."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    check_zip_archive(data, source)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises zipfile/KeyError/lxml errors for corrupt files
        raise InputError(source, f"not a readable DOCX file ({type(exc).__name__}: {exc})") from None
    blocks: list[str] = []
    for child in document.element.body.iterchildren():
        local = child.tag.rsplit("}", 1)[-1]
        if local == "p":
            blocks.append(Paragraph(child, document).text.strip())
        elif local == "tbl":
            blocks.append(_docx_table_text(Table(child, document)))
    return "\n\n".join(b for b in blocks if b) + "\n"


def _docx_table_text(table) -> str:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            value = cell.text.strip()
            # Merged cells repeat the same cell object along the row; keep one copy.
            if not cells or value != cells[-1]:
                cells.append(value)
        rows.append("\t".join(cells).strip())
    return "\n".join(r for r in rows if r)


# --- PDF --------------------------------------------------------------------------------------

def pdf_text(data: bytes, source: str) -> tuple[str, list[PageSpan]]:
    """Text of a PDF page by page, with each page's span; pypdfium2 first, pdfminer.six as fallback."""
    try:
        page_texts = _pdf_pages_pdfium(data)
    except Exception as pdfium_error:
        try:
            page_texts = _pdf_pages_pdfminer(data)
        except Exception:
            raise InputError(source, f"not a readable PDF ({pdfium_error})") from None
    if not any(t.strip() for t in page_texts):
        raise InputError(source, "no text layer; OCR is not configured")
    return join_pages(page_texts)


def join_pages(page_texts: Sequence[str]) -> tuple[str, list[PageSpan]]:
    """Concatenate page texts (normalised line ends, blank line between pages) and record spans."""
    parts: list[str] = []
    spans: list[PageSpan] = []
    offset = 0
    for number, raw in enumerate(page_texts, start=1):
        page = _tidy_pdf_page(raw)
        if not page:
            continue
        if parts:
            parts.append(PAGE_SEPARATOR)
            offset += len(PAGE_SEPARATOR)
        spans.append(PageSpan(page=number, start=offset, end=offset + len(page)))
        parts.append(page)
        offset += len(page)
    return "".join(parts) + "\n", spans


def _tidy_pdf_page(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    # pdfium marks soft hyphens and unmapped glyphs with control characters; drop them.
    text = re.sub(r"[\x00-\x08\x0b\x0e-\x1f\ufffe\uffff]", "", text)
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def _pdf_pages_pdfium(data: bytes) -> list[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        texts = []
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            try:
                texts.append(textpage.get_text_range())
            finally:
                textpage.close()
                page.close()
        return texts
    finally:
        pdf.close()


def _pdf_pages_pdfminer(data: bytes) -> list[str]:
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTTextContainer

    texts = []
    for layout in extract_pages(io.BytesIO(data)):
        texts.append("".join(el.get_text() for el in layout if isinstance(el, LTTextContainer)))
    return texts
