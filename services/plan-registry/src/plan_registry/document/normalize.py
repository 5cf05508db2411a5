"""Width normalisation that keeps every character where it was.

Government documents mix full-width and half-width forms freely (（1） / (1), ＜ / <, １５％ / 15%).
Matching runs on a normalised copy whose characters map one to one onto the original, so an offset
found in the copy cuts the original text (kept as written in `target_text`, titles and unit names).
"""

from __future__ import annotations

import re

_MAP: dict[str, str] = {chr(cp): chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)}
# Spaces of every width become one plain space (zero-width ones too, so lengths do not change).
_MAP.update(dict.fromkeys("\u3000\u00a0\u2002\u2003\u2009\u200b\ufeff", " "))
_WIDE = re.compile("[" + "".join(re.escape(ch) for ch in _MAP) + "]")

# Brackets that enclose a name part, such as 各县〈市、区〉人民政府: a list separator inside them
# does not separate list items.
OPENERS = "(〈《【[「〔"
CLOSERS = ")〉》】]」〕"
_BRACKET = re.compile("[" + re.escape(OPENERS + CLOSERS) + "]")
_SPACE_NEAR_CJK = re.compile(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])")


def norm(text: str) -> str:
    """Half-width copy of `text` with exactly the same length."""
    return _WIDE.sub(lambda match: _MAP[match.group()], text)


def squeeze(text: str) -> str:
    """Drop whitespace next to Chinese characters (conversion leaves `省及市 “十四五”`), keep it between
    Latin words."""
    return _SPACE_NEAR_CJK.sub("", text).strip()


def bracket_depths(normed: str) -> list[int]:
    """Nesting depth before each character of a normalised string (unbalanced closers are ignored;
    a mismatched closer still closes, since conversions pair （ with ) freely)."""
    depths: list[int] = []
    depth = 0
    position = 0
    for match in _BRACKET.finditer(normed):
        index = match.start()
        depths.extend([depth] * (index + 1 - position))
        position = index + 1
        if match.group() in OPENERS:
            depth += 1
        elif depth:
            depth -= 1
    depths.extend([depth] * (len(normed) - position))
    return depths


def bracket_spans(normed: str) -> list[tuple[int, int]]:
    """Outermost bracketed spans as (start, end). An unclosed bracket runs to the end of the text
    (notes broken across pages lose their closer in conversion)."""
    spans: list[tuple[int, int]] = []
    depth = 0
    start = 0
    for match in _BRACKET.finditer(normed):
        if match.group() in OPENERS:
            if depth == 0:
                start = match.start()
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                spans.append((start, match.end()))
    if depth:
        spans.append((start, len(normed)))
    return spans


def unclosed(normed: str) -> bool:
    """True when the text ends inside an open bracket (a note broken across lines)."""
    depth = 0
    for match in _BRACKET.finditer(normed):
        if match.group() in OPENERS:
            depth += 1
        elif depth:
            depth -= 1
    return depth > 0
