"""`ipqa ingest`: the JSON report, the human report, and the exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingest.skip import SECTION_INDEX_REASON
from ipqa.cli import build_app

STATUTE = """# 中华人民共和国示例法

<!-- INFO END -->

## 第一章 总则

第一条 为了保护专利权人的合法权益，制定本法。

第二条 本法所称的发明创造是指发明。
"""


@pytest.fixture
def corpus(tmp_path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "示例法(2020-10-17).md").write_text(STATUTE, encoding="utf-8")
    (root / "notes.txt").write_text("Licensing notes.\n\nSecond paragraph.\n", encoding="utf-8")
    (root / "empty.md").write_bytes(b"")
    (root / "data.xyz").write_text("?")
    # a static site's folder index: skipped, not an error; a user's front-matter-only page: an error
    (root / "_index.md").write_text("---\nbookCollapseSection: true\n---\n", encoding="utf-8")
    (root / "draft.md").write_text("---\ntitle: draft\n---\n", encoding="utf-8")
    return root


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(build_app(), ["ingest", *args], env=env)


def test_json_prints_exactly_one_object_with_counts_and_errors(corpus):
    result = run("--json", "--jobs", "1", str(corpus))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # the whole of stdout is one JSON document
    assert report == {
        "files": 6,
        "documents": 2,
        "chunks": 3,
        "by_kind": {"other": 1, "statute": 1},
        "errors": [
            {"path": str(corpus / "data.xyz"),
             "error": "unsupported file type .xyz; supported: .docx, .htm, .html, .markdown, .md, .pdf, "
                      ".txt, .xml"},
            {"path": str(corpus / "draft.md"), "error": "empty file (only YAML front matter)"},
            {"path": str(corpus / "empty.md"), "error": "empty file"},
        ],
        "skipped": [{"path": str(corpus / "_index.md"), "reason": SECTION_INDEX_REASON}],
    }


def test_human_report_lists_kinds_and_failed_files(corpus):
    result = run(str(corpus), "--jobs", "1", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "statute" in result.stdout and "other" in result.stdout
    assert "3 file(s) with errors" in result.stdout
    assert "empty.md" in result.stdout and "empty file" in result.stdout
    assert "1 file(s) skipped" in result.stdout and "_index.md" in result.stdout


def test_nothing_readable_exits_non_zero_and_still_reports(tmp_path):
    (tmp_path / "empty.md").write_bytes(b"")
    result = run("--json", str(tmp_path / "empty.md"), str(tmp_path / "missing.txt"))
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["documents"] == 0 and report["files"] == 2
    assert [e["error"] for e in report["errors"]] == ["no such file or directory", "empty file"]


def test_max_file_bytes_comes_from_settings(corpus):
    result = run("--json", "--jobs", "1", str(corpus / "notes.txt"), env={"IPQA_MAX_FILE_BYTES": "10"})
    assert result.exit_code == 1
    (error,) = json.loads(result.stdout)["errors"]
    assert error["error"].startswith("file too large")


def test_jobs_must_be_positive(corpus):
    result = run("--jobs", "0", str(corpus))
    assert result.exit_code == 2
