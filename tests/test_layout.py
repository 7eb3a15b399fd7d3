"""Versioned layout: the current pointer, manifests and file checks, pruning, partials, the build lock."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest

from indexes.layout import (FORMAT_VERSION, IndexLayout, ReaderLock, check_files, describe_files,
                            new_version_name, write_manifest)
from indexes.locking import BuildInProgressError, BuildLock
from ipqa.errors import IndexUnavailableError


def _finished(layout: IndexLayout, name: str) -> Path:
    directory = layout.version_dir(name)
    directory.mkdir(parents=True)
    (directory / "data.bin").write_bytes(b"x" * 10)
    write_manifest(directory, {"format_version": FORMAT_VERSION, "version": name,
                               "files": describe_files(directory)})
    return directory


def test_version_names_sort_by_time_and_differ_within_a_second() -> None:
    t0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    t1 = datetime(2026, 1, 1, 12, 0, 1, tzinfo=timezone.utc)
    a, b = new_version_name("x", now=t0), new_version_name("x", now=t1)
    assert a < b and a.startswith("20260101T120000")
    assert new_version_name("x") != new_version_name("y")


def test_current_switches_only_to_finished_versions(tmp_path: Path) -> None:
    layout = IndexLayout(tmp_path)
    layout.ensure()
    assert layout.current() is None
    with pytest.raises(IndexUnavailableError, match="unfinished"):
        layout.set_current("20260101T000000000000Z-aaaaaaaa")
    _finished(layout, "20260101T000000000000Z-aaaaaaaa")
    layout.set_current("20260101T000000000000Z-aaaaaaaa")
    assert layout.current() == "20260101T000000000000Z-aaaaaaaa"
    assert not (tmp_path / "current.tmp").exists()


def test_partial_directories_are_not_versions_and_are_removed(tmp_path: Path) -> None:
    layout = IndexLayout(tmp_path)
    layout.ensure()
    _finished(layout, "v1")
    partial = layout.partial_dir("v2")
    partial.mkdir()
    (partial / "store.sqlite").write_bytes(b"half")
    assert layout.versions() == ["v1"]
    assert layout.remove_partials() == ["v2.partial"]
    assert not partial.exists() and layout.versions() == ["v1"]
    with pytest.raises(IndexUnavailableError):
        layout.version_dir("v2.partial")


def test_prune_keeps_newest_current_and_versions_held_by_readers(tmp_path: Path) -> None:
    layout = IndexLayout(tmp_path)
    layout.ensure()
    for name in ("v1", "v2", "v3", "v4", "v5"):
        _finished(layout, name)
    layout.set_current("v1")  # e.g. rolled back: current is old but must survive
    held = ReaderLock(layout.version_dir("v2"))
    try:
        assert layout.prune(keep=2) == ["v3"]
        assert layout.versions() == ["v1", "v2", "v4", "v5"]
    finally:
        held.release()
    assert layout.prune(keep=2) == ["v2"]
    assert layout.versions() == ["v1", "v4", "v5"]


def test_reader_lock_in_another_process_blocks_pruning(tmp_path: Path) -> None:
    layout = IndexLayout(tmp_path)
    layout.ensure()
    for name in ("v1", "v2", "v3"):
        _finished(layout, name)
    layout.set_current("v3")
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from indexes.layout import ReaderLock
        lock = ReaderLock(Path({str(layout.version_dir('v1'))!r}))
        print("held", flush=True)
        sys.stdin.readline()
    """)
    reader = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=Path(__file__).resolve().parent.parent)
    try:
        assert reader.stdout.readline().strip() == "held"
        assert layout.prune(keep=1) == ["v2"]
    finally:
        reader.communicate("\n", timeout=30)
    assert layout.prune(keep=1) == ["v1"]


def test_manifest_format_is_checked(tmp_path: Path) -> None:
    layout = IndexLayout(tmp_path)
    layout.ensure()
    directory = _finished(layout, "v1")
    assert layout.read_manifest("v1")["version"] == "v1"
    write_manifest(directory, {"format_version": 999})
    with pytest.raises(IndexUnavailableError, match="format 999.*rebuild"):
        layout.read_manifest("v1")
    (directory / "manifest.json").write_text("{not json")
    with pytest.raises(IndexUnavailableError, match="unreadable"):
        layout.read_manifest("v1")
    with pytest.raises(IndexUnavailableError, match="not found"):
        layout.read_manifest("v9")


def test_check_files_names_missing_truncated_and_altered_files(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"0123456789")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.bin").write_bytes(b"abc")
    files = describe_files(tmp_path)
    assert set(files) == {"a.bin", "sub/b.bin"}
    check_files(tmp_path, files, checksums=True)
    (tmp_path / "a.bin").write_bytes(b"0123456788")  # same size, different content
    check_files(tmp_path, files, checksums=False)
    with pytest.raises(IndexUnavailableError, match="a.bin does not match its checksum"):
        check_files(tmp_path, files, checksums=True)
    (tmp_path / "a.bin").write_bytes(b"01234")
    with pytest.raises(IndexUnavailableError, match="a.bin has 5 bytes, the manifest says 10"):
        check_files(tmp_path, files, checksums=False)
    (tmp_path / "sub" / "b.bin").unlink()
    with pytest.raises(IndexUnavailableError, match="missing.*b.bin"):
        check_files(tmp_path, {"sub/b.bin": files["sub/b.bin"]}, checksums=False)


def test_second_build_lock_fails_clearly_and_lock_is_released(tmp_path: Path) -> None:
    lock_path = tmp_path / ".build.lock"
    with BuildLock(lock_path):
        with pytest.raises(BuildInProgressError, match=r"another index build is running .*pid \d+"):
            with BuildLock(lock_path):
                pass
    with BuildLock(lock_path):  # released on exit
        pass


def test_build_lock_of_a_killed_process_is_free(tmp_path: Path) -> None:
    lock_path = tmp_path / ".build.lock"
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from indexes.locking import BuildLock
        lock = BuildLock(Path({str(lock_path)!r})).__enter__()
        print("locked", flush=True)
        time.sleep(120)  # killed long before
    """)
    child = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).resolve().parent.parent,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline().strip()
        assert line == "locked", f"the child never took the lock: {child.stderr.read() if child.poll() is not None else ''}"
        # the child holds it: a second build is refused and told who holds it
        with pytest.raises(BuildInProgressError, match=f"pid {child.pid}"):
            with BuildLock(lock_path):
                pass
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()
    with BuildLock(lock_path):  # the kernel released the dead child's lock
        pass
