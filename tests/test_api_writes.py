"""Write endpoints on a REAL uvicorn server: uploads (and every way to send a bad one), deletion,
rebuild jobs, one job at a time, and 200 concurrent searches while the service switches versions."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from api_fixtures import (
    WRITE,
    LiveServer,
    assert_problem,
    build_example_index,
    make_settings,
    serve,
    services_factory,
    wait_for_job,
)

MAX_UPLOAD_BYTES = 4096
MAX_UPLOAD_FILES = 3

NOTICE = ("示例商标管理办法(2025-03-01).md", (
    "# 示例商标管理办法\n\n"
    "第一条 为了规范示例商标的使用与管理，保护商标专用权，制定本办法。\n\n"
    "第二条 未经商标注册人许可，在同一种商品上使用与其注册商标相同的商标的，属于侵犯注册商标专用权的行为。\n"
).encode())


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("api-writes") / "data"


@pytest.fixture(scope="module")
def server(data_dir: Path, tiny_embedder_dir: Path, examples_dir: Path) -> Iterator[LiveServer]:
    settings = make_settings(data_dir, tiny_embedder_dir, examples_dir, max_upload_bytes=MAX_UPLOAD_BYTES,
                             max_upload_files=MAX_UPLOAD_FILES)
    build_example_index(settings, examples_dir)
    yield from serve(settings, services_factory=services_factory(settings), watch_interval_s=0.2)


@pytest.fixture()
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client(headers=WRITE) as c:
        yield c


def _ready_version(client: httpx.Client) -> str:
    return client.get("/readyz").json()["index_version"]


# --- refused uploads ---------------------------------------------------------------------------------

# (A drive path such as C:\\x\\y.txt never reaches the endpoint: python-multipart reduces it to its
# last component, as browsers send it, so it is stored as a plain name inside the uploads directory.)
@pytest.mark.parametrize("name", [
    "../../etc/passwd.txt", "../../../../tmp/evil.md", "/etc/passwd.txt", "..\\..\\boot.ini.txt",
    "sub/dir.txt", "..%2F..%2Fescape.txt", "nul%00byte.txt", "..", ".hidden.md",
])
def test_traversal_file_names_are_400(client: httpx.Client, data_dir: Path, name: str) -> None:
    before = _tree(data_dir.parent)
    body = assert_problem(client.post("/v1/documents", files={"files": (name, b"some text")}), 400)
    assert body["type"] == "urn:ipqa:problem:bad-filename"
    assert _tree(data_dir.parent) == before  # nothing written anywhere


def test_nul_byte_in_raw_multipart_file_name_is_400(client: httpx.Client, data_dir: Path) -> None:
    boundary = "ipqaboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a\x00../../x.txt\"\r\n"
            f"Content-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n").encode()
    before = _tree(data_dir.parent)
    response = client.post("/v1/documents", content=body,
                           headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert_problem(response, 400)
    assert _tree(data_dir.parent) == before


@pytest.mark.parametrize("name", ["payload.exe", "archive.tar.gz", "noextension", "image.png"])
def test_wrong_types_are_415(client: httpx.Client, name: str) -> None:
    body = assert_problem(client.post("/v1/documents", files={"files": (name, b"MZ\x90\x00")}), 415)
    assert ".md" in body["detail"]


def test_oversized_upload_is_413(client: httpx.Client, data_dir: Path) -> None:
    before = _tree(data_dir.parent)
    big = ("big.txt", b"x" * (MAX_UPLOAD_BYTES + 1))
    assert_problem(client.post("/v1/documents", files={"files": big}), 413)
    many = [("files", (f"f{i}.txt", b"text")) for i in range(MAX_UPLOAD_FILES + 1)]
    body = assert_problem(client.post("/v1/documents", files=many), 422)  # the schema's maxItems
    assert "limit is 3" in body["detail"]
    # a body far over every limit is refused by its Content-Length before it is read
    huge = b"0" * (MAX_UPLOAD_FILES * MAX_UPLOAD_BYTES + 2 * 1024 * 1024)
    assert_problem(client.post("/v1/documents", content=huge,
                               headers={"content-type": "multipart/form-data; boundary=x"}), 413)
    # …and a chunked body (no Content-Length) is cut off once it passes the limit
    def chunks() -> Iterator[bytes]:
        yield b"--x\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.txt\"\r\n\r\n"
        for _ in range(64):
            yield b"y" * (256 * 1024)
        yield b"\r\n--x--\r\n"

    assert_problem(client.post("/v1/documents", content=chunks(),
                               headers={"content-type": "multipart/form-data; boundary=x"}), 413)
    assert _tree(data_dir.parent) == before


def test_upload_without_files_is_422(client: httpx.Client) -> None:
    assert_problem(client.post("/v1/documents", data={"other": "field"}), 422)
    assert_problem(client.post("/v1/documents", files={"files": ("empty.txt", b"")}), 400)


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if ".incoming" not in p.parts}


# --- upload, ingest, search, delete --------------------------------------------------------------------

def test_upload_is_ingested_into_a_new_version_then_deleted(client: httpx.Client, data_dir: Path) -> None:
    old_version = _ready_version(client)
    binary = ("scan.pdf", b"%PDF-1.4 not really a pdf \x00\x01\x02")
    accepted = client.post("/v1/documents", files=[("files", NOTICE), ("files", binary)])
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert [u["filename"] for u in body["uploads"]] == [NOTICE[0], "scan.pdf"]
    job = wait_for_job(client, body["job_id"])
    assert job["state"] == "succeeded", job
    assert job["kind"] == "add" and "parse" in job["progress"]["finished_stages"]
    # the bad file is a per-file error named as the client named it, not a failed job
    assert [e["path"] for e in job["errors"]] == ["scan.pdf"]
    assert str(data_dir) not in str(job)
    new_version = job["result"]["version"]
    assert new_version != old_version and _ready_version(client) == new_version
    added = {entry["file"]: entry["document_ids"] for entry in job["result"]["documents_added"]}
    assert len(added[NOTICE[0]]) == 1
    document_id = added[NOTICE[0]][0]

    listed = client.get("/v1/documents", params={"title": "示例商标管理办法"}).json()
    assert [d["id"] for d in listed["items"]] == [document_id]
    assert listed["items"][0]["metadata"]["file"] == NOTICE[0]
    assert listed["items"][0]["version"] == "2025-03-01"  # the parser read the date from the kept name
    hits = client.post("/v1/search", json={"query": "注册商标专用权 商标注册人许可"}).json()["hits"]
    assert hits[0]["document_id"] == document_id
    resolved = client.get("/v1/citations/resolve", params={"q": "示例商标管理办法第二条"}).json()
    assert resolved["resolutions"][0]["context"]["document"]["id"] == document_id
    stored = [p for p in (data_dir / "uploads").rglob("*") if p.is_file() and p.name == NOTICE[0]]
    assert len(stored) == 1 and len(stored[0].parent.name) == 32  # under its content hash
    assert not list((data_dir / "uploads").rglob("scan.pdf"))  # nothing could be ingested: not kept

    # the same content again is recognised, not stored twice
    again = client.post("/v1/documents", files=[("files", NOTICE)]).json()
    assert again["uploads"][0]["duplicate"] is True
    assert wait_for_job(client, again["job_id"])["state"] == "succeeded"

    deleted = client.delete(f"/v1/documents/{document_id}")
    assert deleted.status_code == 202, deleted.text
    job = wait_for_job(client, deleted.json()["job_id"])
    assert job["state"] == "succeeded", job
    assert client.get("/v1/documents", params={"title": "示例商标管理办法"}).json()["total"] == 0
    assert_problem(client.get("/v1/citations/resolve", params={"q": "示例商标管理办法第二条"}), 404)
    assert not stored[0].exists()  # so a rebuild does not bring it back
    assert_problem(client.delete(f"/v1/documents/{document_id}"), 404)


# --- rebuild -------------------------------------------------------------------------------------------

def test_rebuild_job_one_at_a_time_and_switch(client: httpx.Client) -> None:
    old_version = _ready_version(client)
    first = client.post("/v1/index/rebuild")
    assert first.status_code == 202, first.text
    second = client.post("/v1/index/rebuild")
    upload = client.post("/v1/documents", files=[("files", NOTICE)])
    job = wait_for_job(client, first.json()["job_id"])
    # the second request came while the first job ran (a rebuild takes well over a second here)
    assert_problem(second, 409)
    assert_problem(upload, 409)
    assert job["state"] == "succeeded", job
    assert job["result"]["counts"]["documents"] == 4 and job["errors"] == []
    assert job["params"]["sources"] == ["corpus"]
    assert job["progress"]["finished_stages"] == ["parse", "tokenise", "embed", "build", "verify"]
    assert _ready_version(client) == job["result"]["version"] != old_version
    info = client.get("/v1/index").json()
    assert info["serving"] == info["current"] == job["result"]["version"]


def test_a_build_by_another_process_is_409(client: httpx.Client, data_dir: Path) -> None:
    from indexes.locking import BuildLock

    with BuildLock(data_dir / "index" / ".build.lock"):  # as `ipqa index rebuild` beside the service
        body = assert_problem(client.post("/v1/index/rebuild"), 409)
        assert "another worker or process" in body["detail"]
        assert_problem(client.post("/v1/documents", files=[("files", NOTICE)]), 409)
    assert not list((data_dir / "uploads").rglob(NOTICE[0]))


@pytest.mark.parametrize("sources, status", [(["/etc"], 404), (["../../.."], 404), (["/"], 404),
                                             (["does-not-exist"], 404), (["a\x00b"], 422), ([""], 422)])
def test_rebuild_sources_must_be_inside_the_configured_roots(client: httpx.Client, sources: list[str],
                                                             status: int) -> None:
    assert_problem(client.post("/v1/index/rebuild", json={"sources": sources}), status)


def test_rebuild_of_a_configured_subdirectory(client: httpx.Client) -> None:
    accepted = client.post("/v1/index/rebuild", json={"sources": ["cn"]})
    assert accepted.status_code == 202, accepted.text
    job = wait_for_job(client, accepted.json()["job_id"])
    assert job["state"] == "succeeded" and job["result"]["counts"]["documents"] == 2
    # back to the whole corpus for the tests that follow
    assert wait_for_job(client, client.post("/v1/index/rebuild").json()["job_id"])["state"] == "succeeded"


def test_200_concurrent_searches_while_the_version_switches(server: LiveServer, client: httpx.Client) -> None:
    """Every request succeeds while a rebuild finishes and the service swaps its snapshot."""
    old_version = _ready_version(client)
    results: list[tuple[int, str | None]] = asyncio.run(_searches_during_rebuild(server.url))
    statuses = [status for status, _ in results]
    assert len(results) >= 200
    assert statuses == [200] * len(results), [s for s in statuses if s != 200][:5]
    versions = {version for _, version in results}
    new_version = _ready_version(client)
    assert new_version != old_version
    assert versions == {old_version, new_version}  # requests were served on both sides of the switch


async def _searches_during_rebuild(url: str, *, concurrency: int = 50) -> list[tuple[int, str | None]]:
    queries = ["专利侵权纠纷 责令停止侵权", "self-cleaning filter scraper", "本院认为 侵权", "flush valve claim"]
    results: list[tuple[int, str | None]] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits, headers=WRITE) as client:
        async def one(i: int) -> None:
            response = await client.post("/v1/search", json={"query": queries[i % len(queries)], "k": 5})
            version = response.json().get("index_version") if response.status_code == 200 else None
            results.append((response.status_code, version))

        job_id = None
        sent = 0
        finished_at = None
        while finished_at is None or sent < finished_at + 100 or sent < 200:
            if job_id is None and sent >= 50:  # some requests on the old version first
                accepted = await client.post("/v1/index/rebuild")
                assert accepted.status_code == 202, accepted.text
                job_id = accepted.json()["job_id"]
            await asyncio.gather(*(one(sent + i) for i in range(concurrency)))
            sent += concurrency
            if job_id is not None and finished_at is None:
                state = (await client.get(f"/v1/jobs/{job_id}")).json()["state"]
                if state not in ("queued", "running"):
                    assert state == "succeeded"
                    finished_at = sent
            if sent > 5000:
                raise AssertionError("the rebuild did not finish")
    return results


def test_job_records_survive_a_restart(data_dir: Path, server: LiveServer, client: httpx.Client) -> None:
    from api.jobs import JobRunner

    jobs = sorted((data_dir / "jobs").glob("*.json"), key=os.path.getmtime)
    assert jobs
    record: dict[str, Any] = client.get(f"/v1/jobs/{jobs[-1].stem}").json()
    assert record["state"] == "succeeded"
    # a record left "running" by a dead process is marked interrupted at the next start
    stale = data_dir / "jobs" / ("f" * 32 + ".json")
    stale.write_text('{"id": "' + "f" * 32 + '", "state": "running"}', encoding="utf-8")
    JobRunner(data_dir / "jobs").recover()
    assert client.get(f"/v1/jobs/{'f' * 32}").json()["state"] == "interrupted"
