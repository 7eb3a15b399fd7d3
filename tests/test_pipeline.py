"""The ingest pipeline: discovery, dispatch, pages, references, dedup, process pool, IngestResult."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ingest.parsers.plain import PlainTextParser, detect_language, split_paragraphs
from ingest.pipeline import (
    FileError,
    FileSkip,
    discover,
    ingest,
    iter_documents,
    law_titles_in_files,
    with_references,
    xml_root_name,
)
from ingest.protocols import SourceText
from ingest.skip import SECTION_INDEX_REASON
from ipqa.domain import DocKind, Language

MAX = 10 * 1024 * 1024

STATUTE = """# 中华人民共和国示例法

2020年10月17日 第十三届全国人民代表大会常务委员会第二十二次会议通过

<!-- INFO END -->

## 第一章 总则

第一条 为了保护专利权人的合法权益，制定本法。

第二条 本法所称的发明创造是指发明。依照本法第一条的规定执行。

第三条 国务院专利行政部门负责管理全国的专利工作。
"""

NOTES = "Meeting notes about licensing.\n\nSecond paragraph on royalties.\n\nThird paragraph.\n"


STATUTE_LINES_PAGE_1 = ["# 中华人民共和国示例法", "<!-- INFO END -->", "## 第一章 总则",
                        "第一条 为了保护专利权人的合法权益，制定本法。", "第二条 本法所称的发明创造是指发明。"]
STATUTE_LINES_PAGE_2 = ["第三条 国务院专利行政部门负责管理全国的专利工作。"]


def write_pdf(path: Path, pages: list[list[str]], *, chinese: bool = True) -> Path:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if chinese:
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path))
    for lines in pages:
        pdf.setFont("STSong-Light" if chinese else "Helvetica", 12)
        for i, line in enumerate(lines):
            pdf.drawString(72, 720 - 20 * i, line)
        pdf.showPage()
    pdf.save()
    return path


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def citations(result) -> list[str]:
    return [c.citation for doc in result.documents for c in doc.chunks]


def test_a_statute_file_becomes_article_chunks(tmp_path):
    path = write(tmp_path / "示例法(2020-10-17).md", STATUTE)
    result = ingest([path], max_file_bytes=MAX)
    assert result.errors == []
    assert result.files == 1
    assert result.by_kind == {"statute": 1}
    assert citations(result) == ["示例法 第一条", "示例法 第二条", "示例法 第三条"]
    assert result.chunk_count == 3
    assert result.documents[0].document.source_path == str(path)


def test_references_are_filled_from_the_citation_extractor(tmp_path):
    path = write(tmp_path / "示例法(2020-10-17).md", STATUTE)
    (doc,) = ingest([path], max_file_bytes=MAX).documents
    second = next(c for c in doc.chunks if c.citation == "示例法 第二条")
    assert "示例法 第一条" in second.references


def test_with_references_turns_an_extractor_failure_into_a_warning(tmp_path):
    source = SourceText(path="notes.txt", text=NOTES, format="txt")
    (parsed,) = PlainTextParser().parse_text(source)

    def extractor(chunk, document):
        if chunk.ordinal == 0:
            raise RuntimeError("boom")
        return ("35 U.S.C. § 101",)

    filled = with_references(parsed, extractor)
    assert len(filled.chunks) == len(parsed.chunks)
    assert any("boom" in w for w in filled.warnings)
    assert filled.chunks[0].references == ()


def test_a_two_page_pdf_statute_keeps_each_articles_page(tmp_path):
    path = write_pdf(tmp_path / "示例法.pdf", [STATUTE_LINES_PAGE_1, STATUTE_LINES_PAGE_2])
    result = ingest([path], max_file_bytes=MAX)
    assert result.errors == []
    pages = {c.citation: c.page for doc in result.documents for c in doc.chunks}
    assert pages == {"示例法 第一条": 1, "示例法 第二条": 1, "示例法 第三条": 2}


def test_text_without_legal_structure_falls_back_to_numbered_paragraphs(tmp_path):
    path = write(tmp_path / "notes.txt", NOTES)
    result = ingest([path], max_file_bytes=MAX)
    assert result.by_kind == {"other": 1}
    (chunk,) = result.documents[0].chunks
    assert chunk.citation == "notes, ¶¶ 1–3"
    assert [p.label for p in chunk.parts] == ["¶ 1", "¶ 2", "¶ 3"]
    assert chunk.text[chunk.parts[1].start:chunk.parts[1].end] == "Second paragraph on royalties."
    assert chunk.language == Language.EN


def test_plain_parser_groups_paragraphs_to_about_the_target_size():
    paragraphs = [f"Paragraph {i} " + "x" * 380 for i in range(1, 8)]
    text = "\n\n".join(paragraphs)
    (parsed,) = PlainTextParser(target_chars=1000).parse_text(SourceText("doc.md", text, "md"))
    assert [c.citation for c in parsed.chunks] == ["doc, ¶¶ 1–2", "doc, ¶¶ 3–4", "doc, ¶¶ 5–6", "doc, ¶ 7"]
    assert all(len(c.text) <= 1000 for c in parsed.chunks)
    for chunk in parsed.chunks:  # spans point back into the source text
        assert text[chunk.span[0]:chunk.span[1]] == chunk.text
    assert len({c.id for c in parsed.chunks}) == 4


def test_plain_parser_cuts_an_enormous_paragraph_at_sentence_ends():
    text = "This is one sentence of a very long paragraph. " * 200  # ~9,400 chars, no blank lines
    spans = split_paragraphs(text, max_chars=2000)
    assert len(spans) >= 5
    assert all(s.end - s.start <= 2000 for s in spans)
    assert all(text[s.end - 1] == "." for s in spans)


def test_plain_parser_language_comes_from_the_cjk_share():
    assert detect_language("本合同所称的专利许可，是指 patent license 的授权。") == Language.ZH
    assert detect_language("The licence covers 专利 in China and the US.") == Language.EN


def test_plain_chunks_of_a_pdf_carry_their_page(tmp_path):
    path = write_pdf(tmp_path / "memo.pdf", [["Memo first page."], ["Memo second page."]], chinese=False)
    parser = PlainTextParser(target_chars=10)
    from ingest.extract import extract

    (parsed,) = parser.parse_text(extract(path))
    assert [(c.citation, c.page) for c in parsed.chunks] == [("memo, ¶ 1", 1), ("memo, ¶ 2", 2)]


def test_directories_are_recursed_in_sorted_order_skipping_hidden_entries(tmp_path):
    write(tmp_path / "b" / "z.txt", "zeta text")
    write(tmp_path / "a.txt", "alpha text")
    write(tmp_path / "b" / "c.txt", "gamma text")
    write(tmp_path / ".git" / "x.txt", "hidden dir")
    write(tmp_path / ".hidden.txt", "hidden file")
    errors: list[FileError] = []
    found = discover([tmp_path], errors)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a.txt", "b/c.txt", "b/z.txt"]
    assert errors == []


def test_the_same_file_given_twice_is_ingested_once(tmp_path):
    path = write(tmp_path / "示例法(2020-10-17).md", STATUTE)
    result = ingest([path, tmp_path, str(path)], max_file_bytes=MAX)
    assert len(result.documents) == 1
    assert result.errors == []


def test_iter_documents_streams_and_collects_errors(tmp_path):
    good = write(tmp_path / "notes.txt", NOTES)
    errors: list[FileError] = []
    stream = iter_documents([good, tmp_path / "missing.txt"], max_file_bytes=MAX, errors=errors)
    first = next(stream)
    assert first.document.source_path == str(good)
    assert list(stream) == []
    assert errors == [FileError(str(tmp_path / "missing.txt"), "no such file or directory")]


def test_process_pool_gives_the_same_result_in_the_same_order(tmp_path):
    for i in range(6):
        write(tmp_path / f"law{i}(2020-10-17).md", STATUTE.replace("示例法", f"示例{i}法"))
        write(tmp_path / f"notes{i}.txt", f"Notes number {i}.\n\nMore text.\n")
    write(tmp_path / "junk.md", "")
    write(tmp_path / "_index.md", "---\nbookCollapseSection: true\n---\n")
    serial = ingest([tmp_path], max_file_bytes=MAX, jobs=1)
    parallel = ingest([tmp_path], max_file_bytes=MAX, jobs=2)
    assert [d.document.id for d in parallel.documents] == [d.document.id for d in serial.documents]
    assert [c.id for d in parallel.documents for c in d.chunks] == [c.id for d in serial.documents
                                                                     for c in d.chunks]
    assert parallel.documents == serial.documents  # metadata mappings survive the trip between processes
    assert parallel.errors == serial.errors == [FileError(str(tmp_path / "junk.md"), "empty file")]
    assert parallel.by_kind == {"other": 6, "statute": 6}
    assert parallel.skipped == serial.skipped == [FileSkip(str(tmp_path / "_index.md"), SECTION_INDEX_REASON)]
    assert parallel.files == serial.files == 14


QUARANTINE_LAW = "# 中华人民共和国进出境动植物检疫法\n\n<!-- INFO END -->\n\n第一条 为了防止疫病传入，制定本法。\n"
QUARANTINE_RULES = (
    "# 中华人民共和国进出境动植物检疫法实施条例\n\n<!-- INFO END -->\n\n第一条 根据有关法律，制定本条例。\n"
    "第二条 输入动物、动物产品和进出境动植物检疫法第五条第一款所列禁止进境物的，依法处理。\n")


def _references(documents, citation):
    return next(c.references for d in documents for c in d.chunks if c.citation == citation)


def test_references_use_the_law_names_of_the_whole_batch(tmp_path):
    """Without 《》 the law name is cut out of the sentence by rule (…和进出境动植物检疫法第五条 keeps
    a wrong prefix); the titles the batch holds make it exact, in every process and in any order."""
    rules = write(tmp_path / "a" / "进出境动植物检疫法实施条例(2020-10-17).md", QUARANTINE_RULES)
    write(tmp_path / "b" / "进出境动植物检疫法(1991-10-30).md", QUARANTINE_LAW)  # parsed AFTER the rules
    cited = "进出境动植物检疫法实施条例 第二条"
    exact = ("进出境动植物检疫法 第五条 第一款",)
    for jobs in (1, 2):
        assert _references(ingest([tmp_path], max_file_bytes=MAX, jobs=jobs).documents, cited) == exact
    assert _references(list(iter_documents([tmp_path], max_file_bytes=MAX, errors=[])), cited) == exact
    # alone, the rules file does not know the law's name: the rule-based cut is all there is ...
    alone = ingest([rules], max_file_bytes=MAX).documents
    assert _references(alone, cited) != exact
    # ... unless the caller names it (e.g. the laws an index the file is added to already holds)
    named = ingest([rules], max_file_bytes=MAX, known_laws=["中华人民共和国进出境动植物检疫法"]).documents
    assert _references(named, cited) == exact


def test_law_titles_in_files_reads_only_statute_titles(tmp_path):
    law = write(tmp_path / "进出境动植物检疫法(1991-10-30).md", QUARANTINE_LAW)
    notes = write(tmp_path / "notes.txt", "Licensing notes.\n\nSecond paragraph.\n")
    index = write(tmp_path / "_index.md", "---\nbookCollapseSection: true\n---\n")
    titles = law_titles_in_files([law, notes, index, tmp_path / "missing.md"], max_file_bytes=MAX, extra=["专利法"])
    assert titles == {"中华人民共和国进出境动植物检疫法", "专利法"}


def test_jobs_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="jobs must be at least 1, got 0"):
        ingest([tmp_path], max_file_bytes=MAX, jobs=0)


@pytest.mark.parametrize("head, root", [
    (b'<?xml version="1.0"?>\n<!-- c -->\n<!DOCTYPE a [<!ENTITY x "y">]>\n<a:doc xmlns:a="u"/>', "a:doc"),
    (b"\xef\xbb\xbf<?xml version='1.0'?><?pi x?><root>", "root"),
    (b"no markup here", None),
])
def test_xml_root_name(head, root):
    assert xml_root_name(head) == root


@pytest.mark.shared
def test_a_slice_of_the_real_cn_law_corpus(shared_data):
    files = sorted((shared_data / "cn-law" / "经济法").glob("*.md"))[:40]
    started = time.perf_counter()
    result = ingest(files, max_file_bytes=MAX)
    elapsed = time.perf_counter() - started
    laws = [f for f in files if f.name != "_index.md"]
    assert result.by_kind.get("statute", 0) == len(laws), result.errors
    assert all(e.path.endswith("_index.md") for e in result.errors)
    assert result.chunk_count > 20 * len(laws)
    assert elapsed < 60


def test_kind_counts_and_chunk_counts_on_a_mixed_batch(tmp_path):
    write(tmp_path / "示例法(2020-10-17).md", STATUTE)
    write(tmp_path / "notes.txt", NOTES)
    write(tmp_path / "notes-gbk.txt", "备忘录：关于许可费的讨论。\n\n第二段。\n", "gbk")
    result = ingest([tmp_path], max_file_bytes=MAX)
    assert result.files == 3
    assert result.by_kind == {"other": 2, "statute": 1}
    assert result.chunk_count == 3 + 1 + 1
    gbk = next(d for d in result.documents if d.document.source_path.endswith("notes-gbk.txt"))
    assert gbk.document.kind == DocKind.OTHER and gbk.document.language == Language.ZH
    assert gbk.chunks[0].text.startswith("备忘录")
