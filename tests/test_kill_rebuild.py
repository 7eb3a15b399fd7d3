"""SIGKILL a running `ipqa index rebuild` at every stage: `current` still opens and answers, no partial
file is ever used, and the next build cleans up.

The rebuild subprocess is paused at a stage boundary by the test-only hook ``IPQA_TEST_PAUSE_AT``
(read by ``indexes/cli.py``), then killed.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from indexes.build import STAGES, BuildOptions, build_version
from indexes.layout import IndexLayout
from indexes.snapshot import open_snapshot

REPO_ROOT = Path(__file__).resolve().parent.parent
# The hook pauses a job as it STARTS a stage: while the store is being filled; with the store
# written and BM25 about to be; with BM25 saved and embedding about to start; with every file written
# but the version not yet verified nor `current` switched. ("build" only adds the FAISS file between
# the last two; each kill costs a process start, ~15 s on 2 shared cores.)
KILL_AT = ("parse", "tokenise", "embed", "verify")
assert set(KILL_AT) <= set(STAGES)

STATUTE = """# 中华人民共和国测试法

<!-- INFO END -->

## 第一章 总则

第一条 为了保护专利权人的合法权益，鼓励发明创造，制定本法。

第二条 本法所称的发明创造是指发明、实用新型和外观设计。

第三条 任何单位或者个人未经专利权人许可，都不得实施其专利。
"""

NOTES = """Patent claim construction

Claims are read in light of the specification and the prosecution history.

A patent is infringed when every limitation of a claim is found in the accused product.
"""


@pytest.fixture()
def sources(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "测试法(2020-01-01).md").write_text(STATUTE, encoding="utf-8")
    (corpus / "notes.txt").write_text(NOTES, encoding="utf-8")
    return corpus


def _env(data_dir: Path, embedder_dir: Path, pause_at: str | None) -> dict[str, str]:
    env = dict(os.environ, IPQA_DATA_DIR=str(data_dir), IPQA_EMBEDDER=str(embedder_dir),
               IPQA_INGEST_JOBS="1", HF_HUB_OFFLINE="1", DO_NOT_TRACK="true", PYTHONUNBUFFERED="1")
    env.pop("IPQA_TEST_PAUSE_AT", None)
    if pause_at:
        env["IPQA_TEST_PAUSE_AT"] = pause_at
    return env


def _start_paused_rebuild(sources: Path, data_dir: Path, embedder_dir: Path, stage: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ipqa.cli", "index", "rebuild", "--source", str(sources)],
                            cwd=REPO_ROOT, env=_env(data_dir, embedder_dir, stage), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_pause(process: subprocess.Popen, stage: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stderr], [], [], 1.0)
        if ready:
            line = process.stderr.readline()
            if not line and process.poll() is not None:
                break
            seen.append(line)
            if line.strip() == f"IPQA_TEST_PAUSED {stage}":
                return
    process.kill()
    raise AssertionError(f"rebuild never reached {stage}; exit {process.poll()}; stderr:\n{''.join(seen)}")


def _assert_current_serves(index_root: Path, embedder, version: str) -> None:
    snapshot = open_snapshot(index_root, embedder=embedder)
    try:
        assert snapshot.version == version
        assert snapshot.search_bm25("专利权人 许可 实施", 3)[0].chunk.citation.endswith("第三条")
        assert snapshot.search_dense("claim limitation infringed", 3)
        # nothing of a killed build is reachable from the version being served
        assert ".partial" not in str(snapshot.directory)
    finally:
        snapshot.close()


@pytest.mark.slow
def test_sigkill_at_every_stage_never_breaks_current(tmp_path: Path, sources: Path, tiny_embedder_dir: Path) -> None:
    from indexes.embedder import create_embedder

    embedder = create_embedder(str(tiny_embedder_dir))
    data_dir = tmp_path / "var"
    index_root = data_dir / "index"
    layout = IndexLayout(index_root)
    first = build_version(index_root, [sources], embedder=embedder, options=BuildOptions(jobs=1))
    _assert_current_serves(index_root, embedder, first.version)

    for stage in KILL_AT:
        process = _start_paused_rebuild(sources, data_dir, tiny_embedder_dir, stage)
        try:
            _wait_for_pause(process, stage)
            # the paused build works in a .partial directory, and it removed the one the previous
            # killed build left behind
            assert len(layout.partials()) == 1, f"paused at {stage}: {layout.partials()}"
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            process.stderr.close()
        assert process.returncode == -signal.SIGKILL
        assert layout.current() == first.version, f"killed at {stage}"
        assert layout.versions() == [first.version]
        _assert_current_serves(index_root, embedder, first.version)

    assert len(layout.partials()) == 1
    # the next build (a CLI run, unpaused) removes what the killed ones left and switches
    done = subprocess.run([sys.executable, "-m", "ipqa.cli", "index", "rebuild", "--source", str(sources)],
                          cwd=REPO_ROOT, env=_env(data_dir, tiny_embedder_dir, None), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "cleaned up interrupted build(s)" in done.stdout
    assert layout.partials() == []
    assert layout.current() != first.version
    _assert_current_serves(index_root, embedder, layout.current())


@pytest.mark.slow
def test_sigkill_of_an_add_never_breaks_current(tmp_path: Path, sources: Path, tiny_embedder_dir: Path) -> None:
    """Adds changed with issue 15 (no version when nothing changes): a killed add still leaves
    `current` serving, and an add of nothing new afterwards makes no version."""
    from indexes.embedder import create_embedder

    embedder = create_embedder(str(tiny_embedder_dir))
    data_dir = tmp_path / "var"
    index_root = data_dir / "index"
    layout = IndexLayout(index_root)
    first = build_version(index_root, [sources], embedder=embedder, options=BuildOptions(jobs=1))
    extra = tmp_path / "more.txt"
    extra.write_text("Damages\n\nA patentee is entitled to damages adequate to compensate for the infringement.\n",
                     encoding="utf-8")
    for stage in ("parse", "verify"):
        process = subprocess.Popen([sys.executable, "-m", "ipqa.cli", "index", "add", str(extra)], cwd=REPO_ROOT,
                                   env=_env(data_dir, tiny_embedder_dir, stage), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        try:
            _wait_for_pause(process, stage)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            process.stderr.close()
        assert layout.current() == first.version and layout.versions() == [first.version], f"killed at {stage}"
        _assert_current_serves(index_root, embedder, first.version)
    again = subprocess.run([sys.executable, "-m", "ipqa.cli", "index", "add", str(sources / "notes.txt")],
                           cwd=REPO_ROOT, env=_env(data_dir, tiny_embedder_dir, None), capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "nothing to add or remove" in again.stdout and "cleaned up interrupted build(s)" in again.stdout
    assert layout.partials() == [] and layout.versions() == [first.version]
