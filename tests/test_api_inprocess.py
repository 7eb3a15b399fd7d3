"""In-process API tests (FastAPI TestClient, ``app.dependency_overrides``): what cannot be provoked
through a healthy server — unexpected exceptions, failures in the middle of a stream — and the
auth and file-name rules on their own."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import pytest
from api_fixtures import READ, assert_problem, make_settings, sse_events
from fastapi.testclient import TestClient

from api.auth import ApiKeys, Scope
from api.deps import get_state
from api.errors import ProblemError
from api.state import Limits
from api.uploads import checked_filename

SECRET = "secret-internal-detail-/srv/ipqa/db.sqlite"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, tiny_embedder_dir: Path, examples_dir: Path) -> Any:
    from api.app import create_app

    settings = make_settings(tmp_path_factory.mktemp("api-inproc"), tiny_embedder_dir, examples_dir)
    return create_app(settings, services_factory=lambda snapshot: None, watch_interval_s=0)


@pytest.fixture()
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False, headers=READ) as test_client:
        yield test_client
    app.dependency_overrides.clear()


class _Exploding:
    def retrieve(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(SECRET)

    def stream_answer(self, *args: Any, **kwargs: Any) -> Iterator[str]:
        yield "partial "
        raise RuntimeError(SECRET)


def _state_with(services: Any) -> Any:
    @contextmanager
    def pinned() -> Iterator[Any]:
        yield services

    limits = Limits(max_question_chars=100, max_upload_bytes=10, max_upload_files=1,
                    upload_extensions=frozenset({".txt"}), default_k=5)
    return SimpleNamespace(limits=limits, pinned=pinned, ready=True, uploads_dir=Path("/nonexistent"))


def test_unexpected_errors_are_500_problems_without_details(client: TestClient, app: Any) -> None:
    exploding = SimpleNamespace(retriever=_Exploding(), answerer=_Exploding(), version="v1", snapshot=None)
    app.dependency_overrides[get_state] = lambda: _state_with(exploding)
    response = client.post("/v1/search", json={"query": "专利"})
    body = assert_problem(response, 500)
    assert SECRET not in response.text and "RuntimeError" not in response.text
    assert body["type"] == "urn:ipqa:problem:internal"


def test_a_failure_mid_stream_ends_with_an_error_event(client: TestClient, app: Any) -> None:
    exploding = SimpleNamespace(retriever=_Exploding(), answerer=_Exploding(), version="v1", snapshot=None)
    app.dependency_overrides[get_state] = lambda: _state_with(exploding)
    with client.stream("POST", "/v1/ask", json={"question": "专利", "stream": True}) as response:
        assert response.status_code == 200
        events = sse_events(response.iter_lines())
    assert [name for name, _ in events] == ["token", "error"]
    assert events[1][1]["status"] == 500 and SECRET not in str(events)


def test_not_ready_without_an_index(client: TestClient) -> None:
    body = assert_problem(client.get("/readyz"), 503)
    assert body["ready"] is False and client.get("/healthz").json() == {"status": "ok"}
    assert_problem(client.post("/v1/ask", json={"question": "专利", "stream": True}), 503)


# --- auth rules --------------------------------------------------------------------------------------

def test_api_key_scopes() -> None:
    keys = ApiKeys.from_lists(["r", ""], ["w"], read_requires_key=True)
    keys.check(Scope.READ, "r")
    keys.check(Scope.READ, "w")  # a write key can read
    keys.check(Scope.WRITE, "w")
    for scope, token, status in [(Scope.READ, None, 401), (Scope.READ, "", 401), (Scope.READ, "x", 401),
                                 (Scope.WRITE, "r", 403), (Scope.WRITE, None, 401), (Scope.WRITE, "rw", 401)]:
        with pytest.raises(ProblemError) as caught:
            keys.check(scope, token)
        assert caught.value.status == status, (scope, token)
    open_reads = ApiKeys.from_lists([], [], read_requires_key=False)
    open_reads.check(Scope.READ, None)
    with pytest.raises(ProblemError):
        open_reads.check(Scope.WRITE, "anything")  # no write keys configured: writes are closed


# --- file names ----------------------------------------------------------------------------------------

ALLOWED = frozenset({".md", ".txt", ".xml"})


@pytest.mark.parametrize("raw, expected", [
    ("专利法(2020-10-17).md", "专利法(2020-10-17).md"),
    ("Brief v2 <final>.txt", "Brief v2 _final.txt"),
    ("  report.XML ", "report.xml"),
    ("a" * 300 + ".md", "a" * 117 + ".md"),
])
def test_acceptable_names_are_sanitised(raw: str, expected: str) -> None:
    assert checked_filename(raw, allowed_extensions=ALLOWED) == expected


@pytest.mark.parametrize("raw, status", [
    ("../x.md", 400), ("/abs.md", 400), ("a\\b.md", 400), ("a\x00.md", 400), ("tab\there.md", 400),
    ("..", 400), (".env.md", 400), ("", 400), (None, 400), ("x%2f..%2fy.md", 400), ("C:x.md", 400),
    ("run.sh", 415), ("noext", 415),
])
def test_unacceptable_names(raw: str | None, status: int) -> None:
    with pytest.raises(ProblemError) as caught:
        checked_filename(raw, allowed_extensions=ALLOWED)
    assert caught.value.status == status
