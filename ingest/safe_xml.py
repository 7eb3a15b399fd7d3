"""Parsing untrusted XML without entity expansion, external entities or network access.

Uploaded files are untrusted, so two classic attacks must fail closed:

* XXE — ``<!ENTITY x SYSTEM "file:///etc/passwd">`` would copy a local file into the text;
* entity bombs ("billion laughs") — nested internal entities expand to gigabytes.

Both need entity *declarations* in a DOCTYPE's internal subset, so a DOCTYPE that declares parsed
entities is refused before lxml sees it. USPTO files carry a DOCTYPE too (naming an external DTD we
never load) and the 2001 ``pap`` format declares unparsed ``NDATA`` image entities, which are
inert: those DOCTYPEs are simply dropped. Named character entities that only the USPTO DTD defines
(``&lsquo;``, ``&deg;``, ``&minus;``) are rewritten to numeric character references beforehand, so
nothing depends on the DTD.
"""

from __future__ import annotations

import re
from html.entities import html5

from lxml import etree

from ipqa.errors import InputError

_XML_BUILTIN_ENTITIES = frozenset({b"amp", b"lt", b"gt", b"quot", b"apos"})

# ISO 8879 Greek entity names (``&agr;`` = alpha) appear in old USPTO text but are not HTML5 names.
_ISO_GREEK = dict(zip(
    "agr bgr ggr dgr egr zgr eegr thgr igr kgr lgr mgr ngr xgr ogr pgr rgr sgr tgr ugr phgr khgr psgr ohgr"
    .split(),
    "αβγδεζηθικλμνξοπρστυφχψω",
))
_ISO_GREEK.update({name.capitalize(): ch.upper() for name, ch in _ISO_GREEK.items()})

_DOCTYPE = re.compile(rb"<!DOCTYPE\b", re.IGNORECASE)
_ENTITY_DECL = re.compile(rb"<!ENTITY\b(?P<body>[^>]*)>", re.IGNORECASE | re.DOTALL)
# An unparsed entity: <!ENTITY name SYSTEM "file.tif" NDATA TIF> — never expanded into text.
_QUOTED = rb"(?:\"[^\"]*\"|'[^']*')"
_NDATA_DECL = re.compile(
    rb"\s+[\w.\-:]+\s+(?:SYSTEM\s+" + _QUOTED + rb"|PUBLIC\s+" + _QUOTED + rb"\s+" + _QUOTED + rb")"
    rb"\s+NDATA\s+[\w.\-:]+\s*",
    re.DOTALL,
)
_NAMED_REF = re.compile(rb"&([A-Za-z][A-Za-z0-9]{0,31});")

_PROLOG_SPACE = re.compile(rb"[ \t\r\n]*")


def parse_xml_bytes(data: bytes, *, source: str) -> etree._Element:
    """Parse ``data`` safely and return its root element.

    Raises :class:`InputError` naming ``source`` for malformed or truncated XML and for a DOCTYPE
    that declares parsed entities (internal or external), which are refused, never expanded.
    """
    body = strip_doctype(as_utf8(data, source=source), source=source)
    body = replace_named_entities(body)
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
    )
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise InputError(source, f"malformed or truncated XML: {exc}") from None
    if root is None:
        raise InputError(source, "no XML root element")
    return root


def as_utf8(data: bytes, *, source: str) -> bytes:
    """UTF-16 XML re-encoded as UTF-8 (declaration's encoding dropped), so that the byte-level
    DOCTYPE and entity checks below see every file the same way; other data is returned as is."""
    head = data[:4]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif head.startswith(b"<\x00"):
        encoding = "utf-16-le"
    elif head.startswith(b"\x00<"):
        encoding = "utf-16-be"
    else:
        return data
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(source, f"XML declared as UTF-16 cannot be decoded: {exc.reason}") from None
    text = re.sub(r"^(\ufeff?\s*<\?xml[^>]*?)\s+encoding=([\"'])[^\"']*\2", r"\1", text)
    return text.lstrip("\ufeff").encode("utf-8")


def strip_doctype(data: bytes, *, source: str) -> bytes:
    """Remove the DOCTYPE (we never use a DTD); refuse one that declares parsed entities.

    The DOCTYPE is looked for by walking the prolog (XML declaration, comments, processing
    instructions) however long it is: a megabyte of comment before it must not hide it."""
    start = _doctype_start(data)
    if start is None:
        return data
    end = _doctype_end(data, start + len(b"<!DOCTYPE"))
    if end is None:
        raise InputError(source, "unterminated DOCTYPE declaration")
    declaration = data[start:end]
    for entity in _ENTITY_DECL.finditer(declaration):
        if not _NDATA_DECL.fullmatch(entity.group("body")):
            raise InputError(
                source,
                "DOCTYPE declares entities; refused (entity expansion and external entities are "
                "not allowed in uploaded XML)",
            )
    return data[:start] + data[end:]


def _doctype_start(data: bytes) -> int | None:
    """Offset of the DOCTYPE in the prolog, or None when the prolog has none (the first element,
    text or the end comes first). Linear in the prolog's length."""
    i = 0
    if data.startswith(b"\xef\xbb\xbf"):
        i = 3
    while True:
        i = _PROLOG_SPACE.match(data, i).end()
        if data.startswith(b"<?", i):
            end = data.find(b"?>", i + 2)
        elif data.startswith(b"<!--", i):
            end = data.find(b"-->", i + 4)
        elif _DOCTYPE.match(data, i):
            return i
        else:
            return None
        if end < 0:
            return None  # unterminated: the parser reports the malformed file
        i = end + (2 if data[end:end + 2] == b"?>" else 3)


def _doctype_end(head: bytes, start: int) -> int | None:
    """Offset just past the DOCTYPE that starts before ``start``, honouring quotes and ``[...]``."""
    quote: int | None = None
    depth = 0
    for i in range(start, len(head)):
        ch = head[i]
        if quote is not None:
            if ch == quote:
                quote = None
        elif ch in (0x22, 0x27):  # " '
            quote = ch
        elif ch == 0x5B:  # [
            depth += 1
        elif ch == 0x5D:  # ]
            depth = max(0, depth - 1)
        elif ch == 0x3E and depth == 0:  # >
            return i + 1
    return None


def replace_named_entities(data: bytes) -> bytes:
    """``&deg;`` -> ``&#176;``; the five XML entities stay; unknown names stay visible as text."""

    def substitute(match: re.Match[bytes]) -> bytes:
        name = match.group(1)
        if name in _XML_BUILTIN_ENTITIES:
            return match.group(0)
        text_name = name.decode("ascii")
        chars = html5.get(text_name + ";") or _ISO_GREEK.get(text_name)
        if chars is None:
            return b"&amp;" + name + b";"  # keep the reference readable rather than fail the file
        return b"".join(b"&#%d;" % ord(ch) for ch in chars)

    return _NAMED_REF.sub(substitute, data)
