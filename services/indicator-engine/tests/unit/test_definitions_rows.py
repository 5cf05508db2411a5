"""Definitions and elements as database rows: the shipped catalogue survives the round trip exactly,
and a definition that breaks a computation rule is explained in Chinese."""

from __future__ import annotations

from decimal import Decimal

import pytest

from indicator_engine.definitions.models import DataElementRow, IndicatorDefinitionRow
from indicator_engine.definitions.schemas import DefinitionRead
from indicator_engine.definitions.service import (
    _rule_error,
    definition_of,
    definition_values,
    element_of,
    element_values,
)
from indicator_engine.domain.catalogue import (
    CATALOGUE,
    Catalogue,
    CatalogueError,
    Definition,
    Formula,
    RegionAggregation,
)


def test_every_shipped_element_round_trips() -> None:
    for element in CATALOGUE.elements.values():
        row = DataElementRow(**element_values(element, builtin=True, created_by="system"))
        assert element_of(row) == element


def test_every_shipped_definition_round_trips() -> None:
    for definition in CATALOGUE.definitions.values():
        row = IndicatorDefinitionRow(**definition_values(definition, builtin=True, created_by="system"))
        assert definition_of(row) == definition


def test_unit_conversion_survives_json() -> None:
    population = CATALOGUE.element("resident_population")
    values = element_values(population, builtin=True, created_by="system")
    assert {"unit": "万人", "multiplier": "10000"} in values["input_units"]
    row = DataElementRow(**values)
    assert element_of(row).to_canonical(Decimal("56.78"), "万人") == Decimal("567800.00")


def test_factor_is_shown_as_plain_digits() -> None:
    row = IndicatorDefinitionRow(
        **definition_values(CATALOGUE.definition("nd_death_rate"), builtin=True, created_by="system"),
        created_at=None,
        updated_at=None,
    )
    data = {name: getattr(row, name) for name in ("factor", "natural_min", "natural_max")}
    assert data["factor"] == Decimal(1000000)
    read = DefinitionRead.of(_with_stamps(row))
    assert (read.factor, read.natural_min, read.natural_max) == ("1000000", "0", None)


def _with_stamps(row: IndicatorDefinitionRow) -> IndicatorDefinitionRow:
    from datetime import UTC, datetime

    row.created_at = row.updated_at = datetime(2026, 11, 23, tzinfo=UTC)
    return row


@pytest.mark.parametrize(
    ("regions", "denominator", "expected"),
    [
        (RegionAggregation("weighted_mean", "resident_population"), "gdp", "不能平均"),
        (RegionAggregation("sum"), "gdp", "不能平均"),
        (RegionAggregation("ratio_of_sums"), None, "应求和"),
        (RegionAggregation("ratio_of_sums"), "no_such_element", "不存在的数据元素"),
    ],
)
def test_rule_violations_in_chinese(
    regions: RegionAggregation, denominator: str | None, expected: str
) -> None:
    definition = Definition(
        code="x_rate",
        name="某指标",
        aliases=(),
        formula=Formula("ps_deaths", denominator),
        unit="人",
        direction="lower_is_better",
        regions=regions,
        years="annual",
        places=2,
        description="",
    )
    with pytest.raises(CatalogueError) as caught:
        Catalogue.build(CATALOGUE.elements.values(), [definition])
    error = _rule_error(caught.value)
    assert error.status_code == 422
    assert expected in error.detail
