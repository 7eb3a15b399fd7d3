"""Chinese statutes (laws, regulations, rules, judicial interpretations) -> one chunk per article (条).

Two input shapes reach this parser:

* the Markdown of the cn-law collection: ``# 中华人民共和国专利法``, enactment-history lines,
  ``<!-- INFO END -->``, then ``## 第一章 …`` headings (``#``-levels vary: 编/分编/章/节) and
  article lines ``第一条 …``; the Civil Code is split into one file per book (a second ``#`` line);
* the same law as plain text extracted from .txt/.docx/.html/.pdf: no ``#``, no INFO END marker,
  title on the first non-empty line, headings ``第一章 总则`` as plain lines, and (from PDF) page
  numbers, running headers and lines broken in the middle of a sentence.

How a file is cut into articles, in order of preference:

1. article lines ``第X条`` (also ``第X条之一``; the typo ``笫`` and a space before 条 occur in the
   corpus). A line that starts with ``第X条`` may also be a quotation of another article inside a
   body (``第十条规定的…``) or, in an amending document, the text of an article being inserted. The
   numbering decides: the next article is the previous number + 1 or its next 之X; a line that breaks
   the sequence while the expected successor still appears later is body text. In an amending
   document (修正案, 关于修改…的决定) every line that breaks the sequence is quoted text.
2. documents written as numbered items instead (many judicial interpretations and early regulations
   use ``一、`` or ``1.``): each item is an article, cited as ``第X条`` as courts cite them;
3. a short document without any numbering (a one-paragraph 批复, a single-change amendment) is one
   whole-text chunk cited by the law's name. A long document without any numbering (a technical
   standard, a guide) is not a statute in article form: ``parse_text`` raises ``InputError``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import Iterator, Sequence

from ingest.cn_numbers import CN_DATE, cn_to_int, int_to_cn, parse_cn_date
from ingest.law_dates import law_dates
from ingest.protocols import SourceText
from ingest.skip import SECTION_INDEX_REASON, SkipFile
from ipqa.domain import Chunk, DocKind, Document, Jurisdiction, Language, ParsedDocument, Part
from ipqa.errors import InputError
from ipqa.ids import chunk_id, document_id

INFO_END = "<!-- INFO END -->"
NATIONAL_PREFIX = "中华人民共和国"

_NUM = "零〇一二三四五六七八九十百千两"
# Spaces as the sources write them: full-width, en spaces in headings, zero-width padding lines.
_SPACE = " \t\u3000\xa0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u200b\ufeff"

# 第X条 / 第X条之Y at the start of a line. ``笫`` is a typo for ``第`` found in the corpus and a
# space before 条 ("第一百二十八 条") occurs too; both are still article lines.
_ARTICLE = re.compile(
    rf"^[第笫][{_SPACE}]*(?P<num>[{_NUM}]+|[0-9０-９]+)[{_SPACE}]*条"
    r"(?:之(?P<sub>[一二三四五六七八九十]+))?"
)
# After the label: what makes "第十条规定的…" or "第十条第二款…" a quotation rather than a new article.
# (Only characters that cannot open an article body: 未/有/中 can, as in "第三条未经许可…".)
_QUOTE_CONTINUATION = set("的规、，。；：和与或及至第所之项款")

_MD_HEADING = re.compile(r"^(?P<hashes>#{1,6})(?:[ \t\u3000]+(?P<text>.*))?$")
# A structural heading written as a plain line (plain-text input only).
_PLAIN_HEADING = re.compile(
    rf"^第[{_NUM}0-9]+(?:编|分编|章|节)(?:[{_SPACE}]+\S.*)?$|^(?:序言|附则|总则)$"
)
_CN_ITEM = re.compile(rf"^(?P<num>[一二三四五六七八九十百]+)、")
_ARABIC_ITEM = re.compile(r"^(?P<num>[0-9]{1,3}|[０-９]{1,3})[.．、](?![0-9０-９])")
# 项 (numbered items of a paragraph) and 目 (sub-items), possibly inside quotation marks.
_XIANG = re.compile(r"^[“\"‘]?[（(](?P<num>[一二三四五六七八九十]+)[）)]")
_MU = re.compile(r"^[“\"‘]?(?:[0-9０-９]+[.．、]|[（(][0-9０-９]+[）)])")

_FILE_DATE = re.compile(r"[(（](\d{4})-(\d{2})-(\d{2})[)）]\s*$")
_AMENDING_TITLE = re.compile(r"修正案(?:[（(][^）)]*[）)])?$|关于修改.*的决定$")
# PDF artefacts: page-number lines ("- 3 -", "第 3 页", "3/12").
_PAGE_NUMBER_LINE = re.compile(r"^[-—–_\s]*(?:第\s*\d+\s*页(?:\s*[/，,]?\s*共\s*\d+\s*页)?|\d+(?:\s*/\s*\d+)?)[-—–_\s]*$")
_SENTENCE_END = tuple("。；：！？”」』）)|")

_FRONT_MATTER_ONLY = re.compile(r"^\s*(?:-{3,}\s*\n(?:.*\n)*?-{3,}\s*)?(?:#+\s*)?\s*$")

# A document without any numbering up to this size is one whole-text unit; a bigger one is refused.
MAX_UNNUMBERED_CHARS = 3000


@dataclass(frozen=True)
class _Line:
    start: int  # offset in the source text
    end: int
    text: str  # stripped
    heading_level: int = 0  # >0 for a heading: its Markdown level, or 2–5 by kind in plain text


@dataclass(frozen=True)
class _Unit:
    """An article (or numbered item) found in the body: the index of its first line and its number."""

    line_index: int
    number: int
    sub: int  # 之X
    label: str  # 第十一条 / 第一百二十条之一
    rest: str  # the first line without the label (for an item in a heading: the heading's words)


@dataclass
class _Header:
    title: str
    book: str | None  # the second title line of a Civil Code book file (物权编)
    history: list[str] = field(default_factory=list)
    body_start: int = 0  # index into the line list


def short_title(title: str) -> str:
    """The law's name as citations use it: ``中华人民共和国专利法`` -> ``专利法``."""
    if title.startswith(NATIONAL_PREFIX) and len(title) > len(NATIONAL_PREFIX):
        return title[len(NATIONAL_PREFIX):]
    return title


