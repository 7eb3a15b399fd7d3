"""Bytes -> text for files that carry no reliable encoding label (.md, .txt, undeclared HTML).

Chinese legal texts still circulate in GBK/GB18030, so the order is: a byte-order mark, strict UTF-8,
strict GB18030 when the result is plausibly Chinese, then charset-normalizer's best guess. Bytes that
are not text at all (NUL bytes, many control characters, nothing decodes) are refused rather than
turned into mojibake that would be indexed and cited.
"""

from __future__ import annotations

import codecs
import re

from ipqa.errors import InputError

# Longest BOMs first: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Text may contain a few stray control characters (form feeds from PDFs, a lone ESC); binary data
# has many. Above this share of the decoded characters the "text" is refused.
MAX_CONTROL_SHARE = 0.01
# GB18030 maps almost every byte sequence to *something*; accept its decoding only when most of the
# non-ASCII characters it yields are CJK ideographs or CJK punctuation (what a GBK file really holds).
MIN_CJK_SHARE_FOR_GB18030 = 0.8
# C0/C1 controls other than whitespace, the replacement character (a decoder gave up) and private-use
# code points: none of them occur in real legal text. A regex keeps this fast on 28 MB corpora.
_NOT_TEXT = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd\ue000-\uf8ff]")


def decode_text(data: bytes, source: str) -> str:
    """Decode ``data`` (the bytes of ``source``) to text with ``\\n`` line ends and no BOM.

    Raises InputError(source, "empty file") for empty or whitespace-only data and
    InputError(source, "binary data, not text") for data that is not text in any encoding.
    """
    if not data.strip():
        raise InputError(source, "empty file")
    text = _decode(data, source)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise InputError(source, "empty file")
    if control_share(text) > MAX_CONTROL_SHARE:
        raise InputError(source, "binary data, not text")
    return text


def _decode(data: bytes, source: str) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(encoding)
            except UnicodeDecodeError:
                raise InputError(source, f"binary data, not text (invalid {encoding} after its BOM)") from None
    # Without a UTF-16/32 BOM, a NUL byte means binary (no 8-bit text encoding uses it).
    if b"\x00" in data:
        raise InputError(source, "binary data, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and cjk_share_of_non_ascii(text) >= MIN_CJK_SHARE_FOR_GB18030:
        return text
    return _guess(data, source)


def _guess(data: bytes, source: str) -> str:
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise InputError(source, "binary data, not text")
    return str(best)


def is_cjk(ch: str) -> bool:
    """A CJK ideograph (the characters that make a text Chinese)."""
    code = ord(ch)
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2FA1F
            or 0xF900 <= code <= 0xFAFF)


def _is_cjk_punctuation(ch: str) -> bool:
    code = ord(ch)
    return 0x3000 <= code <= 0x303F or 0xFF00 <= code <= 0xFFEF


def cjk_share_of_non_ascii(text: str) -> float:
    non_ascii = [ch for ch in text if ord(ch) > 0x7F]
    if not non_ascii:
        return 1.0
    cjk = sum(1 for ch in non_ascii if is_cjk(ch) or _is_cjk_punctuation(ch))
    return cjk / len(non_ascii)


def control_share(text: str) -> float:
    """Share of characters that never occur in real text (controls other than whitespace, U+FFFD…)."""
    if not text:
        return 0.0
    return len(_NOT_TEXT.findall(text)) / len(text)
