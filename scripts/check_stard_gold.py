"""Print how many STARD gold articles resolve to exactly one chunk per law version whose text equals
the gold text (``python scripts/check_stard_gold.py [--verbose]``)."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    from ingest.citation_gold import check_gold, load_rows
    from ipqa.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=None, help="shared data dir (default: settings)")
    parser.add_argument("--verbose", action="store_true", help="list multi-version names too")
    args = parser.parse_args()
    data = args.data or Settings().shared_data
    started = time.perf_counter()
    rows = load_rows(data / "evals" / "stard-train.jsonl")
    report = check_gold(rows, data / "cn-law")
    elapsed = time.perf_counter() - started
    print(f"files parsed: {report.files_parsed}, parse errors: {len(report.parse_errors)}")
    for error in report.parse_errors:
        print("  parse error:", error)
    print(f"gold articles: {report.names_ok}/{len(report.results)} ok ({report.rate:.2%})")
    print(f"questions with all gold articles ok: {report.questions_ok}/{report.questions}")
    multi = [r for r in report.results.values() if len(r.versions) > 1]
    print(f"gold articles found in several versions: {len(multi)}; "
          f"matching version counts: {Counter(r.matching_versions for r in multi).most_common(10)}")
    if args.verbose:
        for r in multi:
            print(f"  {r.name}: versions {r.versions}, text matches {r.matching_versions}")
    explained = [r for r in report.failures() if r.explained]
    print(f"failures explained by dataset defects: {len(explained)}; "
          f"unexplained: {len(report.unexplained())}")
    for r in explained:
        print(f"EXPLAINED {r.name}: {r.explained}")
    for r in report.unexplained():
        print(f"FAIL {r.name}: {r.problem}")
    print(f"({elapsed:.1f} s)")
    return 0 if not report.unexplained() and not report.parse_errors else 1


if __name__ == "__main__":
    sys.exit(main())
