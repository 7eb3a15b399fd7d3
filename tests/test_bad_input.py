"""Bad input, end to end through the pipeline: every bad file gets one clear error naming it and the
cause; the good file in the same batch is still ingested; nothing crashes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ingest import extract as extract_module
from ingest import pipeline
from ingest.pipeline import FileError, ingest

MAX = 100 * 1024 * 1024

GOOD_STATUTE = """# 中华人民共和国示例法

2020年10月17日 第十三届全国人民代表大会常务委员会第二十二次会议通过

<!-- INFO END -->

## 第一章 总则

第一条 为了保护专利权人的合法权益，制定本法。

第二条 本法所称的发明创造是指发明、实用新型和外观设计。
"""

USLM_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
             '<uscDoc xmlns="http://xml.house.gov/schemas/uslm/1.0" identifier="/us/usc/t35">')
BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE uscDoc [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<uscDoc xmlns="http://xml.house.gov/schemas/uslm/1.0" identifier="/us/usc/t35"><main><section
 identifier="/us/usc/t35/s101"><num value="101">§ 101.</num><content>&lol9;</content></section></main></uscDoc>
"""


def write(path: Path, data: str | bytes, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return path


def junk(size: int = 4096, seed: int = 7) -> bytes:
    import random

    return random.Random(seed).randbytes(size)


def error_for(result, path: Path) -> str:
    matches = [e.error for e in result.errors if e.path == str(path)]
    assert len(matches) == 1, f"expected one error for {path}, got {result.errors}"
    return matches[0]


def assert_good_file_ingested(result, good: Path) -> None:
    docs = [d for d in result.documents if d.document.source_path == str(good)]
    assert len(docs) == 1, result.errors
    assert [c.citation for c in docs[0].chunks] == ["示例法 第一条", "示例法 第二条"]


@pytest.fixture
def good(tmp_path) -> Path:
    return write(tmp_path / "good" / "示例法(2020-10-17).md", GOOD_STATUTE)


def test_one_batch_of_every_kind_of_bad_file(tmp_path, good):
    bad = tmp_path / "bad"
    cases = {
        write(bad / "empty.md", b""): "empty file",
        write(bad / "blank.txt", "  \n\n\t "): "empty file",
        write(bad / "empty.xml", b""): "empty file",
        write(bad / "empty.pdf", b""): "empty file",
        write(bad / "junk.md", junk()): "binary data, not text",
        write(bad / "junk.xml", junk()): "binary data, not XML",
        write(bad / "junk.pdf", junk()): "not a readable PDF",
        write(bad / "junk.docx", junk()): "not a readable DOCX file",
        write(bad / "notes.xyz", "text"): "unsupported file type .xyz; supported: .docx, .htm, .html, .markdown, "
                                          ".md, .pdf, .txt, .xml",
        write(bad / "README", "text"): "unsupported file type (no extension)",
        write(bad / "truncated.xml", USLM_HEAD + "<main><section identifier='/us/usc/t35/s101'><num>"):
            "malformed or truncated XML",
        write(bad / "other.xml", '<?xml version="1.0"?>\n<!-- x -->\n<invoice><total>3</total></invoice>'):
            "XML of an unknown schema: root <invoice>",
    }
    result = ingest([good.parent, bad], max_file_bytes=MAX)
    assert_good_file_ingested(result, good)
    for path, expected in cases.items():
        assert expected in error_for(result, path), path
    assert len(result.errors) == len(cases)
    assert result.files == len(cases) + 1


def test_gbk_encoded_statute_parses_like_utf8(tmp_path):
    gbk = write(tmp_path / "gbk" / "示例法(2020-10-17).md", GOOD_STATUTE, encoding="gbk")
    utf8 = write(tmp_path / "utf8" / "示例法(2020-10-17).md", GOOD_STATUTE)
    (from_gbk,) = ingest([gbk], max_file_bytes=MAX).documents
    (from_utf8,) = ingest([utf8], max_file_bytes=MAX).documents
    assert from_gbk.document.kind == "statute"
    assert from_gbk.document.title == "中华人民共和国示例法"
    assert [(c.citation, c.text) for c in from_gbk.chunks] == [(c.citation, c.text) for c in from_utf8.chunks]
    assert from_gbk.chunks[0].text == "为了保护专利权人的合法权益，制定本法。"


def test_a_200_mb_file_is_refused_by_its_size_without_being_read(tmp_path, good, monkeypatch):
    huge = tmp_path / "huge.md"
    with huge.open("wb") as fh:
        fh.truncate(200 * 1024 * 1024)  # sparse: costs no disk

    def must_not_read(path):
        if Path(path) == huge:
            raise AssertionError("the oversized file was read")
        return Path(path).read_bytes()

    monkeypatch.setattr(extract_module, "read_bytes", must_not_read)
    started = time.perf_counter()
    result = ingest([huge, good], max_file_bytes=MAX)
    assert time.perf_counter() - started < 5
    assert error_for(result, huge) == "file too large: 209,715,200 bytes, the limit is 104,857,600"
    assert_good_file_ingested(result, good)


def test_xxe_never_copies_a_local_file_into_the_text(tmp_path, good):
    secret = write(tmp_path / "secret.txt", "TOP-SECRET-CONTENT-42")
    xxe = write(tmp_path / "xxe.xml",
                f'<?xml version="1.0"?>\n<!DOCTYPE uscDoc [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
                '<uscDoc xmlns="http://xml.house.gov/schemas/uslm/1.0" identifier="/us/usc/t35"><main>'
                '<section identifier="/us/usc/t35/s101"><num value="101">§ 101.</num>'
                "<content>Leak: &xxe;</content></section></main></uscDoc>")
    result = ingest([xxe, good], max_file_bytes=MAX)
    everything = " ".join(c.text for d in result.documents for c in d.chunks)
    assert "TOP-SECRET-CONTENT-42" not in everything
    assert "entit" in error_for(result, xxe)
    assert_good_file_ingested(result, good)


def test_entity_expansion_bomb_is_refused_fast(tmp_path, good):
    bomb = write(tmp_path / "bomb.xml", BILLION_LAUGHS)
    started = time.perf_counter()
    result = ingest([bomb, good], max_file_bytes=MAX)
    assert time.perf_counter() - started < 5
    assert "entit" in error_for(result, bomb)
    assert not any(d.document.source_path == str(bomb) for d in result.documents)
    assert_good_file_ingested(result, good)


def test_missing_paths_broken_links_and_directories_named_like_files(tmp_path, good):
    missing = tmp_path / "missing.md"
    broken = tmp_path / "broken.md"
    broken.symlink_to(tmp_path / "nowhere.md")
    dir_like_file = tmp_path / "statute.md"
    dir_like_file.mkdir()
    result = ingest([missing, broken, dir_like_file, good], max_file_bytes=MAX)
    assert error_for(result, missing) == "no such file or directory"
    assert error_for(result, broken) == "broken symbolic link"
    assert error_for(result, dir_like_file) == "is a directory named like a file, not a file"
    assert_good_file_ingested(result, good)
    assert result.files == 4


def test_broken_link_inside_a_directory(tmp_path, good):
    (good.parent / "dangling.md").symlink_to(tmp_path / "nowhere.md")
    result = ingest([good.parent], max_file_bytes=MAX)
    assert error_for(result, good.parent / "dangling.md") == "broken symbolic link"
    assert_good_file_ingested(result, good)


def test_a_fifo_is_not_read(tmp_path, good):
    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)  # reading it would block forever
    result = ingest([fifo, good], max_file_bytes=MAX)
    assert error_for(result, fifo) == "not a regular file (device, pipe or socket)"
    assert_good_file_ingested(result, good)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_by_mode(tmp_path, good):
    locked = write(tmp_path / "locked.md", GOOD_STATUTE)
    locked.chmod(0)
    try:
        result = ingest([locked, good], max_file_bytes=MAX)
    finally:
        locked.chmod(0o644)
    assert error_for(result, locked) == "permission denied"
    assert_good_file_ingested(result, good)


