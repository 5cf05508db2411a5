"""Target texts as plans write them → target type, exact value, unit and strictness."""

from __future__ import annotations

from decimal import Decimal

import pytest

from plan_registry.document.targets import read_target


@pytest.mark.parametrize(
    ("text", "kind", "value", "unit", "strict"),
    [
        ("下降15%", "decrease_pct", "15", "%", False),
        ("下降 16%", "decrease_pct", "16", "%", False),
        ("降低８％", "decrease_pct", "8", "%", False),
        ("＜0.03", "max", "0.03", None, True),
        ("<0.8%", "max", "0.8", "%", True),
        ("低于0.5", "max", "0.5", None, True),
        ("小于 2", "max", "2", None, True),
        ("控制在5%以内", "max", "5", "%", False),
        ("≤3", "max", "3", None, False),
        ("不超过 12 小时", "max", "12", "hours", False),
        ("缩短至 10 小时以内", "max", "10", "hours", False),
        ("10小时内", "max", "10", "hours", False),
        ("达到90%", "min", "90", "%", False),
        ("达到 95%以上", "min", "95", "%", False),
        ("不少于50人", "min", "50", "people", False),
        ("不低于 30 名", "min", "30", "people", False),
        ("超过 60%", "min", "60", "%", True),
        ("＞98％", "min", "98", "%", True),
        ("１５％", "equals", "15", "%", False),
        ("0.4‰", "equals", "0.4", "‰", False),
        ("1.5万人", "equals", "15000", "people", False),
    ],
)
def test_reads_target(text: str, kind: str, value: str, unit: str | None, strict: bool) -> None:
    reading = read_target(text)
    assert reading.target is not None, reading.problem
    assert reading.target.type == kind
    assert reading.target.value == Decimal(value)
    assert reading.target.unit == unit
    assert reading.target.strict is strict


def test_value_is_exact_decimal() -> None:
    reading = read_target("＜0.03")
    assert reading.target is not None
    assert str(reading.target.value) == "0.03"
    assert isinstance(reading.target.value, Decimal)


@pytest.mark.parametrize("text", ["xx%", "XX%", "下降xx%", "达到××%", "＜ｘｘ", "（ ）%"])
def test_template_blank_is_a_placeholder_not_a_number(text: str) -> None:
    reading = read_target(text)
    assert reading.target is not None
    assert reading.target.type == "placeholder"
    assert reading.target.value is None


@pytest.mark.parametrize(
    ("text", "problem"), [("达到1.2亿千瓦", "unsupported_unit"), ("明显下降", "not_understood")]
)
def test_unreadable_targets_say_why(text: str, problem: str) -> None:
    reading = read_target(text)
    assert reading.target is None
    assert reading.problem == problem
