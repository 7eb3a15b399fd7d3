"""Chinese numerals as statutes write them (第一百二十条之一, 第二十九款) <-> integers, and the dates
statutes and judgments write with them (二〇二〇年十月十七日)."""

from __future__ import annotations

import datetime as dt
import re

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
           "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_BIG = {"万": 10_000}
CN_NUMERAL_CHARS = "".join(_DIGITS) + "".join(_UNITS) + "".join(_BIG)


def cn_to_int(text: str) -> int:
    """``"一百二十三"`` -> 123; also accepts Arabic digits (``"123"``, full-width too).

    Raises ValueError naming the text when it is not a numeral.
    """
    s = text.strip()
    if not s:
        raise ValueError("empty numeral")
    ascii_digits = s.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if ascii_digits.isdigit():
        return int(ascii_digits)
    total, section, number = 0, 0, 0
    for ch in s:
        if ch in _DIGITS:
            number = _DIGITS[ch]
        elif ch in _UNITS:
            section += (number or 1) * _UNITS[ch]  # 十二 = 12: a leading 十 means 一十
            number = 0
        elif ch in _BIG:
            total += (section + number) * _BIG[ch]
            section, number = 0, 0
        else:
            raise ValueError(f"not a Chinese numeral: {text!r}")
    return total + section + number


def int_to_cn(n: int) -> str:
    """123 -> ``"一百二十三"``; 10 -> ``"十"``; 110 -> ``"一百一十"`` (the statutes' own forms)."""
    if n < 0:
        raise ValueError(f"negative numeral: {n}")
    if n == 0:
        return "零"
    digits = "零一二三四五六七八九"
    if n >= 10_000:
        high, low = divmod(n, 10_000)
        rest = int_to_cn(low) if low else ""
        if low and low < 1000:
            rest = "零" + rest
        return int_to_cn(high) + "万" + rest
    out = []
    for unit_value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d, n = divmod(n, unit_value)
        if d:
            out.append(digits[d] + unit)
        elif out and n:
            if out[-1] != "零":
                out.append("零")
    text = "".join(out)
    return text[1:] if text.startswith("一十") else text


CN_DATE = re.compile(
    r"(?P<y>[0-9]{4}|[０-９]{4}|[〇零一二三四五六七八九]{4})年"
    r"(?P<m>[0-9０-９]{1,2}|[一二三四五六七八九十]{1,3})月"
    r"(?P<d>[0-9０-９]{1,2}|[一二三四五六七八九十]{1,3})日"
)


def parse_cn_date(text: str) -> str | None:
    """``2020年10月17日`` / ``二〇二〇年十月十七日`` -> ``2020-10-17``; the last date in ``text``."""
    found = None
    for match in CN_DATE.finditer(text):
        year = match["y"]
        if year[0] in "〇零一二三四五六七八九":
            year = "".join(str("〇一二三四五六七八九".index(c) if c != "零" else 0) for c in year)
        try:
            found = dt.date(cn_to_int(year), cn_to_int(match["m"]), cn_to_int(match["d"])).isoformat()
        except ValueError:
            continue
    return found
