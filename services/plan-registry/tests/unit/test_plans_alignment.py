"""Alignment rules: is a plan's target at least as demanding as its parent plan's? Worked by hand."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from plan_registry.document import Target
from plan_registry.plans.alignment import ParentTargets, align, compare_targets, describe
from plan_registry.plans.names import indicator_key, title_key


def t(kind: str, value: str | None, unit: str | None = None, strict: bool = False) -> Target:
    return Target(type=kind, value=None if value is None else Decimal(value), unit=unit, strict=strict)  # type: ignore[arg-type]


class TestCompare:
    @pytest.mark.parametrize(
        ("own", "parent", "verdict"),
        [
            (t("decrease_pct", "10", "%"), t("decrease_pct", "15", "%"), "weaker"),  # the example
            (t("decrease_pct", "20", "%"), t("decrease_pct", "15", "%"), "stronger"),
            (t("decrease_pct", "15", "%"), t("decrease_pct", "15.0", "%"), "equal"),
            (t("max", "0.03", strict=True), t("max", "0.04", strict=True), "stronger"),  # ＜0.03 under ＜0.04
            (t("max", "0.05", strict=True), t("max", "0.04", strict=True), "weaker"),
            (
                t("max", "10", "hours", strict=False),
                t("max", "10", "hours", strict=True),
                "weaker",
            ),  # ≤ vs ＜
            (t("max", "10", "hours", strict=True), t("max", "10", "hours", strict=False), "stronger"),
            (t("min", "95", "%"), t("min", "90", "%"), "stronger"),
            (t("min", "85", "%"), t("min", "90", "%"), "weaker"),
            (t("min", "60", "%", strict=True), t("min", "60", "%"), "stronger"),  # 超过60% vs 达到60%
            (t("equals", "100", "%"), t("equals", "100", "%"), "equal"),
            (t("equals", "90", "%"), t("equals", "100", "%"), "incomparable"),
            (t("decrease_pct", "10", "%"), t("max", "1.5", strict=True), "incomparable"),  # types differ
            (t("max", "0.8", "%", strict=True), t("max", "0.8", strict=True), "incomparable"),  # units differ
            (t("placeholder", None, "%"), t("min", "90", "%"), "incomparable"),
        ],
    )
    def test_verdict(self, own: Target, parent: Target, verdict: str) -> None:
        comparison = compare_targets(own, parent)
        assert comparison.verdict == verdict
        assert comparison.detail

    def test_types_differ_asks_a_person(self) -> None:
        detail = compare_targets(t("decrease_pct", "10", "%"), t("max", "1.5", strict=True)).detail
        assert "人工" in detail

    @pytest.mark.parametrize(
        ("target", "text"),
        [
            (t("decrease_pct", "15", "%"), "下降15%"),
            (t("max", "0.030", strict=True), "＜0.03"),
            (t("max", "10", "hours"), "≤10小时"),
            (t("min", "0.4", "‰"), "≥0.4‰"),
            (t("placeholder", None, "%"), "（未填写）"),
        ],
    )
    def test_describe(self, target: Target, text: str) -> None:
        assert describe(target) == text


class TestNames:
    @pytest.mark.parametrize(
        ("a", "b"),
        [
            ("亿元GDP生产安全事故死亡率", "亿元地区生产总值生产安全事故死亡率"),
            ("专职消防人员占全市总人口的比例", "专职消防人员占总人口比例"),
            ("工矿商贸就业人员10万人生产安全事故死亡率", "工矿商贸就业人员十万人生产安全事故死亡率"),
            ("道路交通事故万车死亡率", "道路交通万车死亡率"),
        ],
    )
    def test_same_indicator(self, a: str, b: str) -> None:
        assert indicator_key(a) == indicator_key(b)

    def test_annual_average_is_a_different_indicator(self) -> None:
        assert indicator_key("年均每十万人受灾人次") != indicator_key("每十万人受灾人次")

    def test_title_key_ignores_quotes_and_width(self) -> None:
        assert title_key("《忻州市“十四五”应急管理规划》") == title_key('忻州市"十四五"应急管理规划')


@dataclass(frozen=True)
class Item:
    name: str
    target: Target


def test_align_pairs_unmatched_and_omitted() -> None:
    city = [
        Item("生产安全事故死亡人数", t("decrease_pct", "15", "%")),
        Item("煤矿百万吨死亡率", t("max", "0.04", strict=True)),
        Item("灾害事故信息发布公众覆盖率", t("min", "90", "%")),
    ]
    county = [
        Item("生产安全事故死亡人数", t("decrease_pct", "10", "%")),
        Item("煤矿百万吨死亡率", t("max", "0.03", strict=True)),
        Item("森林火灾受害率", t("max", "0.9", "‰", strict=True)),
    ]
    result = align(county, [ParentTargets("city", city)])
    assert [(p.own.name, p.comparison.verdict) for p in result.pairs] == [
        ("生产安全事故死亡人数", "weaker"),
        ("煤矿百万吨死亡率", "stronger"),
    ]
    assert [i.name for i in result.unmatched] == ["森林火灾受害率"]
    assert [(plan, i.name) for plan, i in result.omitted] == [("city", "灾害事故信息发布公众覆盖率")]
