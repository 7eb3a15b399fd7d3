"""One-shot `ipqa search` cost: wall time and peak RSS of whole processes, as a user sees them.

Runs ``/usr/bin/time -v <python> -m ipqa.cli search QUERY`` ``--runs`` times per query (after one
unmeasured warm-up run that fills the page cache and, for English, may save the torch-free query
encoder), and prints the median and range of the wall times and peak RSS, with the load average
before and after (the machine is shared: compare medians measured under similar load).

    IPQA_DATA_DIR=/work/var-full python benchmarks/cli_oneshot.py --runs 5 [--repo PATH] [--json]

``--repo`` runs another checkout's code (e.g. the code before a change) with the same interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

QUERIES = {"zh": "专利权的保护期限是多久", "en": "What is the term of a patent in the United States?"}


def measure(repo: Path, query: str) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB, stderr) of one `ipqa search QUERY` process."""
    env = {**os.environ, "PYTHONPATH": str(repo)}
    done = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "ipqa.cli", "search", query],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"ipqa search failed ({done.returncode}):\n{done.stderr[-2000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    assert wall and rss, done.stderr[-2000:]
    seconds = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    own_stderr = done.stderr[:done.stderr.rfind("\tCommand being timed")]
    return seconds, int(rss.group(1)) / 1024, own_stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--language", choices=sorted(QUERIES), action="append")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result: dict[str, object] = {"repo": str(args.repo), "runs": args.runs,
                                 "data_dir": os.environ.get("IPQA_DATA_DIR"), "load_before": os.getloadavg()}
    for language in args.language or sorted(QUERIES, reverse=True):
        query = QUERIES[language]
        measure(args.repo, query)  # warm-up: page cache, saved query encoder
        walls, peaks, noisy = [], [], 0
        for _ in range(args.runs):
            wall, peak, stderr = measure(args.repo, query)
            walls.append(wall)
            peaks.append(peak)
            noisy += bool(stderr.strip())
        result[language] = {"query": query, "wall_s_median": round(statistics.median(walls), 2),
                            "wall_s": [round(w, 2) for w in walls],
                            "peak_rss_mib_median": round(statistics.median(peaks), 1),
                            "peak_rss_mib": [round(p, 1) for p in peaks], "runs_with_stderr_output": noisy}
    result["load_after"] = os.getloadavg()
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    print(f"code: {args.repo}  data: {result['data_dir']}  load before {result['load_before']}, "
          f"after {result['load_after']}")
    for language in args.language or sorted(QUERIES, reverse=True):
        figures = result[language]
        assert isinstance(figures, dict)
        print(f"{language}: wall median {figures['wall_s_median']} s {figures['wall_s']}, peak RSS median "
              f"{figures['peak_rss_mib_median']} MiB {figures['peak_rss_mib']}, runs printing to stderr: "
              f"{figures['runs_with_stderr_output']}/{args.runs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
