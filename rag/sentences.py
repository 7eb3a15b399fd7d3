"""Sentence spans in Chinese and English legal text, as (start, end) offsets into the original, so
that whatever is quoted from them stays verbatim."""

from __future__ import annotations

import re

# A sentence ends at a Chinese stop (。！？；), at an English stop or semicolon followed by space and
# something that starts a sentence (so "35 U.S.C. § 271" and "No. 5" are not split), or at a newline.
BOUNDARY = re.compile(r"[。！？；]+[」』”’）)]*|[.!?;]+[\"'”’)]*(?=\s+[A-Z(\[\"“‘「])|\n")


def sentence_spans(text: str, *, min_chars: int = 1) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``, surrounding whitespace excluded."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in BOUNDARY.finditer(text):
        end = match.end() if match.group() != "\n" else match.start()
        _append(spans, text, start, end, min_chars)
        start = match.end()
    _append(spans, text, start, len(text), min_chars)
    return spans


def _append(spans: list[tuple[int, int]], text: str, start: int, end: int, min_chars: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end - start >= min_chars:
        spans.append((start, end))


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]
