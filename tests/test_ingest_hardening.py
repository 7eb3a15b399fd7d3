"""Regression tests for the ingest defects of issue 15 (hardening): a DOCTYPE hidden behind a long
comment, citations read across a negation, zip bombs, add jobs that change nothing, parser workers
that outlive their parent."""

from __future__ import annotations

import pytest

from ingest.safe_xml import parse_xml_bytes, strip_doctype
from ipqa.errors import InputError

# --- 8. the DOCTYPE refusal does not depend on where the DOCTYPE is -------------------------------------

ENTITY_DOCTYPE = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'


@pytest.mark.parametrize("comment_bytes", [10, 2 * 1024 * 1024])
def test_doctype_after_a_long_comment_is_still_refused(comment_bytes: int) -> None:
    data = (b'<?xml version="1.0"?>\n<!--' + b"c" * comment_bytes + b"-->\n<?pi x?>\n"
            + ENTITY_DOCTYPE + b"\n<x>&e;</x>")
    with pytest.raises(InputError, match="DOCTYPE declares entities"):
        parse_xml_bytes(data, source="bomb.xml")


def test_a_harmless_doctype_after_a_long_comment_is_dropped() -> None:
    data = b"<!--" + b"c" * (2 * 1024 * 1024) + b'-->\n<!DOCTYPE x SYSTEM "x.dtd">\n<x>text</x>'
    assert parse_xml_bytes(data, source="ok.xml").text == "text"


def test_a_doctype_named_inside_a_comment_or_the_body_is_not_the_prolog_doctype() -> None:
    data = b"<!-- <!DOCTYPE x [<!ENTITY e 'y'>]> -->\n<x>&lt;!DOCTYPE</x>"
    assert strip_doctype(data, source="c.xml") == data


# --- 11. a negation before a law's name is not part of the name -----------------------------------------

@pytest.mark.parametrize("text, law", [
    ("并非刑法第二百一十四条规定的情形", "刑法"),
    ("该行为不是商标法第五十七条规定的侵权行为", "商标法"),
    ("而非专利法第十一条", "专利法"),
    ("违反非物质文化遗产法第十条", "非物质文化遗产法"),  # 非 inside a real name stays
])
def test_law_name_is_not_read_across_a_negation(text: str, law: str) -> None:
    from ingest.citations import find_citations

    for known in (None, frozenset({"刑法", "商标法", "专利法", "非物质文化遗产法"})):
        found = find_citations(text, known_laws=known)
        assert [f.ref.law for f in found] == [law], (text, known)


# --- 1. zip bombs and documents of too many chunks ---------------------------------------------------

def _docx_bytes(paragraphs: int, text: str = "第一条 为了保护专利权人的合法权益，鼓励发明创造，制定本法。") -> bytes:
    """A real DOCX (python-docx) whose document.xml is replaced by ``paragraphs`` repeats of one."""
    import io
    import zipfile

    import docx

    buffer = io.BytesIO()
    docx.Document().save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    body = f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>" * paragraphs
    document_xml = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                    f"<w:body>{body}</w:body></w:document>").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = document_xml if item.filename == "word/document.xml" else source.read(item.filename)
            target.writestr(item.filename, data)
    return out.getvalue()


def test_docx_decompression_bomb_is_refused_with_a_clear_error(tmp_path) -> None:
    from ingest.extract import extract

    bomb = _docx_bytes(60_000)  # ~10 MB of XML from a few tens of KB
    assert len(bomb) < 200_000
    path = tmp_path / "bomb.docx"
    path.write_bytes(bomb)
    with pytest.raises(InputError, match="decompression bomb") as caught:
        extract(path, display_path="bomb.docx")
    assert "bomb.docx" in str(caught.value)
    small = tmp_path / "fine.docx"
    small.write_bytes(_docx_bytes(20))
    assert "专利权人" in extract(small).text


