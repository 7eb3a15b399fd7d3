"""Limits on what a zip-based upload (DOCX) may inflate to, and on the chunks of one document.

Both size limits of the service (upload bytes, file bytes) see only the compressed file: a 35 KB
DOCX whose ``word/document.xml`` is 10 MB of one repeated paragraph was accepted and became ~7,800
chunks and minutes of CPU under the index lock; a 340 KB one inflated to 100 MB of XML and 1.1 GB of
memory. The zip's central directory states every member's sizes before anything is inflated, and
:mod:`zipfile` never inflates a member past its stated size (it fails the CRC instead), so checking
the stated sizes is enough to refuse such a file before it is opened.
"""

from __future__ import annotations

import io
import zipfile

from ipqa.errors import InputError

MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024  # all members together
MAX_COMPRESSION_RATIO = 100  # a real document.xml compresses 5-20x; a bomb of repeats, hundreds of x
RATIO_FLOOR_BYTES = 1024 * 1024  # smaller members may compress arbitrarily well (empty parts)
MAX_MEMBERS = 10_000
MAX_CHUNKS_PER_DOCUMENT = 5_000  # the largest real documents have ~1,300 (民法典)


def check_zip_archive(data: bytes, source: str, *, max_bytes: int = MAX_DECOMPRESSED_BYTES,
                      max_ratio: float = MAX_COMPRESSION_RATIO) -> None:
    """Raise InputError naming ``source`` when the archive would inflate too far."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return  # not a zip at all: the format's own reader says so in its terms ("not a readable DOCX")
    if len(members) > MAX_MEMBERS:
        raise InputError(source, f"the archive has {len(members):,} members; the limit is {MAX_MEMBERS:,}")
    total = 0
    for member in members:
        total += member.file_size
        if total > max_bytes:
            raise InputError(source, f"the archive inflates to more than {max_bytes:,} bytes (the limit); "
                                     "refused as a possible decompression bomb")
        ratio = member.file_size / max(1, member.compress_size)
        if member.file_size > RATIO_FLOOR_BYTES and ratio > max_ratio:
            raise InputError(source, f"member {member.filename!r} inflates {ratio:,.0f}x "
                                     f"({member.compress_size:,} -> {member.file_size:,} bytes; the limit is "
                                     f"{max_ratio:g}x); refused as a possible decompression bomb")


def check_chunk_count(count: int, source: str, *, limit: int = MAX_CHUNKS_PER_DOCUMENT) -> None:
    if count > limit:
        raise InputError(source, f"a document of {count:,} chunks; the limit is {limit:,} per document")
