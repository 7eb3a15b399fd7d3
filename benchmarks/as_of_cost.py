"""What the default date filter (each law in the version in force today) costs and changes.

Over the current index ($IPQA_DATA_DIR): the 80 ip-qa-dev questions and the first 200 STARD
questions, retrieved with k=10 by the configured retriever, after a warm-up of 10. Prints the mean
time of a retrieve and how many of the hits come from a law version not in force today.

    python benchmarks/as_of_cost.py --write-superseded /tmp/superseded.json   # with this tree
    PYTHONPATH=<older tree> python benchmarks/as_of_cost.py --superseded /tmp/superseded.json

The second form measures a tree without the date filter (extracted with `git archive`) against the
versions this tree says are superseded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # appended: a PYTHONPATH tree given first is the one measured

from ipqa.settings import Settings  # noqa: E402
from rag.cli import open_current  # noqa: E402
from rag.compose import build_retriever  # noqa: E402


def questions(shared: Path) -> list[str]:
    def read(name: str, limit: int | None) -> list[str]:
        lines = (shared / "evals" / name).read_text(encoding="utf-8").splitlines()
        return [json.loads(line)["question"] for line in lines if line.strip()][:limit]

    return read("ip-qa-dev.jsonl", None) + read("stard-train.jsonl", 200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--superseded", type=Path, help="JSON list of document ids not in force today")
    parser.add_argument("--write-superseded", type=Path, help="write that list (needs the date filter's code)")
    args = parser.parse_args()
    settings = Settings()
    qs = questions(Path(settings.shared_data))
    with open_current(settings) as snapshot:
        if args.write_superseded:
            ids = snapshot.store.out_of_force_document_ids(dt.date.today().isoformat())  # type: ignore[attr-defined]
            args.write_superseded.write_text(json.dumps(sorted(ids)))
        superseded = set(json.loads((args.superseded or args.write_superseded).read_text()))
        retriever = build_retriever(settings, snapshot)
        for question in qs[:10]:
            retriever.retrieve(question, 10)
        hits, not_in_force, started = 0, 0, time.perf_counter()
        for question in qs:
            for hit in retriever.retrieve(question, 10):
                hits += 1
                not_in_force += hit.chunk.document_id in superseded
        elapsed = time.perf_counter() - started
    print(json.dumps({"questions": len(qs), "mean_ms_per_retrieve": round(1000 * elapsed / len(qs), 1),
                      "hits": hits, "hits_not_in_force_today": not_in_force,
                      "versions_not_in_force_today": len(superseded)}))


if __name__ == "__main__":
    main()
