"""Throughput and latency of the REST API: requests/s, p50 and p99 of /v1/search and /v1/ask
(extractive) at several concurrencies, against a real uvicorn server over an existing index.

    python benchmarks/api.py --data-dir /tmp/ipqa-full --workers 1 --duration 15

starts ``ipqa serve --workers N`` on a free port with ``IPQA_DATA_DIR`` set (or measures ``--url`` of a server already running), waits for /readyz,
warms up, then runs closed-loop clients (each sends its next request when the previous one is
answered) for ``--duration`` seconds per (endpoint, concurrency). Queries: every lay question of
stard-train (Chinese, 1,235) and English queries (eight hand-written questions plus the opening
words of 1,200 English chunks of the served index, e.g. a claim's or a section's first words),
alternating for ``--language mixed``. They are sent in one sequence that continues from row to
row, so no query repeats before all of them were sent once: caches help only as much as real
traffic's recurring articles would. Results go to stdout as a Markdown table (``--json`` for JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent

ENGLISH = [
    "Is making and selling a patented invention without authority infringement under 35 U.S.C. 271?",
    "What may be patented under section 101?",
    "When is an invention not novel because of prior public use?",
    "What is the term of a patent?",
    "What remedies are available for trademark infringement under the Lanham Act?",
    "Who owns copyright in a work made for hire?",
    "filter assembly with a rotating scraper",
    "a method of wireless communication comprising transmitting a signal",
]


def english_queries(data_dir: Path | None, n: int = 1200, seed: int = 0) -> list[str]:
    """The hand-written questions, then the first 6-14 words of ``n`` English chunks of the index
    being served (a seeded sample), as keyword queries."""
    import random
    import sqlite3

    found = list(ENGLISH)
    if data_dir is None:
        return found
    from indexes.layout import STORE_FILE
    from indexes.layout import IndexLayout

    layout = IndexLayout(data_dir / "index")
    version = layout.current()
    if version is None:
        return found
    connection = sqlite3.connect(f"file:{layout.version_dir(version) / STORE_FILE}?mode=ro", uri=True)
    try:
        texts = [row[0] for row in connection.execute("SELECT text FROM chunks WHERE language = 'en' ORDER BY id")]
    finally:
        connection.close()
    rng = random.Random(seed)
    seen = set(found)
    for text in rng.sample(texts, min(len(texts), 3 * n)):
        words = [w for w in text.split() if not (w.startswith("[") and w.endswith("]"))]  # "[0037]"
        if len(words) < 6:
            continue
        query = " ".join(words[:rng.randint(6, 14)])
        if query not in seen:
            seen.add(query)
            found.append(query)
        if len(found) >= n + len(ENGLISH):
            break
    return found


def queries(shared_data: Path, data_dir: Path | None, language: str = "mixed") -> list[str]:
    """Distinct queries of ``language`` (zh, en, or mixed: alternating while both last)."""
    chinese: list[str] = []
    path = shared_data / "evals" / "stard-train.jsonl"
    if path.is_file():
        with path.open(encoding="utf-8") as f:
            chinese = list(dict.fromkeys(json.loads(line)["question"] for line in f))
    if language == "zh":
        return chinese
    english = english_queries(data_dir)
    if language == "en" or not chinese:
        return english
    mixed: list[str] = []
    for zh, en in zip(chinese, english):
        mixed += [zh, en]
    return mixed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path, workers: int, port: int, threads: int | None = None) -> subprocess.Popen:
    env = dict(os.environ, IPQA_DATA_DIR=str(data_dir), DO_NOT_TRACK="true", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", IPQA_GENERATOR="extractive")
    if threads is not None:
        env["IPQA_API_THREADS"] = str(threads)
    command = [sys.executable, "-m", "ipqa.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers), "--log-level", "warning"]
    return subprocess.Popen(command, cwd=REPO, env=env)


def wait_ready(url: str, server: subprocess.Popen | None, timeout: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server is not None and server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode}")
        try:
            response = httpx.get(f"{url}/readyz", timeout=5)
            if response.status_code == 200:
                return response.json()
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit(f"server at {url} not ready after {timeout}s")


class _Connection:
    """A minimal keep-alive HTTP/1.1 client connection. httpx's async pool costs more CPU per
    request than the server at 32 concurrent requests on 2 cores, so it would measure itself."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            sock = self.writer.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle delay on our side
        assert self.reader is not None
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        payload = await self.reader.readexactly(length)
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class QuerySequence:
    """The request bodies in one endless sequence shared by every row of a run."""

    def __init__(self, payloads: list[dict[str, Any]]) -> None:
        self.bodies = [json.dumps(p, ensure_ascii=False).encode() for p in payloads]
        self.sent = 0

    def next(self) -> bytes:
        body = self.bodies[self.sent % len(self.bodies)]
        self.sent += 1
        return body


