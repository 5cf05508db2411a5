"""Target text → Target: 下降15% / ＜0.03 / 控制在…以内 / 达到90% / 不少于50人 / xx%."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from .models import Target, TargetType, TargetUnit
from .normalize import norm

# A blank left in a template plan instead of a number: xx%, XX, ××, ＊＊, （ ）%, ____.
PLACEHOLDER = r"(?:[xX×*]{1,4}|[□■○]+|\(\s*\)|_{2,})"
NUMBER = r"\d+(?:\.\d+)?"
_VALUE = re.compile(rf"(?P<num>{NUMBER})\s*(?P<wan>万)?|(?P<ph>{PLACEHOLDER})")
_UNITS: list[tuple[str, TargetUnit]] = [
    ("%", "%"),
    ("‰", "‰"),
    ("个百分点", "%"),
    ("小时", "hours"),
    ("h", "hours"),
    ("人", "people"),
    ("名", "people"),
]
# After the unit: 以上 turns a value into a floor, 以内/以下/内 into a ceiling.
_FLOOR_SUFFIX = re.compile(r"^\s*(?:以上|及以上)")
_CEILING_SUFFIX = re.compile(r"^\s*(?:以内|之内|以下|及以下|内)")
_UNIT_LIKE = re.compile(r"^\s*[\u4e00-\u9fff]")

# Comparison words, longest and negated forms first (不少于 must not be read as 少于).
_COMPARATORS: list[tuple[str, TargetType, bool]] = [
    (r"不少于|不低于|不小于|至少|≥|>=", "min", False),
    (r"不超过|不高于|不大于|最多|≤|<=", "max", False),
    (r"(?:下降|降低|减少|压减|缩短|压降)(?:到|至)|降至|降到|控制在|控制到|缩短为", "max", False),
    (r"低于|小于|少于|<", "max", True),
    (r"超过|高于|大于|多于|>", "min", True),
    (r"(?:提高|提升|增加|增长|上升)(?:到|至)|达到|达|力争达到", "min", False),
    (r"(?:下降|降低|减少|压减|压降)(?:了)?", "decrease_pct", False),
    (r"保持在|稳定在|保持|稳定|=", "equals", False),
]
COMPARATOR = "|".join(pattern for pattern, _, _ in _COMPARATORS)


@dataclass(frozen=True)
class TargetReading:
    target: Target | None
    problem: str | None  # `unsupported_unit` or `not_understood` when target is None


def read_target(text: str) -> TargetReading:
    """Read a target as written in a table cell or a goal clause."""
    normed = norm(text)
    comparator: tuple[TargetType, bool] | None = None
    position = 0
    for pattern, kind, strict in _COMPARATORS:
        match = re.search(pattern, normed)
        if match and (comparator is None or match.start() < position):
            comparator, position = (kind, strict), match.start()
    value_match = _VALUE.search(normed, position)
    if value_match is None:
        return TargetReading(None, "not_understood")
    after = normed[value_match.end() :]
    unit: TargetUnit | None = None
    for written, code in _UNITS:
        if after.lstrip().startswith(written) and not after.lstrip().startswith("人次"):
            unit = code
            after = after.lstrip()[len(written) :]
            break
    else:
        if _UNIT_LIKE.match(after) and not _FLOOR_SUFFIX.match(after) and not _CEILING_SUFFIX.match(after):
            # 亿千瓦, 平方米, 座…: a unit the indicator model does not carry.
            if not re.match(r"^\s*(?:人次|左右|以上|以内)", after):
                return TargetReading(None, "unsupported_unit")
    kind, strict = comparator if comparator else ("equals", False)
    if _FLOOR_SUFFIX.match(after):
        kind, strict = "min", False
    elif _CEILING_SUFFIX.match(after) and kind != "decrease_pct":
        kind, strict = "max", False
    if value_match.group("ph"):
        return TargetReading(Target(type="placeholder", value=None, unit=unit, strict=strict), None)
    value = Decimal(value_match.group("num"))
    if value_match.group("wan"):
        value = value * 10000
        if value == value.to_integral_value():
            value = value.quantize(Decimal(1))
    if kind == "decrease_pct" and unit != "%":
        return TargetReading(None, "not_understood")
    return TargetReading(Target(type=kind, value=value, unit=unit, strict=strict), None)
