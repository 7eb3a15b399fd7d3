"""The ingest pipeline: paths (files or directories) -> parsed documents, one error per bad file.

A batch never fails as a whole because of one file: every problem with a file (missing, unreadable,
too big, binary, unsupported, malformed, a parser bug) becomes a :class:`FileError` naming the file and
the cause, and the rest of the batch goes on. Only ``KeyboardInterrupt`` (and other BaseExceptions)
stop it.

Dispatch: XML files go to the streaming file parser whose ``sniff`` accepts their first bytes; every
other file is extracted to text (:mod:`ingest.extract`) and handed to the first text parser whose
``detect`` is true (the plain-text parser is last and accepts anything).
"""

from __future__ import annotations

import copyreg
import dataclasses
import functools
import os
import re
import stat
import sys
import time
from collections import Counter
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Iterable, Iterator, Sequence

from ingest.archive_limits import check_chunk_count
from ingest.encoding import decode_text
from ingest.extract import TEXT_FORMATS, extract, strip_front_matter
from ingest.parsers.cn_judgment import CnJudgmentParser
from ingest.parsers.cn_statute import CnStatuteParser, statute_title
from ingest.protocols import FileParser, SourceText, TextParser
from ingest.skip import SkipFile
from ipqa.domain import Chunk, Document, ParsedDocument
from ipqa.errors import ConfigError, InputError

XML_SUFFIX = ".xml"
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(sorted({*TEXT_FORMATS, XML_SUFFIX}))
HEAD_BYTES = 64 * 1024  # what FileParser.sniff sees


@dataclass(frozen=True)
class FileError:
    """A file that could not be ingested (or only partly): its path as given and the cause."""

    path: str
    error: str

    def __str__(self) -> str:
        return f"{self.path}: {self.error}"


@dataclass(frozen=True)
class FileSkip:
    """A file that holds nothing to ingest by design (a site generator's folder index) and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: skipped, {self.reason}"


@dataclass
class IngestResult:
    documents: list[ParsedDocument] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    files: int = 0  # files looked at, including those that failed or were skipped
    skipped: list[FileSkip] = field(default_factory=list)

    @property
    def by_kind(self) -> dict[str, int]:
        """Documents per kind (``statute``, ``patent``…), sorted by kind."""
        counts = Counter(str(doc.document.kind) for doc in self.documents)
        return dict(sorted(counts.items()))

    @property
    def chunk_count(self) -> int:
        return sum(len(doc.chunks) for doc in self.documents)


@dataclass(frozen=True)
class Parsers:
    """The parsers a batch uses, loaded once per batch (and once per worker process)."""

    file_parsers: tuple[FileParser, ...]
    text_parsers: tuple[TextParser, ...]
    extract_references: Callable[[Chunk, Document], tuple[str, ...]]


def load_parsers(known_laws: frozenset[str] | None = None) -> Parsers:
    """The registered parsers. A parser module that fails to import is a broken installation, not a
    bad file: it raises ConfigError here instead of turning every file of the batch into an error.
    ``known_laws`` (law titles the batch holds) makes the references found in prose exact (see
    ``ingest.citations.find_citations``)."""
    try:
        from ingest.citations import extract_references
        from ingest.parsers import file_parsers, text_parsers

        return Parsers(tuple(file_parsers()), tuple(text_parsers()),
                       functools.partial(extract_references, known_laws=known_laws))
    except ImportError as exc:
        raise ConfigError(f"ingest parsers could not be loaded: {exc}") from exc


# --- the law names of a batch --------------------------------------------------------------------

# Only these are read for titles: cheap to decode. A statute given as PDF/DOCX/HTML still parses, but
# its name is not known in advance (references to it fall back to cutting the name by rule).
_TITLE_SUFFIXES = (".md", ".txt")


def known_law_titles(files: Sequence[Path], *, max_file_bytes: int,
                     extra: Iterable[str] = ()) -> frozenset[str]:
    """The titles of the Chinese statutes among ``files`` (plus ``extra``, e.g. the laws an index
    already holds), read from each file's first lines before the batch is parsed.

    Why a first pass: a law name written without 《》 in prose (…违反公司法第二十条) is cut out of the
    sentence by rule, which sometimes leaves a wrong prefix; knowing the batch's law names makes
    the cut exact, and reading them first gives every file (in any process, in any order) the same
    names, so ``jobs`` never changes the references. Unreadable files are left to the real pass,
    which reports them."""
    # asked in the order of ingest.parsers.text_parsers: a judgment quoting articles is no statute
    judgment_parser, parser = CnJudgmentParser(), CnStatuteParser()
    titles = {title for title in extra if title and title.strip()}
    for path in files:
        suffix = path.suffix.lower()
        if suffix not in _TITLE_SUFFIXES:
            continue
        try:
            info = path.stat()
            # never open a FIFO or device (reading one blocks forever) or an oversized file
            if not stat.S_ISREG(info.st_mode) or not 0 < info.st_size <= max_file_bytes:
                continue
            text = decode_text(path.read_bytes(), str(path))
            if suffix == ".md":
                text = strip_front_matter(text, str(path))
        except Exception:  # noqa: BLE001, S112 - the parsing pass reports this file's problem
            continue
        source = SourceText(path=str(path), text=text, format=suffix[1:])
        if text.strip() and not judgment_parser.detect(source) and parser.detect(source):
            title = statute_title(source)
            if title:
                titles.add(title)
    return frozenset(titles)


# --- finding the files ---------------------------------------------------------------------------

def discover(paths: Sequence[str | Path], errors: list[FileError]) -> list[Path]:
    """The files named by ``paths``: files as given, directories recursed (sorted, hidden entries
    skipped, symlinked directories not followed). Paths that cannot be files get a FileError."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        try:
            if path.is_symlink() and not path.exists():
                errors.append(FileError(str(given), "broken symbolic link"))
            elif not path.exists():
                errors.append(FileError(str(given), "no such file or directory"))
            elif path.is_dir():
                if path.suffix.lower() in SUPPORTED_SUFFIXES:
                    # A directory named like a file is almost always a mistake (an unpacked upload,
                    # a wrong path); ingesting whatever it contains would hide that.
                    errors.append(FileError(str(given), "is a directory named like a file, not a file"))
                else:
                    found.extend(_walk(path, errors))
            else:
                found.append(path)
        except OSError as exc:  # e.g. a path component without search permission
            errors.append(FileError(str(given), _os_error(exc)))
    return found


