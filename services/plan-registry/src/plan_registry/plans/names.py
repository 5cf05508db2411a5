"""Keys for matching names across documents: plan titles (a document's parent plans against the
registry) and indicator names (a plan's targets against its parent plans'), with the alias table."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from functools import cache
from importlib import resources

# Quotes, book-title marks and brackets are written every which way (“十四五” / "十四五" / 十四五).
_TITLE_NOISE = re.compile(r"[\s\"'“”‘’「」『』《》〈〉<>()\[\]【】〔〕{}·•.,:;!?、，。：；！？]")
_INDICATOR_NOISE = re.compile(r"[\s\"'“”‘’「」『』《》〈〉<>()\[\]【】〔〕{}·•.,:;!?、，。：；！？\-—_/]")
# The region's own scope is not part of what is measured (占全市总人口的比例 = 占总人口比例).
_SCOPE = re.compile(r"(?:全国|全省|全市|全县|全区|全旗|本省|本市|本县|本区)")
_DIGIT_WORDS = (("10万", "十万"), ("100万", "百万"), ("1万", "万"))


def title_key(title: str) -> str:
    """`title` without width, quote, bracket and space differences: equal keys, the same plan."""
    return _TITLE_NOISE.sub("", unicodedata.normalize("NFKC", title)).casefold()


def _fold(name: str) -> str:
    text = _INDICATOR_NOISE.sub("", unicodedata.normalize("NFKC", name)).casefold()
    text = _SCOPE.sub("", text)
    for digits, word in _DIGIT_WORDS:
        text = text.replace(digits, word)
    # 的 between words carries nothing (占地区生产总值的比例 = 占地区生产总值比例).
    return text.replace("的", "")


@cache
def _aliases() -> dict[str, str]:
    data = tomllib.loads(resources.files(__package__).joinpath("indicator_names.toml").read_text("utf-8"))
    table: dict[str, str] = {}
    for group in data["groups"]:
        canonical = _fold(group[0])
        for name in group:
            folded = _fold(name)
            if table.get(folded, canonical) != canonical:
                raise ValueError(f"indicator name {name!r} is in two alias groups")
            table[folded] = canonical
    return table


def indicator_key(name: str) -> str:
    """The key two indicator names share when they name the same indicator (by the alias table)."""
    folded = _fold(name)
    return _aliases().get(folded, folded)
