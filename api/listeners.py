"""Listening sockets for ``ipqa serve --workers N``: one ``SO_REUSEPORT`` socket per worker.

Why not uvicorn's default (one socket bound by the parent, shared by every worker): the kernel does
not balance a shared socket. asyncio's accept loop takes every pending connection when it wakes, so
with 8 or 32 keep-alive clients one worker held nearly all of them while the other idled (measured
with ``ss -tnp``; docs/benchmarks.md). With ``SO_REUSEPORT`` each worker listens on its own socket
bound to the same address, and the kernel hashes each new connection to one of the listening sockets.

Each socket is bound *in its worker* and never exists in the parent, so it lives and dies with that
worker: when a worker dies the kernel closes its socket and stops hashing connections to it (those
already queued on it are reset, not left hanging), and uvicorn's supervisor starts a replacement,
which binds a fresh socket. uvicorn only calls ``listen()`` after the app's lifespan startup (index
and models loaded), so a replacement receives connections only once it can answer them.

The socket reaches the worker through uvicorn's own machinery: ``uvicorn.supervisors.Multiprocess``
passes its ``sockets`` to each spawned worker by pickling them, and a :class:`ReusePortListener`
pickles as "bind a new socket" rather than as a duplicated file descriptor.
"""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass

# uvicorn's exit status for "failed before serving": its supervisor then stops instead of
# restarting a worker that would fail the same way forever (uvicorn.config.STARTUP_FAILURE).
STARTUP_FAILURE = 3


def reuse_port_supported() -> bool:
    """Whether this platform can give several sockets the same port (Linux ≥ 3.9, BSDs, macOS).

    Only Linux balances connections across them; elsewhere the newest socket may take them all,
    so callers fall back to one shared socket there.
    """
    if not sys.platform.startswith("linux") or not hasattr(socket, "SO_REUSEPORT"):
        return False
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    except OSError:  # e.g. a kernel or sandbox without it
        return False
    return True


def address_family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def tcp_socket(host: str, *, reuse_port: bool) -> socket.socket:
    """An unbound TCP socket with TCP_NODELAY (Linux passes it on to accepted connections).

    Created with an explicit ``IPPROTO_TCP`` protocol so that asyncio also sets TCP_NODELAY on each
    accepted connection itself: it only does so for sockets whose ``proto`` says TCP. Without it
    every small response would wait for the client's delayed ACK (~40 ms).
    """
    sock = socket.socket(address_family(host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except BaseException:
        sock.close()
        raise
    return sock


def reserve_port(host: str, port: int) -> socket.socket:
    """Bind (without listening) a ``SO_REUSEPORT`` socket on ``host:port`` in the parent process.

    It checks, before any worker starts, that the address can be bound (a clear error instead of
    workers failing one by one), turns port 0 into a concrete port all workers share, and keeps the
    port ours while every worker is down (e.g. between a crash and the restart). A socket that is
    bound but not listening receives no connections, so it does not take any from the workers.
    """
    sock = tcp_socket(host, reuse_port=True)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot bind {host}:{port}: {exc.strerror}") from exc
    return sock


@dataclass(frozen=True)
class ReusePortListener:
    """What a worker's listening socket should be: pickles as an instruction to bind one there."""

    host: str
    port: int

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port must be 1..65535 (a concrete port all workers share), got {self.port}")

    def __reduce__(self) -> tuple[object, tuple[str, int]]:
        # Unpickling (in the worker) binds a new socket; the parent never holds a listening copy.
        return bind_worker_socket, (self.host, self.port)


def bind_worker_socket(host: str, port: int) -> socket.socket:
    """Bind this worker's own ``SO_REUSEPORT`` socket; uvicorn listens on it after startup."""
    try:
        sock = tcp_socket(host, reuse_port=True)
        sock.bind((host, port))
    except OSError as exc:
        print(f"ipqa serve: worker cannot bind {host}:{port}: {exc}", file=sys.stderr, flush=True)
        sys.exit(STARTUP_FAILURE)
    return sock
