"""Index benchmark: full rebuild per stage (time, peak RSS), incremental add of one patent, and search
latency p50/p99 for BM25, dense and both over the full index.

    python benchmarks/index.py --root /tmp/ipqa-bench/index [--embedder minilm] [--skip-rebuild]

Sources default to the three real corpora under ``Settings().shared_data``. The embeddings cache lives
under ``--root``/cache, so a second run measures a warm rebuild (say which one you report).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class StageMemory:
    """A build progress reporter that samples RSS to find each stage's peak."""

    def __init__(self) -> None:
        import psutil

        self._process = psutil.Process()
        self.stage = "startup"
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            rss = self._process.memory_info().rss
            self.peaks[self.stage] = max(self.peaks.get(self.stage, 0), rss)
            time.sleep(0.05)

    def start(self, stage: str, total: int | None = None) -> None:
        self.stage = stage
        print(f"  stage {stage} ({total if total is not None else '?'} items)", flush=True)

    def advance(self, n: int = 1) -> None:
        pass

    def finish(self, stage: str) -> None:
        pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def _documents_from(root: Path, source: Path) -> list[str]:
    from indexes.layout import IndexLayout
    from indexes.store import SqliteChunkStore

    layout = IndexLayout(root)
    store = SqliteChunkStore.open_readonly(layout.version_dir(layout.current()) / "store.sqlite")
    try:
        return store.document_ids_from_source(str(source))
    finally:
        store.close()


def main() -> None:
    from indexes.build import add_documents, build_version, remove_documents
    from indexes.embedder import create_embedder
    from indexes.snapshot import open_snapshot
    from ipqa.settings import Settings
    from rag.compose import build_options

    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("/tmp/ipqa-bench/index"))
    parser.add_argument("--embedder", default=settings.embedder)
    parser.add_argument("--source", type=Path, action="append")
    parser.add_argument("--jobs", type=int, default=settings.ingest_jobs)
    parser.add_argument("--skip-rebuild", action="store_true", help="Reuse the current version under --root.")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    sources = args.source or [settings.shared_data / "cn-law", settings.shared_data / "us-law",
                              settings.shared_data / "patents"]
    embedder = create_embedder(args.embedder, device="cpu", batch_size=settings.embed_batch_size,
                               languages=settings.embedder_languages)
    options = build_options(settings, jobs=args.jobs, keep_versions=2)
    report: dict[str, object] = {"embedder": embedder.name, "root": str(args.root)}

    if not args.skip_rebuild:
        print("full rebuild", flush=True)
        memory = StageMemory()
        t0 = time.perf_counter()
        result = build_version(args.root, sources, embedder=embedder, options=options, progress=memory)
        total = time.perf_counter() - t0
        memory.stop()
        report["rebuild"] = {
            "total_s": round(total, 1),
            "stage_s": {k: round(v, 2) for k, v in result.stage_seconds.items()},
            "peak_rss_mb": {k: round(v / 2**20) for k, v in memory.peaks.items()},
            "counts": result.manifest["counts"],
            "vectors": result.manifest["dense"]["vectors"],
            "file_errors": len(result.errors),
        }
        print(json.dumps(report["rebuild"], ensure_ascii=False, indent=2), flush=True)

    # incremental add of one patent (a single-grant sample file), timed end to end
    samples = sorted((settings.shared_data / "patents" / "uspto-samples").rglob("*.xml"))
    patent_file = next((p for p in samples if "grant" in p.name.lower()), samples[0])
    scratch = Path(str(args.root) + "-add")
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(args.root, scratch, ignore=shutil.ignore_patterns("*.partial"))
    # the patent is already in the full index (adding it again is a no-op): drop it from the copy first
    present = _documents_from(scratch, patent_file)
    if present:
        remove_documents(scratch, present, embedder=embedder, options=options)
    t0 = time.perf_counter()
    added = add_documents(scratch, [patent_file], embedder=embedder, options=options)
    add_seconds = time.perf_counter() - t0
    report["incremental_add"] = {"file": patent_file.name, "total_s": round(add_seconds, 2),
                                 "stage_s": {k: round(v, 2) for k, v in added.stage_seconds.items()},
                                 "added_chunks": added.manifest["changes"]["added_chunks"],
                                 "bm25_built": added.manifest["bm25"].get("built"),
                                 "chunks_after": added.manifest["counts"]["chunks"]}
    print(json.dumps(report["incremental_add"], indent=2), flush=True)
    # the same add with empty token and embedding caches: the patent's 52 chunks are tokenised and
    # embedded for real (the warm figure above assumes they were cached, e.g. by an earlier build)
    remove_documents(scratch, _documents_from(scratch, patent_file), embedder=embedder, options=options)
    for cache_file in (scratch / "cache").iterdir():
        cache_file.unlink()
    t0 = time.perf_counter()
    cold = add_documents(scratch, [patent_file], embedder=embedder, options=options)
    cold_seconds = time.perf_counter() - t0
    report["incremental_add_cold_caches"] = {
        "total_s": round(cold_seconds, 2), "stage_s": {k: round(v, 2) for k, v in cold.stage_seconds.items()},
        "bm25_built": cold.manifest["bm25"].get("built")}
    print(json.dumps(report["incremental_add_cold_caches"], indent=2), flush=True)
    shutil.rmtree(scratch, ignore_errors=True)

    # search latency over the full index
    snapshot = open_snapshot(args.root, embedder=embedder)
    rng = random.Random(7)
    stard = [json.loads(line)["question"] for line in
             (settings.shared_data / "evals" / "stard-train.jsonl").read_text(encoding="utf-8").splitlines()]
    english = []
    for _, chunk, _doc in snapshot.store.iter_chunks_with_documents():
        if chunk.language == "en":
            english.append(" ".join(chunk.text.split()[:12]))
    queries = rng.sample(stard, args.queries // 2) + rng.sample(english, args.queries // 2)
    latencies: dict[str, list[float]] = {"bm25": [], "dense": [], "both": []}
    for query in queries[:10]:  # warm up
        snapshot.search_bm25(query, 10)
        snapshot.search_dense(query, 10)
    for query in queries:
        t0 = time.perf_counter()
        snapshot.search_bm25(query, 100)
        t1 = time.perf_counter()
        snapshot.search_dense(query, 100)
        t2 = time.perf_counter()
        latencies["bm25"].append((t1 - t0) * 1000)
        latencies["dense"].append((t2 - t1) * 1000)
        latencies["both"].append((t2 - t0) * 1000)
    en_dense = [ms for q, ms in zip(queries, latencies["dense"]) if q in english]
    report["search_ms"] = {name: {"p50": round(statistics.median(v), 2), "p99": round(percentile(v, 99), 2)}
                           for name, v in latencies.items()}
    report["search_ms"]["dense_english_only"] = {"p50": round(statistics.median(en_dense), 2),
                                                 "p99": round(percentile(en_dense, 99), 2)}
    report["search_queries"] = f"{len(queries)} ({args.queries // 2} STARD zh questions, " \
                               f"{args.queries // 2} English chunk openings), k=100"
    report["peak_rss_mb_process"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    snapshot.close()
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
