"""Do the versioned citations of the current index resolve back to their chunks?

Over the current index ($IPQA_DATA_DIR): every chunk of every law version not in force today is
given its versioned citation (rag/versioned.py), which the resolver must read back to that chunk
(the answer verifier resolves what an answer cites). A resolution to another chunk with the same
text of the same version (the corpus holds some laws twice) counts apart; anything else fails.

    python benchmarks/versioned_citations.py [--json] [--show 20]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from ingest.citations import resolve_citation  # noqa: E402
from ipqa.settings import Settings  # noqa: E402
from rag.cli import open_current  # noqa: E402
from rag.versioned import CitationVersions  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--show", type=int, default=20, help="failures to print")
    args = parser.parse_args()
    started = time.perf_counter()
    outcome: Counter[str] = Counter()
    labels_used: Counter[str] = Counter()
    failures: list[dict[str, str]] = []
    with open_current(Settings()) as snapshot:
        store = snapshot.store
        versions = CitationVersions(store)
        labels = versions.labels()
        for document_id, label in labels.items():
            labels_used["iso date" if "-" in label else "year"] += 1
            for chunk in store.chunks_of_document(document_id):
                cited = versions.chunk(chunk).citation
                if cited == chunk.citation:
                    outcome["not qualified (not a Chinese law unit)"] += 1
                    continue
                resolved = resolve_citation(cited, store)
                first = resolved.resolutions[0] if resolved.ok else None
                if first is not None and first.chunk.id == chunk.id:
                    outcome["same chunk"] += 1
                elif first is not None and first.version == store.document(document_id).version and \
                        re.sub(r"\s+", "", first.chunk.text) == re.sub(r"\s+", "", chunk.text):
                    outcome["a copy of the same version (same text)"] += 1
                else:
                    outcome["failed"] += 1
                    failures.append({"citation": cited, "chunk_id": chunk.id,
                                     "got": first.chunk.id if first else "",
                                     "problem": resolved.failure.message if resolved.failure else "another chunk"})
    report = {"versions_not_in_force": len(labels), "labels": dict(labels_used), "chunks": dict(outcome),
              "seconds": round(time.perf_counter() - started, 1), "failures": failures[:args.show]}
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
        return
    print(f"{len(labels)} law versions not in force today ({dict(labels_used)})")
    for name, count in outcome.most_common():
        print(f"  {name}: {count}")
    for failure in failures[:args.show]:
        print(f"  FAILED {failure['citation']} ({failure['chunk_id']}): {failure['problem']}")
    print(f"{report['seconds']} s")


if __name__ == "__main__":
    main()
