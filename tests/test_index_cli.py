"""`ipqa index rebuild | add | remove | status | verify` end to end (in-process, tiny embedder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from indexes.layout import IndexLayout
from indexes.locking import BuildInProgressError, BuildLock
from ipqa.cli import build_app
from ipqa.errors import IndexUnavailableError

STATUTE = """# 中华人民共和国测试法

<!-- INFO END -->

## 第一章 总则

第一条 为了保护专利权人的合法权益，鼓励发明创造，制定本法。

第二条 任何单位或者个人未经专利权人许可，都不得实施其专利。
"""

NOTES = """Claim construction

Claims are read in light of the specification.

A patent is infringed when every limitation of a claim is found in the accused product.
"""

MORE = """Damages

A patentee is entitled to damages adequate to compensate for the infringement.
"""


@pytest.fixture()
def env(tmp_path: Path, tiny_embedder_dir: Path, monkeypatch) -> dict[str, str]:
    values = {"IPQA_DATA_DIR": str(tmp_path / "var"), "IPQA_EMBEDDER": str(tiny_embedder_dir),
              "IPQA_INGEST_JOBS": "1"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("IPQA_TEST_PAUSE_AT", raising=False)
    return values


def _invoke(*args: str):
    return CliRunner().invoke(build_app(), ["index", *args], catch_exceptions=True)


def _status() -> dict:
    result = _invoke("status", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_rebuild_add_remove_status(tmp_path: Path, env: dict[str, str]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "测试法.md").write_text(STATUTE, encoding="utf-8")
    (corpus / "notes.txt").write_text(NOTES, encoding="utf-8")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")

    assert _status()["versions"] == []
    rebuilt = _invoke("rebuild", "--source", str(corpus))
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "is now current" in rebuilt.output and "time per stage: parse" in rebuilt.output
    assert "broken.pdf" in rebuilt.output  # a bad file is reported, not fatal
    status = _status()
    first = status["current"]
    [version] = status["versions"]
    assert version["counts"]["documents_by_kind"]["statute"] == 1
    assert version["counts"]["chunks_by_language"]["zh"] == 2
    assert version["dense"]["vectors"] == version["counts"]["chunks_by_language"].get("en", 0) > 0
    assert version["file_errors"] == 1

    extra = tmp_path / "more.txt"
    extra.write_text(MORE, encoding="utf-8")
    added = _invoke("add", str(extra))
    assert added.exit_code == 0, added.output
    status = _status()
    assert status["current"] != first and len(status["versions"]) == 2
    assert status["versions"][-1]["build"] == "add"
    assert status["versions"][-1]["counts"]["documents"] == version["counts"]["documents"] + 1

    layout = IndexLayout(tmp_path / "var" / "index")
    from indexes.store import SqliteChunkStore

    store = SqliteChunkStore.open_readonly(layout.version_dir(status["current"]) / "store.sqlite")
    try:
        [doc_id] = store.document_ids_from_source(str(extra))
    finally:
        store.close()
    removed = _invoke("remove", doc_id)
    assert removed.exit_code == 0, removed.output
    status = _status()
    assert status["versions"][-1]["build"] == "remove"
    assert status["versions"][-1]["counts"] == version["counts"]

    verified = _invoke("verify")
    assert verified.exit_code == 0 and "answers queries" in verified.output
    table = _invoke("status")
    assert table.exit_code == 0 and status["current"] in table.output.replace("\n", "")


def test_rebuild_refused_while_another_runs(tmp_path: Path, env: dict[str, str]) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "notes.txt").write_text(NOTES, encoding="utf-8")
    with BuildLock(tmp_path / "var" / "index" / ".build.lock"):
        assert _status()["build_running"] is True
        result = _invoke("rebuild", "--source", str(corpus))
    assert _status()["build_running"] is False
    assert isinstance(result.exception, BuildInProgressError)
    assert "another index build is running" in str(result.exception)


def test_add_without_index_and_unknown_version_are_clear_errors(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "a.txt").write_text(NOTES, encoding="utf-8")
    result = _invoke("add", str(tmp_path / "a.txt"))
    assert isinstance(result.exception, IndexUnavailableError)
    assert "ipqa index rebuild" in str(result.exception)
    result = _invoke("verify", "20990101T000000000000Z-deadbeef")
    assert isinstance(result.exception, IndexUnavailableError)


def test_an_add_of_nothing_new_makes_no_version(tmp_path: Path, env: dict[str, str]) -> None:
    """Issue 15: `ipqa index add empty.md junk.md` said "is now current" and pruned a version."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "测试法.md").write_text(STATUTE, encoding="utf-8")
    assert _invoke("rebuild", "--source", str(corpus)).exit_code == 0
    first = _status()["current"]
    (tmp_path / "empty.md").write_text("", encoding="utf-8")
    (tmp_path / "junk.md").write_bytes(b"\x00\x01\x02 binary")
    copy = tmp_path / "测试法-副本.md"  # the same law under another name: the same document
    copy.write_text(STATUTE, encoding="utf-8")
    for _ in range(3):
        added = _invoke("add", str(tmp_path / "empty.md"), str(tmp_path / "junk.md"), str(copy))
        assert added.exit_code == 0, added.output
        assert "nothing to add or remove" in added.output and "is now current" not in added.output
        assert "pruned" not in added.output and "already indexed as d" in added.output
    status = _status()
    assert status["current"] == first and len(status["versions"]) == 1
