"""The on-disk layout of an index root: versions, the manifest, the atomic ``current`` pointer.

::

    <index_root>/
        current                      # text file: the name of the version readers open
        .build.lock                  # flock'd by the one build allowed at a time
        cache/                       # embeddings (and token) caches, shared by all versions
        versions/
            20261121T053000Z-1a2b3c4d/          # a finished, verified version
                manifest.json  store.sqlite  bm25/  dense/  .readers.lock
            20261121T060000Z-5e6f7a8b.partial/  # a build in progress (or one that was killed)

A build writes into ``<v>.partial/``, verifies it, renames it to ``<v>/`` and only then switches
``current`` (``current.tmp`` + ``os.replace``, which is atomic on POSIX). A reader therefore only ever
sees a finished version, and a killed build leaves nothing but a ``.partial`` directory that the next
build removes.

Readers hold a shared ``flock`` on ``<v>/.readers.lock`` while a version is open; pruning takes the
lock exclusively without blocking and skips every version someone still holds.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from indexes.locking import lock_is_held
from ipqa.errors import IndexUnavailableError

if TYPE_CHECKING:
    from indexes.protocols import Embedder

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PARTIAL_SUFFIX = ".partial"
READERS_LOCK = ".readers.lock"
# the files of one version (the writer in indexes.build and the reader in indexes.snapshot agree on them here)
STORE_FILE = "store.sqlite"
BM25_DIR = "bm25"
DENSE_DIR = "dense"


def sha256_file(path: Path, *, block: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


def describe_files(directory: Path) -> dict[str, dict[str, Any]]:
    """Size and sha256 of every file under ``directory`` except the manifest and lock files."""
    files: dict[str, dict[str, Any]] = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = path.relative_to(directory).as_posix()
        if rel in (MANIFEST, READERS_LOCK):
            continue
        files[rel] = {"size": path.stat().st_size, "sha256": sha256_file(path)}
    return files


def check_files(directory: Path, files: Mapping[str, Mapping[str, Any]], *, checksums: bool) -> None:
    """Raise :class:`IndexUnavailableError` naming the first missing, truncated or altered file."""
    for rel, expected in files.items():
        path = directory / rel
        if not path.is_file():
            raise IndexUnavailableError(f"index file missing: {path} (rebuild with `ipqa index rebuild`)")
        size = path.stat().st_size
        if size != expected["size"]:
            raise IndexUnavailableError(
                f"index file {path} has {size} bytes, the manifest says {expected['size']}: it is corrupt "
                "(rebuild with `ipqa index rebuild`)")
        if checksums and sha256_file(path) != expected["sha256"]:
            raise IndexUnavailableError(
                f"index file {path} does not match its checksum: it is corrupt (rebuild with `ipqa index rebuild`)")


def new_version_name(seed: str, *, now: datetime | None = None) -> str:
    """``<UTC timestamp>-<short hash>``: sorts by time; the hash keeps two builds in a second apart."""
    now = now or datetime.now(timezone.utc)
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{hashlib.sha256((seed + stamp).encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class IndexLayout:
    root: Path

    @property
    def versions_dir(self) -> Path:
        return self.root / "versions"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def current_file(self) -> Path:
        return self.root / "current"

    @property
    def lock_file(self) -> Path:
        return self.root / ".build.lock"

    def version_dir(self, version: str) -> Path:
        if not version or "/" in version or version.startswith(".") or version.endswith(PARTIAL_SUFFIX):
            raise IndexUnavailableError(f"not an index version name: {version!r}")
        return self.versions_dir / version

    def partial_dir(self, version: str) -> Path:
        return self.versions_dir / (version + PARTIAL_SUFFIX)

    def ensure(self) -> None:
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        self.cache_dir.mkdir(parents=True, exist_ok=True)

    # --- the current pointer -----------------------------------------------------------------
    def current(self) -> str | None:
        try:
            name = self.current_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name or None

    def set_current(self, version: str) -> None:
        """Point readers at ``version`` atomically (the version must be finished)."""
        if not (self.version_dir(version) / MANIFEST).is_file():
            raise IndexUnavailableError(f"cannot switch to unfinished version {version!r}")
        tmp = self.root / "current.tmp"
        with tmp.open("w", encoding="utf-8") as f:
            f.write(version + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.current_file)
        _fsync_dir(self.root)

    # --- versions ----------------------------------------------------------------------------
    def versions(self) -> list[str]:
        """Finished versions, oldest first."""
        if not self.versions_dir.is_dir():
            return []
        return sorted(p.name for p in self.versions_dir.iterdir()
                      if p.is_dir() and not p.name.endswith(PARTIAL_SUFFIX) and (p / MANIFEST).is_file())

    def partials(self) -> list[Path]:
        if not self.versions_dir.is_dir():
            return []
        return sorted(p for p in self.versions_dir.iterdir() if p.name.endswith(PARTIAL_SUFFIX))

    def remove_partials(self) -> list[str]:
        """Delete what killed builds left behind. Call only while holding the build lock."""
        removed = []
        for path in self.partials():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
        return removed

    def read_manifest(self, version: str) -> dict[str, Any]:
        path = self.version_dir(version) / MANIFEST
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise IndexUnavailableError(f"index version {version!r} not found at {path.parent}") from None
        except (OSError, ValueError) as exc:
            raise IndexUnavailableError(f"index manifest {path} is unreadable: {exc}") from None
        if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
            raise IndexUnavailableError(
                f"index manifest {path} has format {manifest.get('format_version') if isinstance(manifest, dict) else '?'}, "
                f"this ipqa reads format {FORMAT_VERSION}: rebuild with `ipqa index rebuild`")
        return manifest

    def prune(self, keep: int) -> list[str]:
        """Delete old versions beyond the newest ``keep``; never the current one nor one a reader holds.

        Call while holding the build lock (so no build is renaming into ``versions/``).
        """
        current = self.current()
        versions = self.versions()
        keep_set = set(versions[-keep:]) if keep > 0 else set()
        removed = []
        for version in versions:
            if version in keep_set or version == current:
                continue
            directory = self.version_dir(version)
            if _held_by_reader(directory):
                continue
            # Rename first so a half-deleted version can never look finished.
            trash = self.versions_dir / f".trash-{version}"
            os.replace(directory, trash)
            shutil.rmtree(trash, ignore_errors=True)
            removed.append(version)
        for leftover in self.versions_dir.glob(".trash-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        return removed


def write_manifest(directory: Path, manifest: Mapping[str, Any]) -> None:
    tmp = directory / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, directory / MANIFEST)


def fsync_tree(directory: Path) -> None:
    """Flush a finished version to disk before ``current`` may point at it."""
    for path in directory.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ReaderLock:
    """A shared flock on a version's ``.readers.lock``: held while a snapshot of it is open."""

    def __init__(self, version_dir: Path) -> None:
        self._fd: int | None
        try:
            # The build creates the file; O_CREAT only matters for versions copied in by hand.
            self._fd = os.open(version_dir / READERS_LOCK, os.O_RDONLY | os.O_CREAT, 0o644)
        except OSError:
            self._fd = None  # a read-only copy of an index: nobody can prune it anyway
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_SH)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None


def _held_by_reader(version_dir: Path) -> bool:
    return lock_is_held(version_dir / READERS_LOCK, exclusive=True)


def check_embedder(manifest: Mapping[str, Any], embedder: "Embedder | None") -> None:
    """Refuse an index built by another embedder than the configured one."""
    if embedder is None:
        return
    built = manifest.get("embedder") or {}
    if built.get("name") != embedder.name or int(built.get("dimension", -1)) != int(embedder.dimension):
        raise IndexUnavailableError(
            f"index {manifest.get('version')} was built with embedder {built.get('name')!r} "
            f"(dimension {built.get('dimension')}), but the configured embedder is {embedder.name!r} "
            f"(dimension {embedder.dimension}): rebuild it with `ipqa index rebuild --source PATH...`")