def version_from_filename(path: str) -> str | None:
    """``专利法(2020-10-17).md`` -> ``2020-10-17``."""
    match = _FILE_DATE.search(PurePath(path).stem)
    if not match:
        return None
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3])).isoformat()
    except ValueError:
        return None


def category_of(path: str) -> str | None:
    """The cn-law category folder (民法商法, 司法解释…): the folder right under ``cn-law``, else the parent."""
    parts = PurePath(path).parts
    if "cn-law" in parts[:-1]:
        return parts[parts.index("cn-law") + 1] if parts.index("cn-law") + 1 < len(parts) - 1 else None
    return parts[-2] if len(parts) >= 2 else None


def count_article_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if _article_match(line.strip(_SPACE)) is not None)


def _article_match(line: str) -> re.Match[str] | None:
    match = _ARTICLE.match(line)
    if match is None:
        return None
    after = line[match.end():match.end() + 1]
    if after and after not in _SPACE and after in _QUOTE_CONTINUATION:
        return None
    return match


def _numeral_label(written: str) -> str:
    """The numeral as the citation writes it: Chinese as in the source; Arabic converted."""
    digits = written.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    return int_to_cn(int(digits)) if digits.isdigit() else written


def _split_lines(text: str, *, markdown: bool, pdf: bool) -> list[_Line]:
    lines: list[_Line] = []
    offset = 0
    for raw in text.splitlines(keepends=True):
        start, end = offset, offset + len(raw.rstrip("\r\n"))
        offset += len(raw)
        stripped = raw.strip(_SPACE + "\r\n")
        if not stripped or (stripped.startswith("<!--") and stripped.endswith("-->")):
            continue  # blank lines and Markdown comments (<!-- TABLE -->) are layout, not text
        lead = len(raw) - len(raw.lstrip(_SPACE))
        start += lead
        end = start + len(stripped)
        if pdf and _PAGE_NUMBER_LINE.match(stripped):
            continue
        level = 0
        if markdown:
            heading = _MD_HEADING.match(stripped)
            if heading:
                level = len(heading["hashes"])
                stripped = (heading["text"] or "").strip(_SPACE)
        elif len(stripped) <= 40 and _PLAIN_HEADING.match(stripped):
            level = _plain_heading_level(stripped)
        lines.append(_Line(start, end, stripped, level))
    return lines


