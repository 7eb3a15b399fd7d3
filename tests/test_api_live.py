"""The REST API on a REAL uvicorn server over an index of examples/corpus: every read endpoint,
problem details, auth, streaming. (Writes: tests/test_api_writes.py; fuzzing: test_api_schemathesis.py.)"""

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
    sse_events,
)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, tiny_embedder_dir: Path, examples_dir: Path) -> Any:
    settings = make_settings(tmp_path_factory.mktemp("api-live"), tiny_embedder_dir, examples_dir)
    build_example_index(settings, examples_dir)
    return settings


@pytest.fixture(scope="module")
def server(settings: Any) -> Iterator[LiveServer]:
    yield from serve(settings, services_factory=services_factory(settings))


@pytest.fixture()
def client(server: LiveServer) -> Iterator[httpx.Client]:
    # read keys are configured, so reads need one (tests/test_api_hardening.py checks that)
    with server.client(headers=READ) as c:
        yield c


@pytest.fixture()
def anonymous(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


# --- health -------------------------------------------------------------------------------------

def test_health_and_readiness(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True and body["index_version"] and body["chunks"] == 45 and body["documents"] == 4
    assert body["generator"] == "extractive"


def test_openapi_and_docs(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/v1/ask", "/v1/search", "/v1/chunks/{chunk_id}", "/v1/citations/resolve", "/v1/documents",
                 "/v1/documents/{document_id}", "/v1/index/rebuild", "/v1/jobs/{job_id}", "/healthz", "/readyz"):
        assert path in spec["paths"], path
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


# --- search ----------------------------------------------------------------------------------------

def test_search_returns_hits_with_citations_and_documents(client: httpx.Client) -> None:
    response = client.post("/v1/search", json={"query": "知识产权保护部门 处理 专利侵权纠纷", "k": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert 1 <= len(body["hits"]) <= 5
    assert [h["rank"] for h in body["hits"]] == list(range(1, len(body["hits"]) + 1))
    top = body["hits"][0]
    assert top["citation"] and top["text"] and top["chunk_id"].startswith("c")
    assert top["document_id"] in body["documents"]
    assert any(h["citation"] == "示例知识产权保护条例 第八条" for h in body["hits"])
    assert body["index_version"] and body["timings"]["total_ms"] >= 0
    # documents are shown by file name, never by server path
    assert all("/" not in d["metadata"]["file"] for d in body["documents"].values())


def test_search_filters_apply_inside_the_index(client: httpx.Client) -> None:
    body = client.post("/v1/search", json={"query": "filter patent scraper flush valve", "k": 10,
                                           "filters": {"kinds": ["patent"]}}).json()
    assert body["hits"], body
    kinds = {body["documents"][h["document_id"]]["kind"] for h in body["hits"]}
    assert kinds == {"patent"}
    none = client.post("/v1/search", json={"query": "专利", "filters": {"jurisdictions": ["US"],
                                                                        "languages": ["zh"]}}).json()
    assert none["hits"] == []


@pytest.mark.parametrize("payload, field", [
    ({}, "query"),
    ({"query": ""}, "query"),
    ({"query": "   "}, "query"),
    ({"query": "x", "k": 0}, "k"),
    ({"query": "x", "k": 10_000}, "k"),
    ({"query": "x", "filters": {"kinds": ["poem"]}}, "kinds"),
    ({"query": "x", "filters": {"version_from": "yesterday"}}, "version_from"),
    ({"query": "x", "unexpected": 1}, "unexpected"),
])
def test_search_validation_errors_are_422_problems(client: httpx.Client, payload: dict, field: str) -> None:
    body = assert_problem(client.post("/v1/search", json=payload), 422)
    assert any(field in ".".join(e["loc"]) for e in body["errors"]), body


def test_overlong_question_and_malformed_json(client: httpx.Client) -> None:
    body = assert_problem(client.post("/v1/search", json={"query": "专" * 2001}), 422)
    assert "limit is 2000" in body["detail"]
    assert_problem(client.post("/v1/ask", json={"question": "a" * 2001}), 422)
    assert_problem(client.post("/v1/search", content=b"{not json", headers={"content-type": "application/json"}),
                   422)
    assert_problem(client.post("/v1/search", content=b"x" * (2 * 1024 * 1024),
                               headers={"content-type": "application/json"}), 413)


# --- ask ---------------------------------------------------------------------------------------------

def test_ask_returns_verified_citations(client: httpx.Client) -> None:
    response = client.post("/v1/ask", json={"question": "知识产权保护部门处理专利侵权纠纷，认定侵权行为成立的，可以怎么做？"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["question_type"] in ("doctrine", "conduct", "case", "drafting")
    assert body["evidence"] and body["generator"] == "extractive"
    if not body["abstained"]:
        assert body["answer"] and body["citations"]
        for citation in body["citations"]:
            assert {"number", "citation", "quoted_span", "chunk_id", "document_id", "verified", "support"} <= \
                citation.keys()
        verified = [c for c in body["citations"] if c["verified"]]
        assert verified and all(c["quoted_span"] for c in verified)
        assert all(c["document_id"] in body["documents"] for c in verified)
    else:
        assert body["abstain_reason"]
    assert body["timings"]["total_ms"] >= 0


def test_ask_with_type_override_and_filters(client: httpx.Client) -> None:
    body = client.post("/v1/ask", json={"question": "What does the claim of the filter patent cover?",
                                        "type": "drafting", "filters": {"kinds": ["patent"]}, "k": 3}).json()
    assert body["question_type"] == "drafting"
    assert len(body["evidence"]) <= 3 + 5  # k hits plus bounded cross-reference expansion


def test_ask_streams_tokens_then_the_answer(client: httpx.Client) -> None:
    question = "知识产权保护部门处理专利侵权纠纷，认定侵权行为成立的，可以怎么做？"
    with client.stream("POST", "/v1/ask", json={"question": question, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response.iter_lines())
    names = [name for name, _ in events]
    assert names[-1] == "answer", names
    assert set(names[:-1]) <= {"token"}
    final = events[-1][1]
    streamed = "".join(data["text"] for name, data in events if name == "token")
    assert streamed == final["answer"]
    plain = client.post("/v1/ask", json={"question": question}).json()
    assert plain["answer"] == final["answer"] and plain["citations"] == final["citations"]


# --- chunks and citations ---------------------------------------------------------------------------

def test_chunk_in_context(client: httpx.Client) -> None:
    hit = client.post("/v1/search", json={"query": "认定侵权行为成立的 可以责令侵权人立即停止侵权行为"}).json()["hits"][0]
    body = client.get(f"/v1/chunks/{hit['chunk_id']}").json()
    assert body["chunk"]["id"] == hit["chunk_id"] and body["chunk"]["text"] == hit["text"]
    assert body["document"]["title"] and body["document"]["version"]
    assert body["chunk"]["hierarchy"]
    assert body["previous"] or body["next"]
    if body["previous"]:
        assert body["previous"]["ordinal"] < body["chunk"]["ordinal"]
    problem = assert_problem(client.get("/v1/chunks/cdoesnotexist"), 404)
    assert "cdoesnotexist" in problem["detail"]


def test_citation_resolves_to_text_part_and_context(client: httpx.Client) -> None:
    response = client.get("/v1/citations/resolve", params={"q": "示例知识产权保护条例第八条第二款"})
    assert response.status_code == 200, response.text
    body = response.json()
    first = body["resolutions"][0]
    assert first["citation"] == "示例知识产权保护条例 第八条 第二款"
    context = first["context"]
    assert context["chunk"]["citation"] == "示例知识产权保护条例 第八条"
    assert context["part"]["label"] == "第二款"
    assert context["part"]["text"].startswith("当事人不服的")
    assert context["document"]["version"] == "2024-01-01"
    assert context["previous"]["citation"] == "示例知识产权保护条例 第七条"


@pytest.mark.parametrize("q, reason", [
    ("示例知识产权保护条例第九百条", "no_such_unit"),
    ("示例知识产权保护条例第八条第五款", "no_such_part"),
    ("hello world", "unparseable"),
])
def test_unresolvable_citation_is_404_with_reason(client: httpx.Client, q: str, reason: str) -> None:
    body = assert_problem(client.get("/v1/citations/resolve", params={"q": q}), 404)
    assert body["reason"] == reason and body["detail"]


# --- documents and jobs (reads) ------------------------------------------------------------------------

def test_documents_paged_and_filtered(client: httpx.Client) -> None:
    page = client.get("/v1/documents", params={"limit": 3}).json()
    assert page["total"] == 4 and len(page["items"]) == 3
    rest = client.get("/v1/documents", params={"limit": 3, "offset": 3}).json()
    assert len(rest["items"]) == 1
    assert {d["id"] for d in page["items"]} | {d["id"] for d in rest["items"]} == \
        {d["id"] for d in client.get("/v1/documents").json()["items"]}
    statutes = client.get("/v1/documents", params=[("kind", "statute"), ("jurisdiction", "CN")]).json()
    assert statutes["total"] == 1 and statutes["items"][0]["title"] == "示例知识产权保护条例"
    assert_problem(client.get("/v1/documents", params={"limit": 0}), 422)
    assert_problem(client.get("/v1/documents", params={"kind": "poem"}), 422)


def test_unknown_job_route_and_method(client: httpx.Client) -> None:
    assert_problem(client.get("/v1/jobs/0123456789abcdef0123456789abcdef"), 404)
    assert_problem(client.get("/v1/jobs/..%2F..%2Fetc%2Fpasswd"), 404)
    assert_problem(client.get("/v1/nothing-here"), 404)
    assert_problem(client.put("/v1/search", json={}), 405)


# --- auth on write endpoints -------------------------------------------------------------------------

@pytest.mark.parametrize("headers, status", [
    ({}, 401),
    ({"Authorization": "Bearer not-a-key"}, 401),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, 401),
    (READ, 403),
])
def test_write_endpoints_need_a_write_key(anonymous: httpx.Client, headers: dict, status: int) -> None:
    for response in (anonymous.post("/v1/index/rebuild", headers=headers),
                     anonymous.delete("/v1/documents/dnope", headers=headers),
                     anonymous.post("/v1/documents", headers=headers, files={"files": ("a.txt", b"text")})):
        body = assert_problem(response, status)
        if status == 401:
            assert response.headers["www-authenticate"].startswith("Bearer")
        assert body["title"]


def test_write_key_passes_auth(client: httpx.Client) -> None:
    # an unknown document is a 404 *after* authentication succeeded
    assert_problem(client.delete("/v1/documents/dnope", headers=WRITE), 404)


def test_read_endpoints_can_require_a_key(tmp_path: Path, tiny_embedder_dir: Path, examples_dir: Path) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    settings = make_settings(tmp_path, tiny_embedder_dir, examples_dir, read_requires_key=True)
    app = create_app(settings, services_factory=services_factory(settings), watch_interval_s=0)
    with TestClient(app, raise_server_exceptions=False) as test_client:  # no index: not ready
        assert_problem(test_client.post("/v1/search", json={"query": "专利"}), 401)
        assert_problem(test_client.post("/v1/search", json={"query": "专利"},
                                        headers={"Authorization": "Bearer wrong"}), 401)
        # authenticated, but there is no index yet: 503, and readiness says so
        assert_problem(test_client.post("/v1/search", json={"query": "专利"}, headers=READ), 503)
        assert_problem(test_client.post("/v1/search", json={"query": "专利"}, headers=WRITE), 503)
        not_ready = assert_problem(test_client.get("/readyz"), 503)
        assert not_ready["ready"] is False
        assert test_client.get("/healthz").status_code == 200


# --- `ipqa serve` ------------------------------------------------------------------------------------

def test_ipqa_serve_command(settings: Any) -> None:
    """The CLI entry point serves the same API (settings from the environment, as in production)."""
    import os
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, IPQA_DATA_DIR=str(settings.data_dir), IPQA_EMBEDDER=settings.embedder,
               IPQA_EMBED_DEVICE="cpu", IPQA_RERANKER="none", IPQA_WRITE_API_KEYS='["k"]')
    process = subprocess.Popen([sys.executable, "-m", "ipqa.cli", "serve", "--port", str(port),
                                "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if response.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            assert time.monotonic() < deadline, "ipqa serve did not become ready"
            time.sleep(0.3)
        assert response.json()["chunks"] == 45
        hits = httpx.post(f"http://127.0.0.1:{port}/v1/search", json={"query": "专利侵权纠纷"}).json()["hits"]
        assert hits
    finally:
        process.terminate()
        process.wait(timeout=30)