def test_archive_limits_count_total_inflated_bytes() -> None:
    from ingest.archive_limits import check_zip_archive

    data = _docx_bytes(2_000)
    check_zip_archive(data, "ok.docx")
    with pytest.raises(InputError, match="inflates to more than 1,000 bytes"):
        check_zip_archive(data, "ok.docx", max_bytes=1_000)
    check_zip_archive(b"PK\x03\x04 not really", "x.docx")  # corrupt: left to the DOCX reader's error


def test_a_document_of_too_many_chunks_is_a_file_error(tmp_path, monkeypatch) -> None:
    from functools import partial

    import ingest.pipeline as pipeline
    from ingest.archive_limits import check_chunk_count

    law = tmp_path / "示例法(2020-01-01).md"
    law.write_text("# 示例法\n\n" + "\n\n".join(f"第{n}条 本条规定第{n}项义务。" for n in
                                             ["一", "二", "三", "四", "五"]), encoding="utf-8")
    monkeypatch.setattr(pipeline, "check_chunk_count", partial(check_chunk_count, limit=3))
    errors: list = []
    documents = list(pipeline.iter_documents([law], max_file_bytes=1 << 20, errors=errors))
    assert documents == [] and len(errors) == 1
    assert "chunks; the limit is 3 per document" in errors[0].error


# --- 5 and 2. an add that adds nothing makes no version; a copy is reported -----------------------------

def test_an_add_that_adds_nothing_makes_no_version_and_reports_the_copy(tmp_path) -> None:
    import dataclasses

    from index_corpus import HashingEmbedder, patent_law, title35
    from indexes.build import BuildOptions, add_parsed_documents, build_from_documents
    from indexes.layout import IndexLayout

    embedder, options = HashingEmbedder(), BuildOptions(keep_versions=2)
    first = build_from_documents(tmp_path, [patent_law(), title35()], embedder=embedder, options=options)
    layout = IndexLayout(tmp_path)
    original = patent_law()
    copy = dataclasses.replace(original, document=dataclasses.replace(original.document,
                                                                      source_path="/uploads/abc/copy.md"))
    for _ in range(3):  # three junk adds used to push every rollback version out
        result = add_parsed_documents(tmp_path, [copy], embedder=embedder, options=options)
        assert result.changed is False and result.version == first.version and result.pruned == ()
        assert [(a.source_path, a.document_id, a.indexed_from) for a in result.already_indexed] == [
            ("/uploads/abc/copy.md", original.document.id, original.document.source_path)]
    nothing = add_parsed_documents(tmp_path, [], embedder=embedder, options=options)
    assert nothing.changed is False
    assert layout.versions() == [first.version] and layout.current() == first.version and layout.partials() == []


# --- 6. parser workers die with their parent ---------------------------------------------------------------

_PARENT = r"""
import json, multiprocessing, sys, time
from pathlib import Path
from ingest.pipeline import _parse_in_processes
files = [Path(p) for p in sys.argv[1:]]
outcomes = _parse_in_processes(files, 1 << 20, 2, frozenset())
next(outcomes)  # the pool is up and its workers have loaded the parsers
print(json.dumps([p.pid for p in multiprocessing.active_children()]), flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            return not any(line.startswith("State:") and "Z" in line for line in status)  # a zombie is dead
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_parser_workers_die_when_their_parent_is_killed(tmp_path) -> None:
    import json
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    files = []
    for n in range(6):
        path = tmp_path / f"doc{n}.txt"
        path.write_text(f"Document {n}. A plain text file with a sentence or two.\n", encoding="utf-8")
        files.append(str(path))
    repo = Path(__file__).resolve().parent.parent
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, *files], cwd=repo, stdout=subprocess.PIPE,
                              env=dict(os.environ, PYTHONPATH=str(repo)))
    try:
        workers = json.loads(parent.stdout.readline())
        assert len(workers) == 2 and all(_alive(pid) for pid in workers)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 15
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in workers), "parser workers outlived their parent"
    finally:
        parent.kill()
        for pid in workers if "workers" in locals() else []:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
