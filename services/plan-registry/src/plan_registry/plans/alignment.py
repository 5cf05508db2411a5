"""Alignment with higher-level plans: is each of a plan's targets at least as demanding as its parent
plan's target for the same indicator? Pure rules, no database.

- Same target type and unit only; anything else is `incomparable`, for a person to judge.
- `decrease_pct`: the larger fall is stronger (下降10% under 下降15% is weaker).
- `max`: the lower ceiling is stronger (＜0.03 under ＜0.04); at the same value a strict bound (＜)
  is stronger than an inclusive one (以内, 控制在).
- `min`: the higher floor is stronger (达到95% under 达到90%); at the same value a strict bound
  (超过) is stronger than an inclusive one (达到, 不少于).
- `equals`: the same value is `equal`; another value has no direction, so `incomparable`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Generic, Literal, Protocol, TypeVar

from plan_registry.document import Target
from plan_registry.plans.names import indicator_key

Verdict = Literal["stronger", "equal", "weaker", "incomparable"]

_TYPE_NAMES = {
    "decrease_pct": "下降幅度",
    "max": "上限",
    "min": "下限",
    "equals": "定值",
    "placeholder": "占位符",
}


@dataclass(frozen=True)
class Comparison:
    verdict: Verdict
    detail: str  # in Chinese, for the bureau


def describe(target: Target) -> str:
    """A target in the usual notation: 下降15%, ＜0.03, ≤10小时, ＞60%, ≥90%, =100%."""
    if target.type == "placeholder" or target.value is None:
        return "（未填写）"
    unit = {"%": "%", "‰": "‰", "hours": "小时", "people": "人", None: ""}[target.unit]
    value = f"{_plain(target.value)}{unit}"
    if target.type == "decrease_pct":
        return f"下降{value}"
    if target.type == "max":
        return ("＜" if target.strict else "≤") + value
    if target.type == "min":
        return ("＞" if target.strict else "≥") + value
    return "=" + value


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def compare_targets(own: Target, parent: Target) -> Comparison:
    """How demanding `own` is against `parent`, the higher-level plan's target for the same indicator."""
    mine, theirs = describe(own), describe(parent)
    if own.type == "placeholder" or parent.type == "placeholder" or own.value is None or parent.value is None:
        return Comparison("incomparable", "目标值未填写（占位符），无法比较")
    if own.type != parent.type:
        return Comparison(
            "incomparable",
            f"目标类型不同（本规划为{_TYPE_NAMES[own.type]} {mine}，上级为{_TYPE_NAMES[parent.type]} "
            f"{theirs}），请人工判断",
        )
    if own.unit != parent.unit:
        return Comparison("incomparable", f"计量单位不同（本规划 {mine}，上级 {theirs}），请人工判断")
    if own.type == "equals":
        if own.value == parent.value:
            return Comparison("equal", f"{mine}与上级目标{theirs}相同")
        return Comparison("incomparable", f"定值目标{mine}与上级{theirs}不同，无高低之分，请人工判断")
    # +1: own is more demanding by value, -1 less, 0 same value.
    if own.value == parent.value:
        sense = 0
    elif own.type == "max":
        sense = 1 if own.value < parent.value else -1
    else:  # decrease_pct and min: more is more demanding
        sense = 1 if own.value > parent.value else -1
    if sense == 0 and own.type in ("max", "min") and own.strict != parent.strict:
        sense = 1 if own.strict else -1
    if sense > 0:
        return Comparison("stronger", f"{mine}严于上级目标{theirs}")
    if sense < 0:
        return Comparison("weaker", f"{mine}弱于上级目标{theirs}")
    return Comparison("equal", f"{mine}与上级目标{theirs}相同")


class IndicatorLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def target(self) -> Target: ...


I = TypeVar("I", bound=IndicatorLike)  # noqa: E741
P = TypeVar("P")


@dataclass(frozen=True)
class ParentTargets(Generic[P, I]):
    plan: P
    indicators: Sequence[I]


@dataclass(frozen=True)
class Pair(Generic[P, I]):
    own: I
    parent: P
    parent_indicator: I
    comparison: Comparison


@dataclass
class Alignment(Generic[P, I]):
    pairs: list[Pair[P, I]] = field(default_factory=list)
    unmatched: list[I] = field(default_factory=list)  # own targets no parent states
    omitted: list[tuple[P, I]] = field(default_factory=list)  # parents' targets the plan leaves out


def align(own: Sequence[I], parents: Sequence[ParentTargets[P, I]]) -> Alignment[P, I]:
    """Each of `own`'s targets beside every parent's target for the same indicator (by name and
    alias), the targets no parent states, and the parents' targets `own` leaves out."""
    result: Alignment[P, I] = Alignment()
    own_keys = {indicator_key(indicator.name) for indicator in own}
    parent_index: list[tuple[ParentTargets[P, I], dict[str, I]]] = []
    for parent in parents:
        index: dict[str, I] = {}
        for indicator in parent.indicators:
            key = indicator_key(indicator.name)
            # The first statement wins: the core indicator table comes before the goal text.
            index.setdefault(key, indicator)
            if key not in own_keys and index[key] is indicator:
                result.omitted.append((parent.plan, indicator))
        parent_index.append((parent, index))
    for indicator in own:
        key = indicator_key(indicator.name)
        matched = False
        for parent, index in parent_index:
            counterpart = index.get(key)
            if counterpart is not None:
                matched = True
                result.pairs.append(
                    Pair(
                        indicator,
                        parent.plan,
                        counterpart,
                        compare_targets(indicator.target, counterpart.target),
                    )
                )
        if not matched:
            result.unmatched.append(indicator)
    return result
