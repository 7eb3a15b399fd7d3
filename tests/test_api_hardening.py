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


# --- 3b. an as_of date that cannot be read, or lies in the future, is a 422 naming the field ---------------

@pytest.mark.parametrize("path", ["/v1/search", "/v1/ask"])
@pytest.mark.parametrize("as_of, problem", [("2015-02-30", "not a date"), ("2015-13-01", "pattern"),
                                            ("June 2015", "pattern"), ("2999-01-01", "in the future")])
def test_a_bad_as_of_date_is_422(reader: httpx.Client, path: str, as_of: str, problem: str) -> None:
    field = "query" if path == "/v1/search" else "question"
    detail = assert_problem(reader.post(path, json={field: "专利", "as_of": as_of}), 422)["detail"]
    assert "as_of" in detail and problem in detail


@pytest.mark.parametrize("path", ["/v1/search", "/v1/ask"])
def test_a_past_as_of_date_is_served(reader: httpx.Client, path: str) -> None:
    field = "query" if path == "/v1/search" else "question"
    assert reader.post(path, json={field: "专利", "as_of": "2015-06-01"}).status_code == 200


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


# --- writes: zip bombs, copies of indexed documents, interrupted and never-indexed uploads -------------

@pytest.fixture(scope="module")
def write_settings(tmp_path_factory: pytest.TempPathFactory, tiny_embedder_dir: Path, examples_dir: Path) -> Any:
    settings = make_settings(tmp_path_factory.mktemp("api-hardening-writes") / "data", tiny_embedder_dir,
                             examples_dir)
    build_example_index(settings, examples_dir)
    return settings


@pytest.fixture(scope="module")
def write_server(write_settings: Any) -> Iterator[LiveServer]:
    yield from serve(write_settings, services_factory=services_factory(write_settings), watch_interval_s=0.2)


@pytest.fixture()
def writer(write_server: LiveServer) -> Iterator[httpx.Client]:
    with write_server.client(headers=WRITE) as c:
        yield c


def _upload_dirs(settings: Any) -> list[Path]:
    return [p for p in settings.uploads_dir.iterdir() if p.is_dir() and not p.name.startswith(".")] \
        if settings.uploads_dir.is_dir() else []


