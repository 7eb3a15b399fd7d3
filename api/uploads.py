"""Storing uploaded files safely inside the uploads directory.

A client's file name never decides where a file goes: each upload is stored in a directory named by
the SHA-256 of its content (``<uploads>/<sha256[:32]>/``). Names that try to name a path
(``../../etc/passwd``, ``/etc/passwd``, ``C:\\x``, NUL or control characters) are refused with 400;
an acceptable name is sanitised to a single plain component and kept (a) as metadata and (b) as the
stored file's name inside its hash directory, because parsers read a law's version date or a
document's title from the file name (``专利法(2020-10-17).md``). Re-uploading the same content
reuses the stored file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Sequence

from api.errors import ProblemError

META_FILE = ".upload.json"  # hidden: the ingest pipeline skips hidden entries when walking uploads
INCOMING = ".incoming"
MAX_NAME_CHARS = 120
_COPY_BLOCK = 1 << 20
# %2F, %5C, %00… : a name that would become a path or a NUL once someone decodes it
_ENCODED_SEPARATOR = re.compile(r"%(?:[01][0-9a-f]|2f|5c|7f)", re.IGNORECASE)
_UNSAFE_CHARS = re.compile(r"[^\w\-.() （）\[\]·、，]+")


@dataclass(frozen=True)
class StoredUpload:
    path: Path
    filename: str  # sanitised original name
    sha256: str
    size: int
    duplicate: bool


# A name without an extension takes the one its part's Content-Type names (a client that sends
# "brief" as text/plain means brief.txt); a name with any other extension is judged by it alone.
EXTENSION_OF_MEDIA_TYPE = {
    "text/plain": ".txt", "text/markdown": ".md", "text/html": ".html", "application/xml": ".xml",
    "text/xml": ".xml", "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
}


def checked_filename(raw: str | None, *, allowed_extensions: frozenset[str], content_type: str | None = None) -> str:
    """The sanitised name of an upload; a 400/415 problem for a name that cannot be accepted."""
    if raw is None or not raw.strip():
        raise ProblemError(400, "an uploaded file has no file name", slug="bad-filename", title="Bad file name")
    shown = raw[:200].encode("unicode_escape").decode("ascii")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in raw):
        raise ProblemError(400, f"file name {shown!r} contains NUL or control characters", slug="bad-filename",
                           title="Bad file name")
    if _ENCODED_SEPARATOR.search(raw):
        raise ProblemError(400, f"file name {shown!r} contains a percent-encoded separator or control character",
                           slug="bad-filename", title="Bad file name")
    if "/" in raw or "\\" in raw or raw.startswith("~") or re.match(r"^[A-Za-z]:", raw):
        raise ProblemError(400, f"file name {shown!r} names a path; send a plain file name",
                           slug="bad-filename", title="Bad file name")
    name = unicodedata.normalize("NFC", raw).strip()
    if name in (".", "..") or name.startswith("."):
        raise ProblemError(400, f"file name {shown!r} is not a plain file name", slug="bad-filename",
                           title="Bad file name")
    suffix = Path(name).suffix.lower()
    media_type = (content_type or "").split(";")[0].strip().lower()
    if not suffix and EXTENSION_OF_MEDIA_TYPE.get(media_type) in allowed_extensions:
        suffix = EXTENSION_OF_MEDIA_TYPE[media_type]
        name += suffix
    if suffix not in allowed_extensions:
        raise ProblemError(415, f"file {shown!r}: type {suffix or '(no extension)'} is not accepted; accepted: "
                                f"{', '.join(sorted(allowed_extensions))}", slug="unsupported-type",
                           title="Unsupported file type")
    stem = _UNSAFE_CHARS.sub("_", Path(name).stem).strip(" ._") or "upload"
    return stem[:MAX_NAME_CHARS - len(suffix)] + suffix


def store_upload(uploads_dir: Path, filename: str, stream: BinaryIO, *, max_bytes: int) -> StoredUpload:
    """Copy ``stream`` into the uploads directory under its content hash (413 when too big)."""
    incoming = uploads_dir / INCOMING
    incoming.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(dir=incoming)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            while block := stream.read(_COPY_BLOCK):
                size += len(block)
                if size > max_bytes:
                    raise ProblemError(413, f"file {filename!r} is larger than the limit of {max_bytes} bytes",
                                       slug="upload-too-large", title="Upload too large")
                digest.update(block)
                out.write(block)
        if size == 0:
            raise ProblemError(400, f"file {filename!r} is empty", slug="empty-upload", title="Empty upload")
        sha = digest.hexdigest()
        target_dir = uploads_dir / sha[:32]
        existing = _existing(target_dir)
        if existing is not None:
            return StoredUpload(existing, _stored_name(target_dir, existing), sha, size, duplicate=True)
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / filename
        # the sanitised name is one plain component; make sure nothing can still point outside
        if target.resolve().parent != target_dir.resolve():
            raise ProblemError(400, f"file name {filename!r} is not a plain file name", slug="bad-filename",
                               title="Bad file name")
        os.replace(tmp, target)
        # "pending" until its add job has indexed it (or kept it as a copy): one left pending by a
        # job that never finished is removed at startup (sweep_pending_uploads)
        meta = {"original_name": filename, "sha256": sha, "size": size, "state": "pending",
                "uploaded_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
        (target_dir / META_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        return StoredUpload(target, filename, sha, size, duplicate=False)
    finally:
        tmp.unlink(missing_ok=True)


def _existing(target_dir: Path) -> Path | None:
    if not target_dir.is_dir():
        return None
    files = [p for p in target_dir.iterdir() if p.is_file() and not p.name.startswith(".")]
    return files[0] if files else None


def _stored_name(target_dir: Path, path: Path) -> str:
    try:
        return str(json.loads((target_dir / META_FILE).read_text(encoding="utf-8"))["original_name"])
    except (OSError, ValueError, KeyError):
        return path.name


def display_name(path: str | Path, uploads_dir: Path) -> str:
    """What a client is shown for a server path: an upload's original name, never a server path.

    Pure path arithmetic for everything but uploads (called for every document of every response)."""
    parts = Path(path).parts
    root = uploads_dir.parts
    if len(parts) == len(root) + 2 and parts[:len(root)] == root:
        return _stored_name(uploads_dir / parts[len(root)], Path(path))
    return parts[-1] if parts else str(path)


def _meta(upload_dir: Path) -> dict:
    try:
        meta = json.loads((upload_dir / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def mark_upload(path: Path, **fields: object) -> None:
    """Record ``fields`` (state, already_indexed_as) in an upload's metadata."""
    upload_dir = path.parent
    meta = _meta(upload_dir)
    meta.update(fields)
    tmp = upload_dir / (META_FILE + ".tmp")
    tmp.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, upload_dir / META_FILE)


