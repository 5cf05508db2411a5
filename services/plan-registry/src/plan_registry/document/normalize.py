"""Width normalisation that keeps every character where it was.

Government documents mix full-width and half-width forms freely (（1） / (1), ＜ / <, １５％ / 15%).
Matching runs on a normalised copy whose characters map one to one onto the original, so an offset
found in the copy cuts the original text (kept as written in `target_text`, titles and unit names).
"""

from __future__ import annotations

import re

_TABLE: dict[int, int] = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_TABLE.update(
    {
        0x3000: 0x20,  # ideographic space
        0x00A0: 0x20,  # no-break space left by web pages
        0x2002: 0x20,
        0x2003: 0x20,
        0x2009: 0x20,
        0x200B: 0x20,  # zero-width space (kept as a space so lengths do not change)
        0xFEFF: 0x20,  # stray BOM inside the text
    }
)

# Brackets that enclose a name part, such as 各县〈市、区〉人民政府: a list separator inside them
# does not separate list items.
OPENERS = "(〈《【[「〔"
CLOSERS = ")〉》】]」〕"

_SPACE_NEAR_CJK = re.compile(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])")


def norm(text: str) -> str:
    """Half-width copy of `text` with exactly the same length."""
    return text.translate(_TABLE)


def squeeze(text: str) -> str:
    """Drop whitespace next to Chinese characters (conversion leaves `省及市 “十四五”`), keep it between
    Latin words."""
    return _SPACE_NEAR_CJK.sub("", text).strip()


def bracket_depths(normed: str) -> list[int]:
    """Nesting depth before each character of a normalised string (unbalanced closers are ignored)."""
    depths: list[int] = []
    depth = 0
    for ch in normed:
        depths.append(depth)
        if ch in OPENERS:
            depth += 1
        elif ch in CLOSERS and depth:
            # A mismatched closer still closes: conversions pair （ with ) freely.
            depth -= 1
    return depths


def unclosed(normed: str) -> bool:
    """True when the text ends inside an open bracket (a note broken across lines)."""
    depth = 0
    for ch in normed:
        if ch in OPENERS:
            depth += 1
        elif ch in CLOSERS and depth:
            depth -= 1
    return depth > 0