async def run_load(url: str, path: str, sequence: QuerySequence, concurrency: int,
                   duration: float) -> dict[str, Any]:
    """Closed loop: ``concurrency`` connections, each sending its next request when answered."""
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    errors: dict[int, int] = {}
    deadline = time.perf_counter() + duration

    async def worker() -> None:
        connection = _Connection(host, int(port))
        try:
            while time.perf_counter() < deadline:
                body = sequence.next()
                started = time.perf_counter()
                status, _ = await connection.post(path, body)
                if status == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors[status] = errors.get(status, 0) + 1
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    latencies.sort()
    return {"endpoint": path, "concurrency": concurrency, "requests": len(latencies), "errors": errors,
            "seconds": round(wall, 2), "rps": round(len(latencies) / wall, 1),
            "p50_ms": round(_quantile(latencies, 0.50) * 1000, 1),
            "p99_ms": round(_quantile(latencies, 0.99) * 1000, 1),
            "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None}


def _quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, help="IPQA_DATA_DIR of the index to serve.")
    parser.add_argument("--url", help="Measure a server already running instead of starting one.")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, help="IPQA_API_THREADS of the started server (default: Settings).")
    parser.add_argument("--duration", type=float, default=15.0, help="Seconds per measurement.")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--endpoints", nargs="+", default=["search", "ask"], choices=["search", "ask"])
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--language", choices=["mixed", "zh", "en"], default="mixed",
                        help="Query set: Chinese, English, or alternating (default).")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from ipqa.settings import Settings

    shared = Settings().shared_data
    texts = queries(shared, args.data_dir, language=args.language)
    sequences = {"search": QuerySequence([{"query": q, "k": args.k} for q in texts]),
                 "ask": QuerySequence([{"question": q, "k": args.k} for q in texts])}
    server = None
    url = args.url
    if url is None:
        if args.data_dir is None:
            raise SystemExit("give --data-dir (an index to serve) or --url (a running server)")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = start_server(args.data_dir, args.workers, port, args.threads)
    try:
        ready = wait_ready(url, server)
        # warm-up (threads, connections) on queries of its own: the measured rows start with unseen ones
        warm_up = QuerySequence([{"query": q, "k": args.k} for q in texts[-200:]])
        asyncio.run(run_load(url, "/v1/search", warm_up, 8, 3))
        results = [asyncio.run(run_load(url, f"/v1/{endpoint}", sequences[endpoint], c, args.duration))
                   for endpoint in args.endpoints for c in args.concurrency]
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    threads = args.threads or os.environ.get("IPQA_API_THREADS") or Settings().api_threads
    reranker = os.environ.get("IPQA_RERANKER", "(settings default)")
    if args.json:
        print(json.dumps({"ready": ready, "workers": args.workers, "api_threads": threads, "reranker": reranker,
                          "language": args.language, "distinct_queries": len(texts), "results": results},
                         indent=2))
        return
    print(f"index {ready.get('index_version')}: {ready.get('documents')} documents, {ready.get('chunks')} chunks; "
          f"workers {args.workers}; api threads {threads}; reranker {reranker}; {len(texts)} distinct "
          f"{args.language} queries; "
          f"{args.duration:.0f} s per row")
    print("| endpoint | concurrency | requests | req/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['endpoint']} | {r['concurrency']} | {r['requests']} | {r['rps']} | {r['p50_ms']} | "
              f"{r['p99_ms']} | {r['errors'] or 0} |")


if __name__ == "__main__":
    main()
