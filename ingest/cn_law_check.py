"""Numbering checks for parsed Chinese statutes: every version of every law must yield its articles
with no gap, duplicate or disorder in the numbering.

``python -m ingest.cn_law_check [ROOT]`` parses every Markdown file under ROOT (default: the cn-law
collection under ``Settings().shared_data``) and prints the totals and each file's problems.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ingest.cn_numbers import int_to_cn
from ingest.parsers.cn_statute import parse_statute
from ingest.protocols import SourceText
from ipqa.domain import ParsedDocument
from ipqa.errors import InputError

# Files of the collection that are navigation, not content.
INDEX_FILE_NAME = "_index.md"


def _label(number: int, sub: int) -> str:
    return f"第{int_to_cn(number)}条" + (f"之{int_to_cn(sub)}" if sub else "")


def check_numbering(parsed: ParsedDocument) -> list[str]:
    """Problems in the article numbering of one parsed statute (empty when it is continuous)."""
    keys = [
        (chunk.metadata["article_no"], chunk.metadata.get("article_sub", 0))
        for chunk in parsed.chunks
        if chunk.unit == "article"
    ]
    if not keys:
        return []
    problems = []
    meta = parsed.document.metadata
    # A book of a code (民法典 物权编) and a constitutional amendment continue an earlier numbering.
    if keys[0] != (1, 0) and not meta.get("book") and not meta.get("amending"):
        problems.append(f"starts at {_label(*keys[0])}")
    seen = Counter(keys)
    for key, count in sorted(seen.items()):
        if count > 1:
            problems.append(f"duplicate {_label(*key)} ({count}×)")
    for prev, cur in zip(keys, keys[1:]):
        if cur == prev:
            continue  # reported as a duplicate
        if cur < prev:
            problems.append(f"out of order: {_label(*cur)} after {_label(*prev)}")
        elif cur[0] == prev[0] and cur[1] != prev[1] + 1:
            problems.append(f"gap: {_label(*prev)} -> {_label(*cur)}")
        elif cur[0] > prev[0] and (cur[0] != prev[0] + 1 or cur[1] != 0):
            problems.append(f"gap: {_label(*prev)} -> {_label(*cur)}")
    return problems


@dataclass
class CorpusReport:
    root: str
    files: int = 0
    documents: int = 0  # law versions parsed (one document per file)
    laws: int = 0  # distinct law titles
    laws_with_several_versions: int = 0
    articles: int = 0  # article chunks (incl. numbered items of 一、/1. documents)
    whole_text_units: list[str] = field(default_factory=list)  # parsed without any numbering
    refused: dict[str, str] = field(default_factory=dict)  # path -> why it is not a statute
    problems: dict[str, list[str]] = field(default_factory=dict)  # path -> numbering problems
    seconds: float = 0.0

    def format(self) -> str:
        lines = [
            f"cn-law check of {self.root}",
            f"files {self.files}, law versions (documents) {self.documents}, distinct laws {self.laws} "
            f"({self.laws_with_several_versions} in several versions), articles {self.articles}, "
            f"parsed in {self.seconds:.1f} s",
            f"whole-text units (no numbering): {len(self.whole_text_units)}",
            f"refused as not a statute: {len(self.refused)}",
        ]
        lines += [f"  {path}: {reason}" for path, reason in sorted(self.refused.items())]
        lines.append(f"files with numbering problems: {len(self.problems)}")
        for path, problems in sorted(self.problems.items()):
            lines.append(f"  {path}: " + "; ".join(problems))
        return "\n".join(lines)


def check_corpus(root: Path) -> CorpusReport:
    """Parse every statute file under ``root`` and collect the numbering problems and totals."""
    report = CorpusReport(root=str(root))
    versions_by_title: Counter[str] = Counter()
    started = time.perf_counter()
    for path in sorted(root.rglob("*.md")):
        if path.name == INDEX_FILE_NAME:
            continue
        report.files += 1
        relative = path.relative_to(root).as_posix()
        try:
            parsed = parse_statute(SourceText(str(path), path.read_text(encoding="utf-8"), "md"))
        except InputError as exc:
            report.refused[relative] = exc.problem
            continue
        report.documents += 1
        versions_by_title[parsed.document.title] += 1
        articles = sum(1 for chunk in parsed.chunks if chunk.unit == "article")
        report.articles += articles
        if not articles:
            report.whole_text_units.append(relative)
        problems = check_numbering(parsed)
        if problems:
            report.problems[relative] = problems
    report.seconds = time.perf_counter() - started
    report.laws = len(versions_by_title)
    report.laws_with_several_versions = sum(1 for n in versions_by_title.values() if n > 1)
    return report


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args:
        root = Path(args[0])
    else:
        from ipqa.settings import Settings

        root = Settings().shared_data / "cn-law"
    if not root.is_dir():
        print(f"error: {root}: not a directory", file=sys.stderr)
        return 2
    report = check_corpus(root)
    print(report.format())
    return 0


if __name__ == "__main__":
    sys.exit(main())