_HEADING_LABEL = re.compile(rf"^(第[{_NUM}0-9]+(?:分编|编|章|节))[\s{_SPACE}]*(.*)$")
# Plain-text headings have no Markdown level: the level follows the kind (编 > 分编 > 章 > 节).
_PLAIN_LEVELS = {"编": 2, "分编": 3, "章": 4, "节": 5}


def _plain_heading_level(text: str) -> int:
    match = _HEADING_LABEL.match(text)
    if match is None:
        return _PLAIN_LEVELS["章"]  # 序言 / 总则 / 附则 stand where chapters stand
    label = match.group(1)
    return _PLAIN_LEVELS["分编" if label.endswith("分编") else label[-1]]


def _normalize_heading(text: str) -> str:
    """``第一章　总　　则`` -> ``第一章 总则``: one space after the label, none inside the words
    (official texts space out short headings)."""
    text = re.sub(rf"[\s{_SPACE}]+", " ", text).strip()
    match = _HEADING_LABEL.match(text)
    if match:
        rest = re.sub(r"(?<=[\u4e00-\u9fff]) (?=[\u4e00-\u9fff])", "", match.group(2))
        return f"{match.group(1)} {rest}".strip()
    return re.sub(r"(?<=[\u4e00-\u9fff]) (?=[\u4e00-\u9fff])", "", text)


def _is_markdown(source: SourceText) -> bool:
    if INFO_END in source.text:
        return True
    first = next((line for line in source.text.splitlines() if line.strip()), "")
    return first.startswith("# ") or source.format == "md"


def _read_header(lines: list[_Line], *, markdown: bool, has_info_end: bool, source_text: str) -> _Header:
    """Title, Civil Code book, enactment history and where the body starts (``lines`` is not empty)."""
    if markdown:
        titles = [i for i, line in enumerate(lines[:5]) if line.heading_level == 1 and line.text]
        if not titles:
            title_index = 0
            title = lines[0].text.lstrip("#").strip()
        else:
            title_index = titles[0]
            title = lines[title_index].text
        book = None
        index = title_index + 1
        # A second level-1 heading right after the title names a book of a code (民法典 物权编).
        if index < len(lines) and lines[index].heading_level == 1 and lines[index].text:
            book = _normalize_heading(lines[index].text)
            index += 1
        history: list[str] = []
        if has_info_end:
            info_end = source_text.index(INFO_END)
            while index < len(lines) and lines[index].start < info_end:
                if not lines[index].heading_level:
                    history.append(lines[index].text)
                index += 1
            return _Header(title, book, history, index)
    else:
        title, book, index = lines[0].text, None, 1
        history = []
    # No INFO END: the history is the dated lines between the title and the first heading or
    # article; other lines there (a table of contents, a promulgation note) are skipped.
    while index < len(lines) and not lines[index].heading_level and not _article_match(lines[index].text):
        if CN_DATE.search(lines[index].text) and len(lines[index].text) < 200:
            history.append(lines[index].text.strip("（）()"))
        index += 1
    return _Header(title, book, history, index)


def _drop_running_headers(body: list[_Line], title: str) -> list[_Line]:
    """PDF pages repeat the law's title at their top; in the body (after the title) it is noise."""
    return [line for line in body if line.text != title]


def _is_successor(prev: _Unit, number: int, sub: int) -> bool:
    return (number == prev.number + 1 and sub == 0) or (number == prev.number and sub == prev.sub + 1)


def _select(candidates: list[_Unit], *, amending: bool) -> list[_Unit]:
    """Keep the candidates that continue the numbering; see the module docstring."""
    keys = [(c.number, c.sub) for c in candidates]
    accepted: list[_Unit] = []
    for i, cand in enumerate(candidates):
        if not accepted:
            accepted.append(cand)
            continue
        prev = accepted[-1]
        if _is_successor(prev, cand.number, cand.sub):
            accepted.append(cand)
            continue
        if amending:
            continue  # an amending document quotes the articles it inserts
        later = keys[i + 1:]
        if (prev.number + 1, 0) in later or (prev.number, prev.sub + 1) in later:
            continue  # the real next article comes later: this line quotes another article
        accepted.append(cand)  # a real gap, duplicate or disorder in the source: check_numbering reports it
    return accepted


