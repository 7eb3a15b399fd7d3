"""The service that keeps an index root's current version open for a long-running process (the API).

:class:`IndexManager` reloads to a newer ``current`` by swapping a reference, closes the old snapshot
only when the last request using it has finished, and runs the build jobs of :mod:`indexes.build`
(which make new versions) before switching to their result.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

from indexes.build import BuildOptions, BuildProgress, BuildResult, add_documents, build_version, remove_documents
from indexes.layout import IndexLayout
from indexes.snapshot import Snapshot, open_snapshot
from ipqa.errors import IndexUnavailableError

if TYPE_CHECKING:
    from indexes.protocols import Embedder


class _Lease:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.users = 0
        self.retired = False


class IndexManager:
    """Holds the current snapshot of an index root; jobs make new versions and switch to them.

    ``with manager.acquire() as snapshot:`` pins a snapshot for one request; :meth:`reload` swaps in
    the version ``current`` points at, and the old snapshot is closed when its last user releases it.
    """

    def __init__(self, index_root: Path, *, embedder: "Embedder | None", options: BuildOptions | None = None,
                 verify_checksums: bool = True) -> None:
        self.index_root = Path(index_root)
        self.embedder = embedder
        self.options = options or BuildOptions()
        self.verify_checksums = verify_checksums
        self._lock = threading.Lock()  # guards the lease and its user count
        self._reload_lock = threading.Lock()  # one reload at a time (opening takes a while)
        self._lease: _Lease | None = None

    @property
    def layout(self) -> IndexLayout:
        return IndexLayout(self.index_root)

    @property
    def version(self) -> str | None:
        lease = self._lease
        return lease.snapshot.version if lease else None

    def current(self) -> Snapshot:
        """The snapshot now being served (opened on first use). Prefer :meth:`acquire` in servers."""
        lease = self._lease
        if lease is None:
            self.reload()
            lease = self._lease
        assert lease is not None
        return lease.snapshot

    @contextmanager
    def acquire(self) -> Iterator[Snapshot]:
        if self._lease is None:
            self.reload()
        with self._lock:
            lease = self._lease
            assert lease is not None
            lease.users += 1
        try:
            yield lease.snapshot
        finally:
            with self._lock:
                lease.users -= 1
                close = lease.retired and lease.users == 0
            if close:
                lease.snapshot.close()

    def reload(self) -> bool:
        """Switch to the version ``current`` points at; True when it changed.

        Opening happens outside the lease lock (it reads and checks files); a failure leaves the snapshot
        being served untouched and raises :class:`IndexUnavailableError`.
        """
        with self._reload_lock:
            return self._reload()

    def _reload(self) -> bool:
        target = self.layout.current()
        if target is None:
            raise IndexUnavailableError(
                f"no index at {self.index_root}: build one with `ipqa index rebuild --source PATH...`")
        if self._lease is not None and self._lease.snapshot.version == target:
            return False
        snapshot = open_snapshot(self.index_root, embedder=self.embedder, version=target,
                                 verify_checksums=self.verify_checksums)
        with self._lock:
            old, self._lease = self._lease, _Lease(snapshot)
            close_old = False
            if old is not None:
                old.retired = True
                close_old = old.users == 0
        if close_old and old is not None:
            old.snapshot.close()
        return True

    # --- jobs: build a new version, then serve it --------------------------------------------
    def build_version(self, sources: Sequence[str | Path], *, progress: BuildProgress | None = None,
                      ) -> BuildResult:
        result = build_version(self.index_root, sources, embedder=self._require_embedder(), options=self.options,
                               progress=progress)
        self.reload()
        return result

    def add(self, paths: Sequence[str | Path], *, progress: BuildProgress | None = None) -> BuildResult:
        result = add_documents(self.index_root, paths, embedder=self._require_embedder(), options=self.options,
                               progress=progress)
        self.reload()
        return result

    def remove(self, document_ids: Sequence[str], *, progress: BuildProgress | None = None) -> BuildResult:
        result = remove_documents(self.index_root, document_ids, embedder=self._require_embedder(),
                                  options=self.options, progress=progress)
        self.reload()
        return result

    def _require_embedder(self) -> "Embedder":
        if self.embedder is None:
            raise IndexUnavailableError("building an index needs an embedder; this IndexManager has none")
        return self.embedder

    def close(self) -> None:
        with self._lock:
            lease, self._lease = self._lease, None
            if lease is None:
                return
            lease.retired = True
            close = lease.users == 0
        if close:
            lease.snapshot.close()
