"""Parse the US corpora of ../shared with the US parsers and print totals and timings.

    python benchmarks/us_parsers.py [SHARED_DATA]

Prints, per corpus: documents, chunks by unit, wall and CPU seconds, and the process's peak RSS
(the USPTO bulk files are streamed one document at a time, so peak memory should track the largest
patent, not the file).
"""

from __future__ import annotations

import resource
import sys
import time
from collections import Counter
from pathlib import Path

from ingest.parsers.us_opinion import UsOpinionParser
from ingest.parsers.usc_markdown import UscMarkdownParser
from ingest.parsers.uslm import UslmParser
from ingest.parsers.uspto import UsptoParser
from ingest.protocols import SourceText
from ipqa.settings import Settings


def _timed(label: str, documents) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    docs = 0
    units: Counter[str] = Counter()
    types: Counter[str] = Counter()
    paragraphs = 0
    for parsed in documents:
        docs += 1
        types[str(parsed.document.metadata.get("patent_type", parsed.document.kind))] += 1
        for chunk in parsed.chunks:
            units[chunk.unit] += 1
            if chunk.unit == "paragraphs":
                paragraphs += len(chunk.metadata["paragraphs"])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    extra = f", description paragraphs {paragraphs}" if paragraphs else ""
    print(f"{label}: documents {docs} {dict(types)}, chunks {sum(units.values())} {dict(units)}{extra}; "
          f"wall {wall:.2f} s, cpu {cpu:.2f} s")


def main() -> None:
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else Settings().shared_data
    bulk = sorted((shared / "patents/uspto-bulk").glob("*.xml"))
    samples = sorted((shared / "patents/uspto-samples").glob("*/*.xml"))
    uspto = UsptoParser()
    _timed("USPTO bulk", (d for path in bulk for d in uspto.parse_file(path)))
    _timed("USPTO samples", (d for path in samples for d in uspto.parse_file(path)))
    titles = [shared / "us-law" / name for name in ("usc35.xml", "usc17.xml")]
    _timed("USLM", (d for path in titles for d in UslmParser().parse_file(path)))
    lanham = shared / "us-law/15usc-ch22-lanham-act.md"
    _timed("Lanham Markdown", UscMarkdownParser().parse_text(
        SourceText(path=str(lanham), text=lanham.read_text(encoding="utf-8"), format="md")))
    opinions = sorted((Path(__file__).resolve().parent.parent / "tests/fixtures/us").glob("*.txt"))
    _timed("opinions (fixtures)", (d for path in opinions for d in UsOpinionParser().parse_text(
        SourceText(path=str(path), text=path.read_text(encoding="utf-8"), format="txt"))))
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