# Where a run-together article may start inside a line: after a space (the source's separator), at a
# 第X条 label. Whether it really starts there is decided by the numbering (see below).
_INLINE_ARTICLE = re.compile(rf"[{_SPACE}]+(?=[第笫][{_SPACE}]*(?:[{_NUM}]+|[0-9０-９]+)[{_SPACE}]*条)")


def _split_run_together_articles(lines: list[_Line]) -> list[_Line]:
    """Split lines that hold several articles (``第四十三条 … 第四十四条 …`` on one line, as in
    飞行基本规则) into one line per article.

    A line is only cut before a label that continues the numbering exactly (the previous article
    + 1, or its next 之X) and that follows a space: a quotation inside a body (``依照第四十四条``,
    ``第四十四条规定的``) has no space before it, or is not the next number, or is followed by 的/规定…
    (which ``_article_match`` refuses)."""
    result: list[_Line] = []
    for line in lines:
        first = None if line.heading_level else _article_match(line.text)
        if first is None:
            result.append(line)
            continue
        pieces: list[_Line] = []
        number, sub = cn_to_int(first["num"]), cn_to_int(first["sub"]) if first["sub"] else 0
        cut = 0  # where the current article starts in line.text
        for gap in _INLINE_ARTICLE.finditer(line.text, first.end()):
            label = _article_match(line.text[gap.end():])
            if label is None:
                continue
            next_number = cn_to_int(label["num"])
            next_sub = cn_to_int(label["sub"]) if label["sub"] else 0
            if not ((next_number == number + 1 and next_sub == 0)
                    or (next_number == number and next_sub == sub + 1)):
                continue
            pieces.append(_Line(line.start + cut, line.start + gap.start(), line.text[cut:gap.start()]))
            cut, number, sub = gap.end(), next_number, next_sub
        if cut == 0:
            result.append(line)
            continue
        pieces.append(_Line(line.start + cut, line.end, line.text[cut:]))
        # The same source runs an article's paragraphs (款) together too, a space after the
        # sentence end between them; one line per paragraph is what makes 第X条第二款 findable.
        for piece in pieces:
            result.extend(_split_at(piece, _RUN_TOGETHER_PARAGRAPH))
    return result


_RUN_TOGETHER_PARAGRAPH = re.compile(rf"(?<=[。；：])[{_SPACE}]+(?=\S)")


def _split_at(line: _Line, separator: re.Pattern[str]) -> list[_Line]:
    lines, cut = [], 0
    for gap in separator.finditer(line.text):
        lines.append(_Line(line.start + cut, line.start + gap.start(), line.text[cut:gap.start()]))
        cut = gap.end()
    lines.append(_Line(line.start + cut, line.end, line.text[cut:]))
    return lines


def _article_candidates(lines: list[_Line], start: int) -> list[_Unit]:
    found = []
    for index in range(start, len(lines)):
        line = lines[index]
        if line.heading_level:
            continue
        match = _article_match(line.text)
        if match is None:
            continue
        number = cn_to_int(match["num"])
        sub = cn_to_int(match["sub"]) if match["sub"] else 0
        label = f"第{_numeral_label(match['num'])}条" + (f"之{match['sub']}" if match["sub"] else "")
        found.append(_Unit(index, number, sub, label, line.text[match.end():].strip(_SPACE)))
    return found


def _item_candidates(lines: list[_Line], start: int) -> list[list[_Unit]]:
    """Numbered items (``1.`` and ``一、``) of documents that have no 第X条 articles, one list per style."""
    arabic, chinese = [], []
    for index in range(start, len(lines)):
        line = lines[index]
        match = _ARABIC_ITEM.match(line.text)
        if match and not line.heading_level:
            number = cn_to_int(match["num"])
            arabic.append(_Unit(index, number, 0, f"第{int_to_cn(number)}条", line.text[match.end():].strip(_SPACE)))
        match = _CN_ITEM.match(line.text)
        if match:
            number = cn_to_int(match["num"])
            chinese.append(_Unit(index, number, 0, f"第{int_to_cn(number)}条",
                                 line.text[match.end():].strip(_SPACE)))
    return [arabic, chinese]


