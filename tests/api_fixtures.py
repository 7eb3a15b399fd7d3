"""Helpers for the API tests: an index of ``examples/corpus`` built with the tiny test embedder in a
tmp data dir, and a REAL uvicorn server on a free port in a background thread."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import httpx

READ_KEY = "test-read-key"
WRITE_KEY = "test-write-key"
READ = {"Authorization": f"Bearer {READ_KEY}"}
WRITE = {"Authorization": f"Bearer {WRITE_KEY}"}


def make_settings(data_dir: Path, embedder_dir: Path, examples_dir: Path, **overrides: Any) -> Any:
    from ipqa.settings import Settings

    values: dict[str, Any] = dict(data_dir=data_dir, embedder=str(embedder_dir), embed_device="cpu",
                                  api_keys=[READ_KEY], write_api_keys=[WRITE_KEY], rebuild_sources=[examples_dir],
                                  generator="extractive", support_judge="lexical", reranker="none",
                                  ingest_jobs=1,
                                  # torch's thread count is process-wide: leave the test process's alone
                                  torch_threads=None)
    values.update(overrides)
    # model_validate, not the environment: tests must not depend on IPQA_* variables or a .env file
    return Settings.model_validate(values)


def build_example_index(settings: Any, examples_dir: Path) -> str:
    """Build the first index version the way `ipqa index rebuild` does; return its name."""
    from indexes.build import build_version
    from indexes.embedder import create_embedder
    from rag.compose import build_options

    embedder = create_embedder(settings.embedder, device="cpu")
    result = build_version(settings.index_root, [examples_dir], embedder=embedder,
                           options=build_options(settings))
    return result.version


class LiveServer:
    """uvicorn serving ``app`` on 127.0.0.1:<free port> in a thread (lifespan included)."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited by connections
        self._socket.bind(("127.0.0.1", 0))  # the kernel picks a free port; no race with other tests
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5))
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._socket]}, daemon=True)

    def __enter__(self) -> "LiveServer":
        self._thread.start()
        deadline = time.monotonic() + 120
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)
        self._socket.close()

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **kwargs)


def wait_for_job(client: httpx.Client, job_id: str, *, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        record = client.get(f"/v1/jobs/{job_id}").json()
        if record["state"] not in ("queued", "running"):
            return record
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} did not finish: {record}")
        time.sleep(0.1)


def serve(settings: Any, **app_kwargs: Any) -> Iterator[LiveServer]:
    from api.app import create_app

    with LiveServer(create_app(settings, **app_kwargs)) as server:
        yield server



def services_factory(settings: Any) -> Any:
    """The configured answering stages (hybrid retriever, extractive generator, lexical judge)."""
    from api.state import configured_services

    return configured_services(settings)


PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "instance"} <= body.keys()
    assert "Traceback" not in response.text
    return body


def sse_events(lines: Iterator[str]) -> list[tuple[str, dict]]:
    """(event name, JSON data) of a Server-Sent Events stream."""
    events, name, data = [], None, []
    for line in lines:
        if line.startswith("event: "):
            name = line[len("event: "):]
        elif line.startswith("data: "):
            data.append(line[len("data: "):])
        elif not line and name:
            events.append((name, json.loads("\n".join(data))))
            name, data = None, []
    return events