def _walk(directory: Path, errors: list[FileError]) -> Iterator[Path]:
    def on_error(exc: OSError) -> None:
        errors.append(FileError(exc.filename or str(directory), _os_error(exc)))

    for root, dirnames, filenames in os.walk(directory, onerror=on_error):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(root) / name


def _os_error(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower() if exc.errno else str(exc)


# --- parsing one file ----------------------------------------------------------------------------

def check_file(path: Path, *, max_file_bytes: int) -> None:
    """Refuse, without reading it, a file that cannot or must not be read. Raises InputError."""
    source = str(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError(source, "broken symbolic link" if path.is_symlink()
                         else "no such file or directory") from None
    except OSError as exc:
        raise InputError(source, _os_error(exc)) from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(source, "is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(source, "not a regular file (device, pipe or socket)")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        shown = suffix or "(no extension)"
        raise InputError(source, f"unsupported file type {shown}; supported: {', '.join(SUPPORTED_SUFFIXES)}")
    if info.st_size > max_file_bytes:
        raise InputError(source, f"file too large: {info.st_size:,} bytes, the limit is {max_file_bytes:,}")
    if info.st_size == 0:
        raise InputError(source, "empty file")
    if not os.access(path, os.R_OK):
        raise InputError(source, "permission denied")


def parse_file(path: Path, *, max_file_bytes: int, parsers: Parsers | None = None) -> Iterator[ParsedDocument]:
    """The documents of one file, references filled in. Raises InputError for a bad file; may raise
    anything else for a parser bug (the caller turns both into a FileError)."""
    parsers = parsers or load_parsers()
    check_file(path, max_file_bytes=max_file_bytes)
    if path.suffix.lower() == XML_SUFFIX:
        documents = _parse_xml(path, parsers.file_parsers)
    else:
        documents = _parse_text(path, parsers.text_parsers)
    for parsed in documents:
        # before references are extracted from (and the index is built of) every chunk
        check_chunk_count(len(parsed.chunks), str(path))
        yield with_references(parsed, parsers.extract_references)


def _parse_xml(path: Path, file_parsers: Sequence[FileParser]) -> Iterator[ParsedDocument]:
    source = str(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as exc:
        raise InputError(source, _os_error(exc)) from None
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(source, "binary data, not XML")
    for parser in file_parsers:
        if parser.sniff(path, head):
            return parser.parse_file(path)
    root = xml_root_name(head)
    if root is None:
        raise InputError(source, "not XML: no root element found")
    raise InputError(source, f"XML of an unknown schema: root <{root}>")


_XML_PROLOGUE = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE(?:[^\[>]|\[.*?\])*>)", re.DOTALL)
_XML_ELEMENT = re.compile(rb"\s*<([A-Za-z_][\w.\-]*(?::[\w.\-]+)?)")


def xml_root_name(head: bytes) -> str | None:
    """Name of the first element after the XML declaration, comments, PIs and DOCTYPE."""
    data = head.lstrip(b"\xef\xbb\xbf")
    pos = 0
    while match := _XML_PROLOGUE.match(data, pos):
        if match.end() == pos:
            break
        pos = match.end()
    match = _XML_ELEMENT.match(data, pos)
    return match.group(1).decode("ascii", "replace") if match else None


def _parse_text(path: Path, text_parsers: Sequence[TextParser]) -> Iterator[ParsedDocument]:
    source = extract(path)
    for parser in text_parsers:
        if parser.detect(source):
            return parser.parse_text(source)
    raise InputError(str(path), "no parser accepts this text")  # unreachable while plain is last


def with_references(parsed: ParsedDocument,
                    extract_references: Callable[[Chunk, Document], tuple[str, ...]]) -> ParsedDocument:
    """``parsed`` with each chunk's ``references`` set; a failing extraction becomes a warning (the
    chunk stays citable without its outgoing references rather than losing the whole document)."""
    chunks = []
    warnings = list(parsed.warnings)
    for chunk in parsed.chunks:
        try:
            refs = tuple(extract_references(chunk, parsed.document))
        except Exception as exc:
            warnings.append(f"{chunk.citation}: references not extracted ({type(exc).__name__}: {exc})")
            refs = chunk.references
        chunks.append(dataclasses.replace(chunk, references=refs) if refs != chunk.references else chunk)
    return dataclasses.replace(parsed, chunks=tuple(chunks), warnings=tuple(warnings))


def _describe(exc: Exception) -> str:
    if isinstance(exc, InputError):
        return exc.problem
    if isinstance(exc, OSError):
        return _os_error(exc)
    if isinstance(exc, MemoryError):
        return "out of memory while parsing"
    return f"parser failed: {type(exc).__name__}: {exc}"


def _documents_of(path: Path, max_file_bytes: int, parsers: Parsers, errors: list[FileError],
                  skipped: list[FileSkip] | None = None) -> Iterator[ParsedDocument]:
    """Stream the documents of one file; at most one error (or skip) for it goes to ``errors`` (or
    ``skipped``). Documents yielded before a failure stay yielded (a bulk file with one bad patent
    still ingests the others) and the error says how far the file got."""
    count = 0
    try:
        for parsed in parse_file(path, max_file_bytes=max_file_bytes, parsers=parsers):
            count += 1
            yield parsed
    except SkipFile as exc:  # not content (a folder index): no error, but still accounted for
        if skipped is not None:
            skipped.append(FileSkip(str(path), exc.problem))
        return
    except Exception as exc:  # per file: one bad file never aborts the batch
        message = _describe(exc)
        if count:
            message += f" (after {count} document(s), which were kept)"
        errors.append(FileError(str(path), message))
        return
    if not count:
        errors.append(FileError(str(path), "no documents found"))


FileOutcome = tuple[list[ParsedDocument], "FileError | FileSkip | None"]


def _parse_file_safely(path: Path, max_file_bytes: int, parsers: Parsers | None = None) -> FileOutcome:
    """All documents of one file and its error or skip, if any. In a worker process ``parsers`` is
    None and the worker's own (loaded by ``_init_worker``) are used."""
    errors: list[FileError] = []
    skipped: list[FileSkip] = []
    documents = list(_documents_of(path, max_file_bytes, parsers or _worker_parsers or load_parsers(),
                                   errors, skipped))
    return documents, (errors[0] if errors else skipped[0] if skipped else None)


# --- the batch -----------------------------------------------------------------------------------

def iter_documents(paths: Sequence[str | Path], *, max_file_bytes: int, errors: list[FileError],
                   skipped: list[FileSkip] | None = None,
                   known_laws: Iterable[str] = ()) -> Iterator[ParsedDocument]:
    """Stream the documents of ``paths`` in file order, each document once (by id). Problems are
    appended to ``errors`` as they happen, files with nothing to ingest (folder indexes) to
    ``skipped``; nothing is raised for a bad file. ``known_laws``: law titles known besides the
    batch's own (e.g. those of an index the batch is added to); see :func:`known_law_titles`."""
    load_parsers()  # fails fast on a broken installation, before any file is read
    files = discover(paths, errors)
    parsers = load_parsers(known_law_titles(files, max_file_bytes=max_file_bytes, extra=known_laws))
    seen: set[str] = set()
    for path in files:
        yield from _unseen(_documents_of(path, max_file_bytes, parsers, errors, skipped), seen)


def _unseen(documents: Iterable[ParsedDocument], seen: set[str]) -> Iterator[ParsedDocument]:
    for parsed in documents:
        if parsed.document.id not in seen:
            seen.add(parsed.document.id)
            yield parsed


def ingest(paths: Sequence[str | Path], *, max_file_bytes: int, jobs: int = 1,
           known_laws: Iterable[str] = ()) -> IngestResult:
    """Parse everything under ``paths``. ``jobs > 1`` parses files in that many processes; the result
    is the same (same documents, same order) as with ``jobs=1``. ``known_laws``: as for
    :func:`iter_documents`."""
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    load_parsers()  # fails fast on a broken installation, before any file is parsed
    result = IngestResult()
    files = discover(paths, result.errors)
    # Paths that never became files (missing, broken links) still count as files the user named.
    result.files = len(files) + len(result.errors)
    laws = known_law_titles(files, max_file_bytes=max_file_bytes, extra=known_laws)
    if jobs == 1 or len(files) < 2:
        parsers = load_parsers(laws)
        per_file: Iterable[FileOutcome] = (_parse_file_safely(path, max_file_bytes, parsers) for path in files)
    else:
        per_file = _parse_in_processes(files, max_file_bytes, jobs, laws)
    seen: set[str] = set()
    for documents, problem in per_file:
        result.documents.extend(_unseen(documents, seen))
        if isinstance(problem, FileSkip):
            result.skipped.append(problem)
        elif problem:
            result.errors.append(problem)
    return result


def _parse_in_processes(files: list[Path], max_file_bytes: int, jobs: int,
                        known_laws: frozenset[str]) -> Iterator[FileOutcome]:
    """Parse files in a process pool, yielding results in file order. A worker that dies (a crash in
    a native library on a hostile file) costs only the file that killed it: see ``_after_crash``."""
    import multiprocessing

    # spawn, not fork: the caller may be a threaded server, and forking a threaded process can hang.
    context = multiprocessing.get_context("spawn")

    def new_pool(workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                                   initargs=(known_laws, os.getpid()))

    window = jobs * 4  # files in flight: keeps memory bounded and the order cheap to restore
    pool = new_pool(jobs)
    try:
        pending: list[tuple[Path, Future]] = []
        next_index = 0
        while next_index < len(files) or pending:
            while next_index < len(files) and len(pending) < window:
                path = files[next_index]
                pending.append((path, pool.submit(_parse_file_safely, path, max_file_bytes)))
                next_index += 1
            path, future = pending.pop(0)
            try:
                yield future.result()
                continue
            except BrokenProcessPool:
                pass
            # The pool died and took every in-flight file with it; the culprit may be any of them.
            # Parse this file alone to learn whether it is the one, then resubmit the others.
            pool.shutdown(wait=False, cancel_futures=True)
            yield _parse_alone(path, max_file_bytes, new_pool)
            pool = new_pool(jobs)
            pending = [(p, pool.submit(_parse_file_safely, p, max_file_bytes)) for p, _ in pending]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _parse_alone(path: Path, max_file_bytes: int,
                 new_pool: Callable[[int], ProcessPoolExecutor]) -> FileOutcome:
    pool = new_pool(1)
    try:
        return pool.submit(_parse_file_safely, path, max_file_bytes).result()
    except BrokenProcessPool:
        return [], FileError(str(path), "the parser process crashed on this file")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# Set once per worker process by _init_worker; the parent process never uses it.
_worker_parsers: Parsers | None = None


def _init_worker(known_laws: frozenset[str], parent_pid: int | None = None) -> None:
    """Runs in each worker: dies with its parent, loads the parsers once, and lets results (frozen
    dataclasses holding MappingProxyType metadata) be pickled back to the parent, which rebuilds
    them as read-only."""
    global _worker_parsers
    if parent_pid is not None:
        die_with_parent(parent_pid)
    os.environ.setdefault("DO_NOT_TRACK", "true")
    copyreg.pickle(MappingProxyType, _reduce_mapping_proxy)
    _worker_parsers = load_parsers(known_laws)


def _reduce_mapping_proxy(mapping: MappingProxyType) -> tuple:
    # The mappingproxy type itself cannot be pickled by name, so a module-level function rebuilds it.
    return _read_only_mapping, (dict(mapping),)


def _read_only_mapping(items: dict) -> MappingProxyType:
    return MappingProxyType(items)


def die_with_parent(parent_pid: int, *, poll_s: float = 1.0) -> None:
    """End this worker when ``parent_pid`` dies, however it dies (SIGKILL of a rebuild included):
    an orphaned parser keeps ~50 MB and its CPU, and the resource tracker lives as long as it does.
    Linux delivers SIGKILL at once (PR_SET_PDEATHSIG); a thread watching the parent's pid covers
    other systems and the moment before the signal was armed."""
    import signal
    import threading

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass  # the watcher thread still does it
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()