def _is_continuous(units: list[_Unit]) -> bool:
    return bool(units) and units[0].number == 1 and all(
        _is_successor(prev, cur.number, cur.sub) for prev, cur in zip(units, units[1:])
    )


def _until_restart(units: list[_Unit]) -> list[_Unit]:
    """Items numbered from 1 again start an annex or a list of another kind (a list of arbitration
    commissions after an arrangement's items): it is not part of the numbered items."""
    for i in range(1, len(units)):
        if units[i].number <= units[i - 1].number:
            return units[:i]
    return units


def _select_items(lines: list[_Line], start: int) -> list[_Unit]:
    """The item style that numbers the whole document continuously from 1 (``1.`` items under
    ``一、`` section headings, or ``一、`` items); else the longest run, whose gaps or restarts
    ``check_numbering`` reports."""
    selections = [_until_restart(_select(c, amending=False)) for c in _item_candidates(lines, start)]
    selections = [s for s in selections if s and s[0].number == 1]
    continuous = [s for s in selections if _is_continuous(s) and len(s) >= 2]
    if continuous:
        return max(continuous, key=len)
    return max(selections, key=len) if selections else []


def _merge_pdf_lines(lines: list[_Line], starts: set[int]) -> list[list[_Line]]:
    """Group body lines into paragraphs; PDF text breaks a paragraph wherever the page line ends."""
    paragraphs: list[list[_Line]] = []
    for index, line in enumerate(lines):
        starts_new = (
            not paragraphs
            or index in starts
            or _XIANG.match(line.text) is not None
            or _MU.match(line.text) is not None
            or paragraphs[-1][-1].text.endswith(_SENTENCE_END)
        )
        if starts_new:
            paragraphs.append([line])
        else:
            paragraphs[-1].append(line)
    return paragraphs


class CnStatuteParser:
    """TextParser for Chinese statutes: see the module docstring."""

    name = "cn_statute"

    def detect(self, source: SourceText) -> bool:
        # Judgments quote articles too: the judgment parser is asked first (ingest.parsers.text_parsers).
        head = source.text[:20_000]
        if is_section_index(source):
            return True  # claimed so that parse_text refuses it instead of indexing front matter
        if INFO_END in head:
            return True  # the cn-law collection's marker (parse_text refuses its non-statute files)
        return count_article_lines(head) >= 2

    def parse_text(self, source: SourceText) -> Iterator[ParsedDocument]:
        yield parse_statute(source)


def is_section_index(source: SourceText) -> bool:
    """The cn-law collection's ``_index.md`` files: site-generator front matter only
    (``bookCollapseSection: true`` between ``---`` lines) that names a folder and holds no law."""
    return PurePath(source.path).name == "_index.md" and _FRONT_MATTER_ONLY.match(source.text) is not None


def statute_title(source: SourceText) -> str | None:
    """The title :func:`parse_statute` gives ``source``, read from its first lines only: a batch
    learns the law names it holds before parsing (``ingest.pipeline.law_titles_in_files``)."""
    if is_section_index(source):
        return None
    markdown = _is_markdown(source)
    lines = _split_lines(source.text[:4000], markdown=markdown, pdf=source.format == "pdf")
    if not lines:
        return None
    # has_info_end=False: the history is not needed, and the marker may lie past the cut
    return _read_header(lines, markdown=markdown, has_info_end=False, source_text="").title or None