def _wait_for_title(client: httpx.Client, title: str, timeout: float = 30) -> str:
    """The id of the served document called ``title``, once the service serves one."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        items = client.get("/v1/documents", params={"title": title}).json()["items"]
        if items:
            return items[0]["id"]
        assert time.monotonic() < deadline, f"no document {title!r} is served"
        time.sleep(0.2)


def test_docx_bomb_upload_is_a_file_error_and_not_kept(writer: httpx.Client, write_settings: Any) -> None:
    from test_ingest_hardening import _docx_bytes
    from api_fixtures import wait_for_job

    before = writer.get("/readyz").json()["index_version"]
    accepted = writer.post("/v1/documents", files=[("files", ("bomb.docx", _docx_bytes(60_000)))])
    assert accepted.status_code == 202, accepted.text
    job = wait_for_job(writer, accepted.json()["job_id"])
    assert job["state"] == "succeeded" and [e["path"] for e in job["errors"]] == ["bomb.docx"], job
    assert "decompression bomb" in job["errors"][0]["error"]
    assert str(write_settings.data_dir) not in str(job)
    assert job["result"]["version"] == before  # nothing was added: no new version
    assert not list(write_settings.uploads_dir.rglob("bomb.docx"))


def test_upload_of_an_indexed_document_under_another_name_is_reported_and_survives_rebuilds(
        writer: httpx.Client, write_settings: Any, tmp_path: Path) -> None:
    from api_fixtures import wait_for_job
    from indexes.build import add_documents
    from indexes.embedder import create_embedder
    from rag.compose import build_options

    # a document added from outside the rebuild sources (as `ipqa index add` does); a statute's
    # title comes from its heading, so a copy under another file name is the same document
    outside = tmp_path / "示例著作权登记办法.md"
    outside.write_text("# 示例著作权登记办法\n\n<!-- INFO END -->\n\n"
                       "第一条 作品登记实行自愿原则，登记机关应当在三十日内作出决定。\n", encoding="utf-8")
    added = add_documents(write_settings.index_root, [outside],
                          embedder=create_embedder(write_settings.embedder, device="cpu"),
                          options=build_options(write_settings))
    assert added.changed and not added.errors, added.errors
    document_id = _wait_for_title(writer, outside.stem)  # the service's watcher reloads

    version = writer.get("/readyz").json()["index_version"]
    accepted = writer.post("/v1/documents", files=[("files", ("登记办法-副本.md", outside.read_bytes()))])
    job = wait_for_job(writer, accepted.json()["job_id"])
    assert job["state"] == "succeeded" and job["errors"] == [], job
    [entry] = job["result"]["documents_added"]
    assert entry["document_ids"] == [document_id] and entry["already_indexed_as"] == [document_id]
    assert f"already indexed as {document_id}" in entry["note"]
    assert job["result"]["version"] == version  # no change, no version
    assert len(_upload_dirs(write_settings)) == 1  # kept: the rebuild below needs it

    rebuild = writer.post("/v1/index/rebuild")
    assert wait_for_job(writer, rebuild.json()["job_id"])["state"] == "succeeded"
    titles = [d["title"] for d in writer.get("/v1/documents", params={"limit": 100}).json()["items"]]
    assert outside.stem in titles

    deleted = writer.delete(f"/v1/documents/{_wait_for_title(writer, outside.stem)}")
    assert wait_for_job(writer, deleted.json()["job_id"])["state"] == "succeeded"
    assert _upload_dirs(write_settings) == []  # the kept copy goes with the document


def test_an_upload_never_indexed_can_be_deleted_by_its_sha256(writer: httpx.Client, write_settings: Any) -> None:
    import hashlib
    import json

    from api_fixtures import wait_for_job

    content = b"a file that no job ever indexed"
    sha = hashlib.sha256(content).hexdigest()
    upload_dir = write_settings.uploads_dir / sha[:32]
    upload_dir.mkdir(parents=True)
    (upload_dir / "orphan.txt").write_bytes(content)
    (upload_dir / ".upload.json").write_text(json.dumps({"original_name": "orphan.txt", "sha256": sha,
                                                         "state": "indexed"}), encoding="utf-8")
    response = writer.delete(f"/v1/documents/{sha}")
    assert response.status_code == 202, response.text
    job = wait_for_job(writer, response.json()["job_id"])
    assert job["state"] == "succeeded" and job["result"]["upload_removed"] == "orphan.txt", job
    assert not upload_dir.exists()
    assert_problem(writer.delete(f"/v1/documents/{sha}"), 404)


def test_uploads_of_an_interrupted_job_are_removed_at_startup(tmp_path: Path, tiny_embedder_dir: Path,
                                                              examples_dir: Path) -> None:
    import json

    from fastapi.testclient import TestClient

    from api.app import create_app

    import os
    import time

    settings = make_settings(tmp_path / "data", tiny_embedder_dir, examples_dir)
    for name, state in (("a" * 32, "pending"), ("b" * 32, "indexed"), ("c" * 32, "pending")):
        upload_dir = settings.uploads_dir / name
        upload_dir.mkdir(parents=True)
        (upload_dir / f"{state}.md").write_text("# x\n\n第一条 内容。\n", encoding="utf-8")
        (upload_dir / ".upload.json").write_text(json.dumps({"original_name": f"{state}.md", "state": state}),
                                                 encoding="utf-8")
        if name != "c" * 32:  # c: stored a moment ago, its job may be starting in another worker
            old = time.time() - 3600
            os.utime(upload_dir / ".upload.json", (old, old))
    app = create_app(settings, services_factory=lambda snapshot: None, watch_interval_s=0)
    with TestClient(app, raise_server_exceptions=False):
        pass
    # the old pending one was never accepted: gone; the fresh one stays, and no rebuild reads it
    assert sorted(p.name for p in _upload_dirs(settings)) == ["b" * 32, "c" * 32]
    from api.uploads import accepted_uploads

    assert [p.parent.name for p in accepted_uploads(settings.uploads_dir)] == ["b" * 32]


# --- 9. a file over the per-file limit is refused while it streams ---------------------------------------

def test_an_oversized_file_is_refused_as_it_crosses_the_limit() -> None:
    import asyncio

    from api.body_limit import BodyLimitMiddleware

    file_limit, chunk, total = 1024 * 1024, 256 * 1024, 200 * 1024 * 1024
    reached: list[bool] = []

    async def app(scope, receive, send) -> None:  # what FastAPI would do: read the whole body
        while (await receive()).get("more_body"):
            pass
        reached.append(True)
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    boundary = b"XyZ"
    head = (b"--XyZ\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.txt\"\r\n"
            b"Content-Type: text/plain\r\n\r\n")
    pulled = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal pulled
        body = head if pulled == 0 else b"x" * chunk
        pulled += len(body)
        return {"type": "http.request", "body": body, "more_body": pulled < total}

    async def send(message: dict) -> None:
        sent.append(message)

    # 20 files of 1 MiB may be sent together, so the request limit alone would let 200 MB in
    middleware = BodyLimitMiddleware(app, default_limit=1024, limits={("POST", "/v1/documents"): 21 * file_limit},
                                     part_limits={("POST", "/v1/documents"): file_limit})
    scope = {"type": "http", "method": "POST", "path": "/v1/documents",
             "headers": [(b"content-type", b"multipart/form-data; boundary=" + boundary)]}
    asyncio.run(middleware(scope, receive, send))
    assert sent[0]["status"] == 413 and b"per file" in sent[1]["body"] and not reached
    assert pulled < file_limit + 17 * 1024 * 1024  # the limit, one message, and the bounded drain


# --- 10. the OpenAPI document says what the service does ------------------------------------------------

def test_openapi_documents_auth_problems_events_and_bounds(reader: httpx.Client) -> None:
    spec = reader.get("/openapi.json").json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if operation.get("security"):
                assert "401" in responses, (method, path)
            if "openai" in operation.get("tags", ()):
                continue  # OpenAI's own error shape (tests/test_openai_compat.py)
            for code, response in responses.items():
                if code == "default" or int(code) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (method, path, code)
    rebuild = spec["paths"]["/v1/index/rebuild"]["post"]["responses"]
    assert {"401", "403", "404", "409", "422"} <= rebuild.keys()
    assert {"401", "403", "404", "409"} <= spec["paths"]["/v1/documents/{document_id}"]["delete"]["responses"].keys()
    events = spec["paths"]["/v1/ask"]["post"]["responses"]["200"]["content"]["text/event-stream"]["schema"]
    assert {e["properties"]["event"]["const"] for e in events["oneOf"]} == {"token", "answer", "error"}
    upload = next(s for n, s in spec["components"]["schemas"].items() if n.startswith("Body_upload"))
    assert upload["properties"]["files"]["minItems"] == 1 and upload["properties"]["files"]["maxItems"] == 20
    assert "Not an upper bound" in spec["components"]["schemas"]["SearchRequest"]["properties"]["k"]["description"]


def test_stream_must_be_a_boolean(reader: httpx.Client) -> None:
    for value in (0, 1, "true", None):
        assert_problem(reader.post("/v1/ask", json={"question": "专利", "stream": value}), 422)


def test_allow_names_every_method_of_the_path(anonymous: httpx.Client) -> None:
    options = anonymous.options("/v1/documents")
    assert options.status_code == 204
    assert {"GET", "POST", "OPTIONS"} <= set(options.headers["allow"].replace(" ", "").split(","))
    refused = anonymous.put("/v1/documents/d123")
    assert_problem(refused, 405)
    assert set(refused.headers["allow"].replace(" ", "").split(",")) == {"DELETE", "OPTIONS"}


def test_a_name_without_extension_takes_its_type_from_the_content_type() -> None:
    from api.errors import ProblemError
    from api.uploads import checked_filename

    allowed = frozenset({".txt", ".md"})
    assert checked_filename("brief", allowed_extensions=allowed, content_type="text/plain; charset=utf-8") == "brief.txt"
    with pytest.raises(ProblemError) as caught:
        checked_filename("tool.exe", allowed_extensions=allowed, content_type="text/plain")
    assert caught.value.status == 415


def test_a_failed_add_job_removes_only_its_new_uploads(tmp_path: Path) -> None:
    import json
    from types import SimpleNamespace

    from api.index_jobs import add_job
    from ipqa.errors import IpqaError

    uploads = tmp_path / "uploads"
    paths = []
    for name, state in (("a" * 32, "pending"), ("b" * 32, "indexed")):
        (uploads / name).mkdir(parents=True)
        (uploads / name / f"{state}.md").write_text("x", encoding="utf-8")
        (uploads / name / ".upload.json").write_text(json.dumps({"state": state}), encoding="utf-8")
        paths.append(uploads / name / f"{state}.md")

    class FailingManager:
        def add(self, paths, progress=None):
            raise IpqaError("the build failed")

    state = SimpleNamespace(manager=FailingManager(), uploads_dir=uploads)
    with pytest.raises(IpqaError):
        add_job(state, paths)(None)
    assert [p.exists() for p in paths] == [False, True]  # the new one gone, the accepted one kept


@pytest.mark.parametrize("url", ["/v1/documents?title=%ED%A0%80", "/v1/citations/resolve?q=%ED%A0%80",
                                 "/v1/chunks/%ED%A0%80", "/v1/documents?title=%FF%FE", "/v1/jobs/%ED%A0%80"])
def test_undecodable_bytes_in_the_url_are_never_a_500(reader: httpx.Client, url: str) -> None:
    response = reader.get(url)
    assert response.status_code < 500, response.text
