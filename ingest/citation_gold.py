"""Check gold citations of an eval set against the parsed corpus: every gold article name must resolve
to exactly one chunk per law version, and the chunk's text must equal the gold text (whitespace
aside) in at least one version. Used by ``tests/test_stard_gold.py`` and
``scripts/check_stard_gold.py``.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ingest.citation_forms import normalize_law_name
from ingest.citations import parse_citation, resolve_citation
from ingest.lookup import InMemoryChunkLookup
from ingest.parsers.cn_statute import CnStatuteParser
from ingest.protocols import SourceText


@dataclass(frozen=True)
class GoldResult:
    name: str  # the gold article name as the dataset writes it
    ok: bool
    problem: str | None  # why not ok
    versions: tuple[str, ...]  # the versions it resolved to, newest first ("undated" for None)
    matching_versions: tuple[str, ...]  # those whose text equals the gold text
    explained: str | None = None  # a known defect of the dataset that explains a failure


@dataclass
class GoldReport:
    results: dict[str, GoldResult] = field(default_factory=dict)
    questions: int = 0
    questions_ok: int = 0
    files_parsed: int = 0
    parse_errors: list[str] = field(default_factory=list)

    @property
    def names_ok(self) -> int:
        return sum(r.ok for r in self.results.values())

    @property
    def rate(self) -> float:
        return self.names_ok / len(self.results) if self.results else 0.0

    def failures(self) -> list[GoldResult]:
        return [r for r in self.results.values() if not r.ok]

    def unexplained(self) -> list[GoldResult]:
        return [r for r in self.failures() if not r.explained]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def load_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def law_files(cn_law_dir: Path, law_names: Iterable[str]) -> list[Path]:
    """The cn-law Markdown files whose title line normalises to one of ``law_names`` (normalised)."""
    wanted = {normalize_law_name(n) for n in law_names}
    out = []
    for path in sorted(cn_law_dir.rglob("*.md")):
        if path.name == "_index.md":
            continue
        with path.open(encoding="utf-8") as fh:
            first = fh.readline().strip()
        if first.startswith("#") and normalize_law_name(first.lstrip("#").strip()) in wanted:
            out.append(path)
    return out


def check_gold(rows: list[dict], cn_law_dir: Path) -> GoldReport:
    report = GoldReport()
    gold_texts: dict[str, str] = {}
    for row in rows:
        for name in row["gold"]:
            gold_texts.setdefault(name, row["gold_text"][name])
    refs = {name: parse_citation(name) for name in gold_texts}
    laws = {ref.law for ref in refs.values() if ref is not None and ref.law}
    parser = CnStatuteParser()
    lookup = InMemoryChunkLookup()
    for path in law_files(cn_law_dir, laws):
        source = SourceText(path=str(path), text=path.read_text(encoding="utf-8"), format="md")
        try:
            for parsed in parser.parse_text(source):
                lookup.add(parsed)
            report.files_parsed += 1
        except Exception as exc:  # one bad file must not hide the results of the others
            report.parse_errors.append(f"{path}: {type(exc).__name__}: {exc}")
    for name, gold in gold_texts.items():
        report.results[name] = _check_one(name, gold, lookup)
    for row in rows:
        report.questions += 1
        report.questions_ok += all(report.results[n].ok for n in row["gold"])
    return report


def _check_one(name: str, gold_text: str, lookup: InMemoryChunkLookup) -> GoldResult:
    outcome = resolve_citation(name, lookup)
    if not outcome.ok:
        problem = outcome.failure.message if outcome.failure else "no resolution"
        return GoldResult(name, False, problem, (), ())
    versions = tuple(r.version or "undated" for r in outcome.resolutions)
    per_version = Counter(versions)
    doubled = [v for v, n in per_version.items() if n > 1]
    matching = tuple(r.version or "undated" for r in outcome.resolutions
                     if squash(r.text) == squash(gold_text))
    if doubled:
        chunks = defaultdict(list)
        for r in outcome.resolutions:
            chunks[r.version or "undated"].append(r.document.source_path if r.document else r.chunk.id)
        detail = "; ".join(f"{v}: {', '.join(chunks[v])}" for v in doubled)
        return GoldResult(name, False, f"several different chunks for one version ({detail})",
                          versions, matching)
    if not matching:
        truncated = [r.version or "undated" for r in outcome.resolutions
                     if _gold_cut_at_di(gold_text, r.text)]
        if truncated:
            return GoldResult(name, False, "the gold text is only the article's first 款", versions, (),
                              explained="the dataset cut the article before a 款 that starts with 第 "
                                        "(its splitter took it for a new article); the leading 款 "
                                        f"match version {', '.join(truncated)}")
        texts = " | ".join(f"{r.version or 'undated'}: {squash(r.text)[:80]}"
                           for r in outcome.resolutions)
        return GoldResult(name, False,
                          f"text differs from the gold text ({squash(gold_text)[:80]}) vs {texts}",
                          versions, ())
    return GoldResult(name, True, None, versions, matching)


def _gold_cut_at_di(gold_text: str, chunk_text: str) -> bool:
    """True when the gold text is the chunk's first 款 (one or more whole lines) and the line after
    them starts with 第 (``第三人…``, ``第一款所称…``): STARD's article splitter cut there."""
    lines = [line for line in chunk_text.split("\n") if line.strip()]
    gold = squash(gold_text)
    for k in range(1, len(lines)):
        if squash("".join(lines[:k])) == gold:
            return lines[k].lstrip().startswith("第")
    return False