def test_unreadable_file_when_the_read_itself_fails(tmp_path, good, monkeypatch):
    """Runs as root too: the operating system's refusal is simulated at the one read call."""
    locked = write(tmp_path / "locked.md", GOOD_STATUTE.replace("示例法", "锁定法"))
    real_read = extract_module.read_bytes

    def read_bytes(path):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_read(path)

    monkeypatch.setattr(extract_module, "read_bytes", read_bytes)
    result = ingest([locked, good], max_file_bytes=MAX)
    assert error_for(result, locked) == "permission denied"
    assert_good_file_ingested(result, good)


def test_a_parser_bug_is_one_files_error_not_the_batchs(tmp_path, good, monkeypatch):
    notes = write(tmp_path / "notes.txt", "plain text")
    real_parse_text = pipeline._parse_text

    def buggy(path, parsers):
        if path == notes:
            raise ZeroDivisionError("division by zero")
        return real_parse_text(path, parsers)

    monkeypatch.setattr(pipeline, "_parse_text", buggy)
    result = ingest([notes, good], max_file_bytes=MAX)
    assert error_for(result, notes) == "parser failed: ZeroDivisionError: division by zero"
    assert_good_file_ingested(result, good)


def test_keyboard_interrupt_stops_the_batch(tmp_path, good, monkeypatch):
    def interrupted(path, parsers):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "_parse_text", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ingest([good], max_file_bytes=MAX)


def test_bad_files_in_the_process_pool_too(tmp_path, good):
    bad = tmp_path / "bad"
    empty = write(bad / "empty.md", b"")
    binary = write(bad / "junk.md", junk())
    result = ingest([bad, good.parent], max_file_bytes=MAX, jobs=2)
    assert error_for(result, empty) == "empty file"
    assert error_for(result, binary) == "binary data, not text"
    assert_good_file_ingested(result, good)


def test_errors_are_plain_values_naming_the_file(tmp_path):
    path = tmp_path / "gone.txt"
    result = ingest([path], max_file_bytes=MAX)
    assert result.errors == [FileError(str(path), "no such file or directory")]
    assert str(result.errors[0]) == f"{path}: no such file or directory"
    assert result.documents == []


def test_a_file_that_kills_its_worker_process_costs_only_that_file(tmp_path, good, monkeypatch):
    """A native crash (a segfault in a PDF library on a hostile file) kills the worker outright. The
    spawned workers load a sitecustomize that makes reading ``crash.md`` exit the process abruptly."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(
        "import os\n"
        "import ingest.extract as extract\n"
        "_real = extract.read_bytes\n"
        "def read_bytes(path):\n"
        "    if path.name == 'crash.md':\n"
        "        os._exit(11)\n"
        "    return _real(path)\n"
        "extract.read_bytes = read_bytes\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH")])))
    batch = tmp_path / "batch"
    crash = write(batch / "crash.md", "anything")
    others = [write(batch / f"note{i}.txt", f"Note {i}.") for i in range(5)]
    result = ingest([batch, good], max_file_bytes=MAX, jobs=2)
    assert error_for(result, crash) == "the parser process crashed on this file"
    assert len(result.errors) == 1
    assert sorted(d.document.source_path for d in result.documents) == sorted(map(str, [*others, good]))
    assert_good_file_ingested(result, good)
