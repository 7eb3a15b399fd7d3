"""USPTO patent full text: bulk grant files and single documents of every XML generation.

A bulk file (``ipg050104.xml``) is many complete XML documents concatenated, each opening with its
own ``<?xml …?>`` declaration, and real ones run to gigabytes. The file is therefore streamed line by
line and cut at each declaration; only one document is ever parsed at a time, so memory is bounded
by the largest single patent, not by the file.

A document that cannot be parsed does not stop the others: the good ones are yielded, then one
InputError names the file and the documents (by line) that failed. Sequence-listing documents
(``<sequence-cwu>``) that follow some grants are not patents and are skipped.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from ingest.parsers.uspto_chunks import build_patent_document
from ingest.parsers.uspto_formats import PAP_ROOT, V4_ROOTS, read_patent
from ingest.parsers.xml_text import local_name
from ingest.safe_xml import parse_xml_bytes
from ipqa.domain import ParsedDocument
from ipqa.errors import InputError

_ROOT_NAMES = (*sorted(V4_ROOTS), PAP_ROOT)
_SNIFF = re.compile(rb"<(?:!DOCTYPE\s+)?(?:" + b"|".join(n.encode() for n in _ROOT_NAMES) + rb")\b")
_NOT_PATENTS = frozenset({"sequence-cwu"})  # sequence listings appended to some grants
_BOM = b"\xef\xbb\xbf"


class UsptoParser:
    """FileParser for USPTO grant and application XML (v4.x and the 2001 ``pap`` format)."""

    name = "uspto"

    def sniff(self, path: Path, head: bytes) -> bool:
        return _SNIFF.search(head) is not None

    def parse_file(self, path: Path) -> Iterator[ParsedDocument]:
        source = str(path)
        failures: list[str] = []
        parsed = 0
        for line_number, data in iter_xml_documents(Path(path)):
            where = f"{source} (document at line {line_number})"
            try:
                root = parse_xml_bytes(data, source=where)
                if local_name(root) in _NOT_PATENTS:
                    continue
                record = read_patent(root, source=where)
                document = build_patent_document(record, source=source)
            except InputError as exc:
                failures.append(f"line {line_number}: {exc.problem}")
                continue
            except (ValueError, TypeError) as exc:  # a value our readers did not expect
                failures.append(f"line {line_number}: {type(exc).__name__}: {exc}")
                continue
            parsed += 1
            yield document
        if failures:
            shown = "; ".join(failures[:3]) + (f"; … {len(failures) - 3} more" if len(failures) > 3 else "")
            raise InputError(source, f"{len(failures)} of {parsed + len(failures)} documents could not be "
                                     f"parsed ({shown})")
        if parsed == 0:
            raise InputError(source, "no USPTO patent document found")


def iter_xml_documents(path: Path) -> Iterator[tuple[int, bytes]]:
    """Yield (first line number, bytes) of each XML document in a possibly concatenated file."""
    buffer: list[bytes] = []
    start_line = 1
    has_content = False
    with path.open("rb") as handle:
        for line_number, line in enumerate(handle, start=1):
            if line_number == 1:
                line = line.removeprefix(_BOM)
            if line.lstrip().startswith(b"<?xml ") and has_content:
                yield start_line, b"".join(buffer)
                buffer, start_line, has_content = [], line_number, False
            buffer.append(line)
            has_content = has_content or bool(line.strip())
    if has_content:
        yield start_line, b"".join(buffer)
