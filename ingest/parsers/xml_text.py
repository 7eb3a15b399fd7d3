"""Readable text out of XML elements (USLM statutes, USPTO patents).

``itertext()`` glues block elements together ("...comprising:providing a substrate...") and keeps the
source's layout whitespace. Here block-level children become line breaks, every other run of
whitespace becomes one space, and processing instructions/comments contribute nothing but their tail.
"""

from __future__ import annotations

from typing import Iterable

from lxml import etree

_BREAK = "\u2029"  # paragraph separator: marks a line break until whitespace is normalised


def local_name(element: etree._Element) -> str:
    """Tag without namespace (``{http://xml.house.gov/schemas/uslm/1.0}section`` -> ``section``)."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def readable_text(
    element: etree._Element,
    *,
    block_tags: Iterable[str] = (),
    skip_tags: Iterable[str] = (),
    cell_tags: Iterable[str] = ("entry", "td", "th"),
) -> str:
    """The text of ``element``: one line per block element, single spaces inside lines.

    ``skip_tags`` are left out entirely (their tails are kept); ``cell_tags`` are separated by
    `` | `` so table cells stay apart.
    """
    blocks, skips, cells = frozenset(block_tags), frozenset(skip_tags), frozenset(cell_tags)
    pieces: list[str] = []

    def walk(node: etree._Element) -> None:
        if node.text and isinstance(node.tag, str):
            pieces.append(node.text)
        for child in node:
            name = local_name(child)
            if name and name not in skips:
                if name in blocks:
                    pieces.append(_BREAK)
                    walk(child)
                    pieces.append(_BREAK)
                elif name in cells:
                    walk(child)
                    pieces.append(" | ")
                else:
                    walk(child)
            if child.tail:
                pieces.append(child.tail)

    walk(element)
    return normalize_lines("".join(pieces))


def normalize_lines(text: str) -> str:
    """Collapse whitespace inside lines (split at ``_BREAK``) and drop empty lines."""
    lines = (" ".join(segment.split()).rstrip("| ") for segment in text.split(_BREAK))
    return "\n".join(line for line in lines if line)


def child_text(parent: etree._Element | None, name: str) -> str:
    """Readable text of the first direct child called ``name`` (namespace ignored), or ``""``."""
    if parent is None:
        return ""
    for child in parent:
        if local_name(child) == name:
            return readable_text(child)
    return ""
