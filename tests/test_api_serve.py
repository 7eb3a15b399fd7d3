"""`ipqa serve --workers N`: one SO_REUSEPORT listening socket per worker, bound in the worker, and a
worker killed with SIGKILL neither hangs new connections nor stays dead (api/listeners.py, api/cli.py)."""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_fixtures import build_example_index, make_settings

from api.listeners import ReusePortListener, reserve_port, reuse_port_supported

REPO = Path(__file__).resolve().parent.parent

linux_reuseport = pytest.mark.skipif(not reuse_port_supported(), reason="needs Linux SO_REUSEPORT")


# --- /proc helpers (Linux): which process holds which listening socket ---------------------------

def _children(pid: int) -> set[int]:
    children: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        children.update(int(c) for c in text)
    return children


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the sockets in LISTEN state (0A) on ``port`` (IPv4)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and int(local.split(":")[1], 16) == port:
            inodes.add(inode)
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


def _listeners_by_pid(pids: set[int], port: int) -> dict[int, set[str]]:
    listening = _listening_inodes(port)
    return {pid: _socket_inodes(pid) & listening for pid in pids}


def _wait(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# --- the listener itself --------------------------------------------------------------------------

@linux_reuseport
def test_listener_pickles_as_a_fresh_reuseport_socket_and_the_kernel_spreads_connections() -> None:
    reservation = reserve_port("127.0.0.1", 0)
    port = reservation.getsockname()[1]
    listener = ReusePortListener("127.0.0.1", port)
    first, second = pickle.loads(pickle.dumps(listener)), pickle.loads(pickle.dumps(listener))
    clients: list[socket.socket] = []
    try:
        for sock in (first, second):
            assert sock.getsockname() == ("127.0.0.1", port)
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
            assert sock.proto == socket.IPPROTO_TCP  # so asyncio sets TCP_NODELAY on accepted sockets too
            sock.listen(64)
            sock.setblocking(False)
        clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(40)]

        def accept_all(sock: socket.socket) -> list[socket.socket]:
            accepted = []
            while True:
                try:
                    accepted.append(sock.accept()[0])
                except BlockingIOError:
                    return accepted

        time.sleep(0.1)
        on_first, on_second = accept_all(first), accept_all(second)
        # the reservation (bound, not listening) takes none; the kernel hashes across both listeners
        assert len(on_first) + len(on_second) == 40
        assert on_first and on_second
        assert all(c.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1 for c in on_first + on_second)
        for c in on_first + on_second:
            c.close()
        # a closed listener leaves the group: every new connection reaches the other one
        second.close()
        clients += [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(20)]
        time.sleep(0.1)
        assert len(accept_all(first)) == 20
    finally:
        for c in clients:
            c.close()
        first.close()
        second.close()
        reservation.close()


def test_listener_rejects_port_zero() -> None:
    with pytest.raises(ValueError, match="port must be 1..65535.*got 0"):
        ReusePortListener("127.0.0.1", 0)


# --- the real server -----------------------------------------------------------------------------

def _serve_command(port: int, workers: int) -> list[str]:
    return [sys.executable, "-m", "ipqa.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--log-level", "info"]


def _environment(settings: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPQA_")}
    env.update(IPQA_DATA_DIR=str(settings.data_dir), IPQA_EMBEDDER=settings.embedder, IPQA_EMBED_DEVICE="cpu",
               IPQA_GENERATOR="extractive", IPQA_SUPPORT_JUDGE="lexical", IPQA_RERANKER="none",
               IPQA_TORCH_THREADS="1", IPQA_API_THREADS="2", IPQA_SHARED_DATA=str(settings.shared_data),
               DO_NOT_TRACK="true", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def index_settings(tmp_path: Path, tiny_embedder_dir: Path, examples_dir: Path) -> Any:
    settings = make_settings(tmp_path / "var", tiny_embedder_dir, examples_dir)
    build_example_index(settings, examples_dir)
    return settings


@pytest.fixture()
def two_workers(index_settings: Any, tmp_path: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(_serve_command(port, 2), cwd=tmp_path, env=_environment(index_settings),
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        yield server, port
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=30)
        for pid in _children_or_empty(server.pid):
            os.kill(pid, signal.SIGKILL)
        log.close()


def _children_or_empty(pid: int) -> set[int]:
    try:
        return _children(pid)
    except OSError:
        return set()


def _search(port: int) -> httpx.Response:
    # a new connection each time: each one is hashed to a listening socket afresh
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        return client.post("/v1/search", json={"query": "知识产权保护部门 处理 专利侵权纠纷", "k": 3})


def _statuses(port: int, n: int, tmp_path: Path, phase: str) -> list[int]:
    statuses = []
    for i in range(n):
        try:
            statuses.append(_search(port).status_code)
        except httpx.HTTPError as exc:
            log = (tmp_path / "serve.log").read_text()
            raise AssertionError(f"request {i} {phase} failed: {exc!r}\nserver log:\n{log}") from exc
    return statuses


@linux_reuseport
@pytest.mark.slow
def test_two_workers_each_listen_and_survive_a_killed_worker(two_workers: tuple[subprocess.Popen, int],
                                                            tmp_path: Path) -> None:
    server, port = two_workers

    def both_listening() -> dict[int, set[str]] | None:
        if server.poll() is not None:
            raise AssertionError(f"server exited {server.returncode}: {(tmp_path / 'serve.log').read_text()}")
        # the parent's children are the workers plus multiprocessing's resource tracker
        owned = {pid: s for pid, s in _listeners_by_pid(_children(server.pid), port).items() if s}
        return owned if len(owned) == 2 and all(len(s) == 1 for s in owned.values()) else None

    owned = _wait(both_listening, 50, "two workers listening")
    # each worker has its own listening socket; the parent has none (its reservation never listens)
    assert len(set().union(*owned.values())) == 2
    assert not _listeners_by_pid({server.pid}, port)[server.pid]
    assert _statuses(port, 10, tmp_path, "before the kill") == [200] * 10

    victim = min(owned)
    os.kill(victim, signal.SIGKILL)
    # its socket closes with it: new connections go to the survivor at once, none hangs
    # (not "the process is a zombie": a multi-threaded leader turns Z before its last thread has
    # released the file table, and until then the kernel may still hash a connection to the socket)
    _wait(lambda: not owned[victim] & _listening_inodes(port), 10, "the killed worker's socket to close")
    started = time.monotonic()
    assert _statuses(port, 50, tmp_path, "after the kill") == [200] * 50
    assert time.monotonic() - started < 20

    # uvicorn's supervisor replaces the dead worker, which binds its own socket again
    owned_after = _wait(lambda: (o := both_listening()) and victim not in o and o, 50, "a replacement worker")
    assert len(set().union(*owned_after.values())) == 2
    assert _statuses(port, 10, tmp_path, "after the restart") == [200] * 10

    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
    assert not _children_or_empty(server.pid)


@linux_reuseport
def test_serve_refuses_a_port_already_taken(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPQA_")} | {"IPQA_DATA_DIR": str(tmp_path)}
    with socket.socket() as taken:  # no SO_REUSEPORT: the port cannot be shared
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run(_serve_command(port, 2), check=False, cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"cannot bind 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