def parse_statute(source: SourceText) -> ParsedDocument:
    """Parse one statute file (one version of one law); raises ``InputError`` when it is none."""
    if is_section_index(source):
        raise SkipFile(source.path, SECTION_INDEX_REASON)
    markdown = _is_markdown(source)
    has_info_end = INFO_END in source.text
    lines = _split_lines(source.text, markdown=markdown, pdf=source.format == "pdf")
    if not lines:
        raise InputError(source.path, "empty text: no statute title or articles")
    header = _read_header(lines, markdown=markdown, has_info_end=has_info_end, source_text=source.text)
    if not header.title:
        raise InputError(source.path, "no title line")
    if source.format == "pdf":
        body = _drop_running_headers(lines[header.body_start:], header.title)
        lines = lines[:header.body_start] + body
    title = header.title
    amending = _AMENDING_TITLE.search(title) is not None
    if not amending:  # an amending document's lines quote the articles it inserts: never split them
        lines = lines[:header.body_start] + _split_run_together_articles(lines[header.body_start:])

    version = version_from_filename(source.path) or parse_cn_date("\n".join(header.history))
    numbering = "article"
    units = _select(_article_candidates(lines, header.body_start), amending=amending)
    if not units:
        if version is None:
            # Numbered items or loose text are only trusted as law when the document shows it was
            # enacted (a dated history or a dated file name); the cn-law collection's guide
            # (其他/劳动仲裁和劳动诉讼的攻略.md) has neither.
            raise InputError(source.path, "no articles (第X条) and no enactment date: not a statute")
        numbering = "item"
        units = _select_items(lines, header.body_start)
    metadata = {
        "history": list(header.history),
        "category": category_of(source.path),
        "law_title": title,
        "short_title": short_title(title),
        "numbering": numbering if units else "none",
        "amending": amending,
    }
    if header.book:
        metadata["book"] = header.book
    doc_id = document_id(DocKind.STATUTE, Jurisdiction.CN, title, version, source.text)
    document = Document(
        id=doc_id, kind=DocKind.STATUTE, jurisdiction=Jurisdiction.CN, title=title, language=Language.ZH,
        source_path=source.path, version=version, metadata=metadata,
    )
    if units:
        chunks, warnings = _article_chunks(source, document, lines, header, units)
    else:
        chunks, warnings = _whole_text_chunk(source, document, lines, header)
    # The dates come from the articles (本法自…起施行), so they are added once the chunks exist; they
    # are metadata, not part of the content-derived id, which stays what it was.
    dates = law_dates(file_date=version_from_filename(source.path), history=header.history,
                      article_texts=[chunk.text for chunk in chunks])
    document = replace(document, metadata={**document.metadata, **dates.as_metadata()})
    return ParsedDocument(document=document, chunks=tuple(chunks), warnings=tuple(warnings))


def _article_chunks(
    source: SourceText, document: Document, lines: list[_Line], header: _Header, units: list[_Unit]
) -> tuple[list[Chunk], list[str]]:
    warnings: list[str] = []
    law = short_title(document.title)
    unit_at = {u.line_index: u for u in units}
    headings: dict[int, str] = {}  # heading level -> text (the current path)
    chunks: list[Chunk] = []
    preamble: list[_Line] = []
    preamble_heading: str | None = None
    ignored = 0
    index = header.body_start
    while index < len(lines):
        line = lines[index]
        unit = unit_at.get(index)
        if unit is None and line.heading_level:
            for level in [lvl for lvl in headings if lvl >= line.heading_level]:
                del headings[level]
            if line.text:
                headings[line.heading_level] = _normalize_heading(line.text)
            index += 1
            continue
        if unit is None:
            # Text outside any article: a constitution's 序言 is citable; the rest (annex tables,
            # notes) is reported, never glued onto the preceding article.
            current = headings[max(headings)] if headings else None
            if current == "序言":
                preamble.append(line)
                preamble_heading = current
            else:
                ignored += 1
            index += 1
            continue
        end = index + 1
        while end < len(lines) and end not in unit_at and not lines[end].heading_level:
            end += 1  # an article ends at the next article or at the next heading
        body = lines[index + 1:end]
        path = [document.metadata.get("book")] if document.metadata.get("book") else []
        path += [headings[level] for level in sorted(headings)]
        chunks.append(_make_article(source, document, law, unit, line, body, tuple(path), len(chunks)))
        index = end
    if preamble:
        chunks.insert(0, _make_text_chunk(source, document, f"{law} {preamble_heading}", preamble,
                                          unit="preamble", hierarchy=(preamble_heading,), ordinal=0))
        chunks = [_with_ordinal(c, i) for i, c in enumerate(chunks)]
    if ignored:
        warnings.append(f"{ignored} line(s) outside any article were not indexed")
    return chunks, warnings


def _with_ordinal(chunk: Chunk, ordinal: int) -> Chunk:
    return chunk if chunk.ordinal == ordinal else replace(chunk, ordinal=ordinal)


