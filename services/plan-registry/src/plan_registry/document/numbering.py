"""List and heading numbers at the start of a paragraph: 一、 / （一） / 1. / （1） / ① / 第一章."""

from __future__ import annotations

import re
from dataclasses import dataclass

_CN_DIGITS = {
    "〇": 0,
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN = "一二三四五六七八九十百零〇两"

# Matched on normalised text (half-width brackets and digits). Order matters: the bracketed forms
# must be tried before the bare ones.
_STYLES: list[tuple[str, re.Pattern[str]]] = [
    ("chapter", re.compile(rf"\s*第\s*([{_CN}\d]+)\s*章\s*")),
    ("part", re.compile(rf"\s*第\s*([{_CN}\d]+)\s*节\s*")),
    ("paren_cn", re.compile(rf"\s*\(\s*([{_CN}]+)\s*\)\s*[、.]?\s*")),
    ("cn", re.compile(rf"\s*([{_CN}]+)\s*[、.]\s*")),
    ("paren_arabic", re.compile(r"\s*\(\s*(\d{1,3})\s*\)\s*[、.]?\s*")),
    # 1. / 1、 but not a decimal (1.5亿) and not a year (2023 年).
    ("arabic", re.compile(r"\s*(\d{1,3})\s*[.、](?!\d)\s*")),
    ("circled", re.compile(r"\s*([①-⑳])\s*")),
]


@dataclass(frozen=True)
class Number:
    style: str
    value: int
    end: int  # offset just past the number and its punctuation
    marker: str  # the number as written, half-width, without spaces: `(1)`, `一、`, `3.`


def cn_value(text: str) -> int | None:
    """Value of a Chinese numeral up to the hundreds (十四 → 14, 二十三 → 23, 一百零五 → 105)."""
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for ch in text:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


def leading_number(normed: str) -> Number | None:
    """The number a (normalised) paragraph starts with, if any."""
    for style, pattern in _STYLES:
        match = pattern.match(normed)
        if not match:
            continue
        raw = match.group(1)
        value = ord(raw) - ord("①") + 1 if style == "circled" else cn_value(raw)
        if value is None or value == 0:
            continue
        marker = re.sub(r"\s+", "", normed[: match.end()])
        return Number(style=style, value=value, end=match.end(), marker=marker)
    return None
