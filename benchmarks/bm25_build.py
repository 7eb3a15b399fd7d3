"""BM25 build time over the cn-law corpus: cold, cold filling the token cache, warm, incremental add.

    python benchmarks/bm25_build.py [--shared-data PATH] [--limit N] [--compare-segmenters]

Chunks come from the real statute parser (``ingest.parsers.cn_statute``) when it is importable,
otherwise from a plain "第…条" article split of the same files (the figures say which was used).
Parsing is not timed; each timing covers tokenising (or loading cached tokens) and building the
BM25 matrix, the way ``Bm25Index.build`` is called by the index job.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

_ARTICLE_START = re.compile(r"\n(?=第[零〇一二三四五六七八九十百千]+条)")


def _articles_by_regex(root: Path) -> tuple[list[str], str]:
    texts = []
    for path in sorted(root.rglob("*.md")):
        body = path.read_text(encoding="utf-8")
        title = body.splitlines()[0].lstrip("# ").strip() if body else path.stem
        body = body.split("<!-- INFO END -->")[-1]
        texts.extend(f"{title}\n{piece.strip()}" for piece in _ARTICLE_START.split(body) if piece.strip())
    return texts, "regex article split"


def _articles_by_parser(root: Path, citations: list[str]) -> tuple[list[str], str]:
    from indexes.text import indexable_text
    from ingest.parsers.cn_statute import CnStatuteParser
    from ingest.protocols import SourceText

    parser = CnStatuteParser()
    texts = []
    for path in sorted(root.rglob("*.md")):
        source = SourceText(path=str(path), text=path.read_text(encoding="utf-8"), format="md")
        try:
            for parsed in parser.parse_text(source):
                texts.extend(indexable_text(chunk, parsed.document) for chunk in parsed.chunks)
                citations.extend(chunk.citation for chunk in parsed.chunks)
        except Exception:  # a file the parser refuses is skipped, as the pipeline would
            continue
    return texts, "ingest.parsers.cn_statute.CnStatuteParser + indexes.text.indexable_text"


def load_corpus(shared_data: Path, citations: list[str] | None = None) -> tuple[list[str], str]:
    """Indexable texts of the cn-law articles; ``citations`` (when given) receives each one's citation."""
    root = shared_data / "cn-law"
    found: list[str] = []
    try:
        texts, how = _articles_by_parser(root, found)
        if texts:
            if citations is not None:
                citations.extend(found)
            return texts, how
    except ImportError:
        pass
    return _articles_by_regex(root)


def stard_recall(index, citations: list[str], shared_data: Path, limit: int, k: int = 10) -> None:
    """Share of STARD gold articles among the top-k BM25 hits of their question (a sanity check)."""
    import json

    def key(citation: str) -> str:
        return citation.replace(" ", "").removeprefix("中华人民共和国")

    by_key: dict[str, set[int]] = {}
    for row, citation in enumerate(citations):
        by_key.setdefault(key(citation), set()).add(row)
    lines = (shared_data / "evals" / "stard-train.jsonl").read_text(encoding="utf-8").splitlines()[:limit]
    found = total = 0
    for line in lines:
        item = json.loads(line)
        hits = {row for row, _ in index.search(item["question"], k)}
        for gold in item["gold"]:
            total += 1
            found += bool(by_key.get(key(gold), set()) & hits)
    print(f"STARD (first {len(lines)} questions): gold articles in BM25 top-{k}: {found}/{total} "
          f"= {found / max(total, 1):.3f}")


def timed(label: str, function):
    """Run ``function``; print wall and CPU seconds (CPU time shows the cost on a busy machine)."""
    start, start_cpu = time.perf_counter(), time.process_time()
    result = function()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    print(f"{label:<48} wall {elapsed:6.2f} s   cpu {cpu:6.2f} s")
    return result, elapsed


def compare_segmenters(texts: list[str], sample_size: int = 5000) -> None:
    import logging

    import jieba
    import rjieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    sample = random.Random(0).sample(texts, min(sample_size, len(texts)))
    jieba_tokens, jieba_s = timed(f"jieba.lcut on {len(sample)} chunks",
                                  lambda: [jieba.lcut(t) for t in sample])
    rjieba_tokens, rjieba_s = timed(f"rjieba.cut on {len(sample)} chunks",
                                    lambda: [rjieba.cut(t) for t in sample])
    identical = sum(a == b for a, b in zip(jieba_tokens, rjieba_tokens))
    total = sum(len(a) for a in jieba_tokens)
    print(f"identical token lists: {identical}/{len(sample)}; jieba tokens {total}; "
          f"speed-up x{jieba_s / rjieba_s:.1f}")


def main() -> None:
    from ipqa.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared-data", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=None, help="index only the first N chunks")
    parser.add_argument("--added", type=int, default=50, help="chunks added in the incremental run")
    parser.add_argument("--compare-segmenters", action="store_true")
    parser.add_argument("--stard", type=int, default=0, metavar="N",
                        help="also report BM25 recall@10 of the gold articles of the first N STARD questions")
    args = parser.parse_args()

    from indexes.bm25 import Bm25Index
    from indexes.embedding_cache import TokenCache
    from indexes.tokenize import default_tokenizer

    shared_data = args.shared_data or Settings().shared_data
    citations: list[str] = []
    (texts, how), _ = timed("load corpus (not part of the build)", lambda: load_corpus(shared_data, citations))
    texts = texts[: args.limit] if args.limit else texts
    print(f"{len(texts)} chunks, {sum(map(len, texts)) / 1e6:.1f} M characters, chunks from: {how}")
    timed("tokenizer start-up (segmenter dictionary)", default_tokenizer)
    ids = list(range(len(texts)))
    languages = ["zh"] * len(texts)

    def build(cache=None, these_ids=ids, these_texts=texts):
        return Bm25Index.build(these_ids, these_texts, ["zh"] * len(these_texts), k1=1.2, b=0.75,
                               token_cache=cache)

    timed("cold build, no token cache", build)
    with tempfile.TemporaryDirectory() as tmp:
        cache = TokenCache(Path(tmp) / "tokens.sqlite")
        timed("cold build, filling an empty token cache", lambda: build(cache))
        index, _ = timed("warm build, all tokens cached", lambda: build(cache))
        added = [f"{text}\n（修订）" for text in texts[: args.added]]  # new content, never tokenised
        more_ids = ids + list(range(len(texts), len(texts) + len(added)))
        timed(f"incremental: warm cache + {len(added)} new chunks",
              lambda: build(cache, more_ids, texts + added))
        timed("save", lambda: index.save(Path(tmp) / "bm25"))
        loaded, _ = timed("load", lambda: Bm25Index.load(Path(tmp) / "bm25"))
        queries = ["专利权的期限是多久", "未经许可实施他人专利", "商标注册申请", "著作权合理使用"] * 25
        _, elapsed = timed(f"{len(queries)} queries, k=10", lambda: [loaded.search(q, 10) for q in queries])
        print(f"mean query latency {1000 * elapsed / len(queries):.1f} ms")
        if args.stard and len(citations) == len(index):
            stard_recall(index, citations, shared_data, args.stard)
        cache.close()
    if args.compare_segmenters:
        compare_segmenters(texts)
    del languages


if __name__ == "__main__":
    main()
