"""Regression tests for the API defects of issue 15 (hardening), each against a REAL uvicorn server
or the app in process: lone surrogates, read keys, server paths in errors, the OpenAPI contract,
uploads that are too big, zip bombs, duplicate and interrupted uploads."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from api_fixtures import (
    READ,
    WRITE,
    LiveServer,
    assert_problem,
    build_example_index,
    make_settings,
    serve,
    services_factory,
)

SURROGATE_BODIES = [
    ("/v1/search", '{"query": "专利", "filters": {"titles": ["\\ud800"]}}'),
    ("/v1/search", '{"query": "专利", "filters": {"document_ids": ["d\\udfff"]}}'),
    ("/v1/ask", '{"question": "专利", "filters": {"titles": ["\\ud800"]}}'),
    ("/v1/ask", '{"question": "专利", "stream": true, "filters": {"document_ids": ["\\ud800"]}}'),
    ("/v1/search", '{"query": "专利\\ud800"}'),
]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, tiny_embedder_dir: Path, examples_dir: Path) -> Any:
    settings = make_settings(tmp_path_factory.mktemp("api-hardening"), tiny_embedder_dir, examples_dir)
    build_example_index(settings, examples_dir)
    return settings


@pytest.fixture(scope="module")
def server(settings: Any) -> Iterator[LiveServer]:
    yield from serve(settings, services_factory=services_factory(settings))


@pytest.fixture()
def reader(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client(headers=READ) as c:
        yield c


@pytest.fixture()
def anonymous(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


# --- 3. a lone surrogate is a 422, not a 500 ----------------------------------------------------------

@pytest.mark.parametrize("path, body", SURROGATE_BODIES)
def test_lone_surrogate_in_a_request_is_422(reader: httpx.Client, path: str, body: str) -> None:
    response = reader.post(path, content=body.encode(), headers={"Content-Type": "application/json"})
    problem = assert_problem(response, 422)
    assert "surrogate" in problem["detail"] or "unicode" in problem["detail"]


# --- 4. configured read keys close the read endpoints ---------------------------------------------------

def test_read_keys_close_reads_and_readyz_tells_strangers_only_readiness(anonymous: httpx.Client,
                                                                          reader: httpx.Client) -> None:
    for response in (anonymous.post("/v1/search", json={"query": "专利"}),
                     anonymous.post("/v1/ask", json={"question": "专利"}),
                     anonymous.get("/v1/documents"),
                     anonymous.post("/v1/search", json={"query": "专利"}, headers={"Authorization": "Bearer x"})):
        assert_problem(response, 401)
    assert reader.post("/v1/search", json={"query": "专利"}).status_code == 200
    assert anonymous.get("/readyz").json() == {"ready": True}
    facts = reader.get("/readyz").json()
    assert facts["ready"] is True and facts["index_version"] and facts["chunks"] == 45 and facts["generator"]


def test_reads_stay_open_without_read_keys(tmp_path: Path, tiny_embedder_dir: Path, examples_dir: Path) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    settings = make_settings(tmp_path, tiny_embedder_dir, examples_dir, api_keys=[])
    app = create_app(settings, services_factory=lambda snapshot: None, watch_interval_s=0)
    with TestClient(app, raise_server_exceptions=False) as client:
        # no index: 503 rather than 401 shows the read was let through
        assert_problem(client.post("/v1/search", json={"query": "专利"}), 503)
        assert_problem(client.post("/v1/index/rebuild"), 401)  # writes still need a write key


# --- 7. no server paths in what clients are told ---------------------------------------------------------

def test_errors_name_no_server_paths(tmp_path: Path, tiny_embedder_dir: Path, examples_dir: Path) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from indexes.locking import BuildLock

    data = tmp_path / "secret-server-dir"
    settings = make_settings(data, tiny_embedder_dir, examples_dir)
    app = create_app(settings, services_factory=lambda snapshot: None, watch_interval_s=0)
    with TestClient(app, raise_server_exceptions=False, headers=WRITE) as client:
        unavailable = client.post("/v1/search", json={"query": "专利"})
        assert_problem(unavailable, 503)
        assert "secret-server-dir" not in unavailable.text and str(tmp_path) not in unavailable.text
        with BuildLock(app.state.ipqa.manager.layout.lock_file):
            busy = client.post("/v1/index/rebuild")
        assert_problem(busy, 409)
        assert "secret-server-dir" not in busy.text


def test_a_failed_job_names_no_server_path(tmp_path: Path) -> None:
    from api.jobs import JobRunner
    from ipqa.errors import IndexUnavailableError

    secret = tmp_path / "srv" / "ipqa" / "var" / "index"

    def work(progress: Any) -> Any:
        raise IndexUnavailableError(f"no index at {secret}: build one with `ipqa index rebuild --source PATH...`")

    runner = JobRunner(tmp_path / "jobs")
    record = runner.submit("rebuild", {}, work)
    runner.wait(timeout=30)
    error = runner.get(record["id"])["error"]
    assert error.startswith("no index at ") and str(secret) not in error and "srv/ipqa" not in error


def test_redaction_keeps_urls_and_words() -> None:
    from api.redact import without_server_paths

    assert without_server_paths("another build is running on /srv/x/index (pid 3)") == \
        "another build is running on <server path> (pid 3)"
    kept = "http://127.0.0.1:9/v1/chat/completions: HTTP 500; and/or 专利法/商标法"
    assert without_server_paths(kept) == kept