def upload_dirs(uploads_dir: Path) -> list[Path]:
    if not uploads_dir.is_dir():
        return []
    return [p for p in uploads_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]


def uploads_copying(uploads_dir: Path, document_ids: Sequence[str]) -> list[Path]:
    """Uploads kept because their content was already indexed as one of ``document_ids``."""
    wanted = set(document_ids)
    found: list[Path] = []
    for upload_dir in upload_dirs(uploads_dir):
        if wanted & set(_meta(upload_dir).get("already_indexed_as") or ()):
            stored = _existing(upload_dir)
            if stored is not None:
                found.append(stored)
    return found


def pending_uploads(uploads_dir: Path, *, older_than_s: float = 0.0) -> list[Path]:
    """Uploads whose add job has not finished (still running, or stopped with the service), stored
    at least ``older_than_s`` ago."""
    import time

    found: list[Path] = []
    for upload_dir in upload_dirs(uploads_dir):
        if _meta(upload_dir).get("state") != "pending":
            continue
        try:
            age = time.time() - (upload_dir / META_FILE).stat().st_mtime
        except OSError:
            age = older_than_s
        if age >= older_than_s:
            stored = _existing(upload_dir)
            found.append(stored if stored is not None else upload_dir / "missing")
    return found


def is_pending(path: Path) -> bool:
    """Whether the stored upload ``path`` still waits for its add job."""
    return _meta(path.parent).get("state") == "pending"


def accepted_uploads(uploads_dir: Path) -> list[Path]:
    """The stored files of the uploads that are not pending (uploads from before the state was
    recorded count as accepted)."""
    found: list[Path] = []
    for upload_dir in sorted(upload_dirs(uploads_dir)):
        stored = _existing(upload_dir)
        if stored is not None and _meta(upload_dir).get("state") != "pending":
            found.append(stored)
    return found


def find_upload(uploads_dir: Path, key: str) -> Path | None:
    """The stored upload whose SHA-256 (or its 32-character directory name) is ``key``."""
    if not re.fullmatch(r"[0-9a-f]{32}(?:[0-9a-f]{32})?", key):
        return None
    upload_dir = uploads_dir / key[:32]
    stored = _existing(upload_dir)
    if stored is None:
        return None
    sha = str(_meta(upload_dir).get("sha256") or "")
    return stored if len(key) == 32 or sha == key else None
