"""One build at a time per index root: an exclusive, non-blocking ``flock`` on ``.build.lock``.

flock is released by the kernel when the holder dies (even by SIGKILL), so a killed build never
leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from datetime import datetime, timezone
from pathlib import Path

from ipqa.errors import IpqaError


class BuildInProgressError(IpqaError):
    """Another build holds the index root's build lock."""


class BuildLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> "BuildLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "unknown process"
            os.close(fd)
            raise BuildInProgressError(
                f"another index build is running on {self.path.parent} ({holder}); "
                "wait for it to finish or stop it") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}, started {datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ}".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None


def lock_is_held(path: Path, *, exclusive: bool) -> bool:
    """True while another process holds a lock on ``path`` that conflicts with the probe: a shared
    probe is blocked by a writer's exclusive lock, an exclusive probe by any reader's shared lock.
    The probe is released at once and never blocks."""
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def build_running(path: Path) -> bool:
    """True while some process holds the build lock at ``path`` (without taking it)."""
    return lock_is_held(path, exclusive=False)