def _make_article(
    source: SourceText, document: Document, law: str, unit: _Unit, first: _Line, body: Sequence[_Line],
    path: tuple[str, ...], ordinal: int,
) -> Chunk:
    # Paragraph texts: the first line without its label, then each following line (PDF: merged).
    first_text_line = _Line(first.end - len(unit.rest), first.end, unit.rest) if unit.rest else None
    body_lines = ([first_text_line] if first_text_line else []) + list(body)
    if source.format == "pdf":
        groups = _merge_pdf_lines(body_lines, starts={0})
        paragraphs = ["".join(line.text for line in group) for group in groups]
    else:
        paragraphs = [line.text for line in body_lines]
    text, parts = _paragraphs_with_parts(paragraphs)
    last = body[-1] if body else first
    span = (first.start, last.end)
    citation = f"{law} {unit.label}"
    metadata = {
        "article_no": unit.number,
        "article_sub": unit.sub,
        "law_title": document.title,
        "category": document.metadata.get("category"),
    }
    return Chunk(
        id=chunk_id(document.id, citation, text), document_id=document.id, text=text, citation=citation,
        unit="article", language=Language.ZH, hierarchy=path + (unit.label,), span=span,
        page=source.page_at(span[0]) if source.pages else None, parts=tuple(parts), ordinal=ordinal,
        metadata=metadata,
    )


def _paragraphs_with_parts(paragraphs: Sequence[str]) -> tuple[str, list[Part]]:
    """Join paragraphs with "\\n"; a 款 per paragraph that is not a 项/目 line, a 项 per （X） line."""
    text_pieces: list[str] = []
    parts: list[Part] = []
    offset = 0
    kuan_no = 0
    kuan_start = 0
    xiang: tuple[str, int] | None = None  # label and start of the open 项

    def close_xiang(end: int) -> None:
        nonlocal xiang
        if xiang is not None:
            parts.append(Part(xiang[0], xiang[1], end))
            xiang = None

    def close_kuan(end: int) -> None:
        close_xiang(end)
        if kuan_no:
            parts.append(Part(f"第{int_to_cn(kuan_no)}款", kuan_start, end))

    previous_end = 0
    for paragraph in paragraphs:
        if text_pieces:
            offset += 1  # the "\n" joining paragraphs
        start, end = offset, offset + len(paragraph)
        xiang_match = _XIANG.match(paragraph)
        if xiang_match and kuan_no:
            close_xiang(previous_end)
            xiang = (f"第{int_to_cn(kuan_no)}款 第（{xiang_match['num']}）项", start)
        elif _MU.match(paragraph) and xiang is not None:
            pass  # a 目 belongs to the open 项
        else:
            close_kuan(previous_end)
            kuan_no += 1
            kuan_start = start
        text_pieces.append(paragraph)
        offset = end
        previous_end = end
    close_kuan(previous_end)
    parts.sort(key=lambda p: (p.start, -p.end))
    return "\n".join(text_pieces), parts


def _make_text_chunk(
    source: SourceText, document: Document, citation: str, lines: Sequence[_Line], *, unit: str,
    hierarchy: tuple[str, ...], ordinal: int,
) -> Chunk:
    text = "\n".join(line.text for line in lines)
    span = (lines[0].start, lines[-1].end)
    return Chunk(
        id=chunk_id(document.id, citation, text), document_id=document.id, text=text, citation=citation,
        unit=unit, language=Language.ZH, hierarchy=hierarchy, span=span,
        page=source.page_at(span[0]) if source.pages else None, ordinal=ordinal,
        metadata={"law_title": document.title, "category": document.metadata.get("category")},
    )


def _whole_text_chunk(
    source: SourceText, document: Document, lines: list[_Line], header: _Header
) -> tuple[list[Chunk], list[str]]:
    body = [line for line in lines[header.body_start:] if line.text]
    text_chars = sum(len(line.text) for line in body if not line.heading_level)
    if not body or text_chars == 0:
        raise InputError(source.path, "no articles (第X条), numbered items or text after the title: "
                                      "not a statute")
    if text_chars > MAX_UNNUMBERED_CHARS:
        raise InputError(
            source.path,
            f"{text_chars} characters without any article (第X条) or numbered item (一、/1.): not a statute "
            "in article form (a guide, a technical standard…)",
        )
    law = short_title(document.title)
    chunk = _make_text_chunk(source, document, law, body, unit="text", hierarchy=(), ordinal=0)
    return [chunk], ["no articles or numbered items: indexed as one whole-text unit"]
