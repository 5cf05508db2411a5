"""The full recomputation in PostgreSQL (`results.rollup.store_all`) against the Python reference
(`domain.compute.compute_grid`) on data made by hand, on a real PostgreSQL.

鹰潭市 360600 with its counties 月湖区 360602, 余江区 360603, 贵溪市 360681 (approved figures):
  2023  deaths 3 / 2 / 5, GDP 300 / 100 / 100 亿元       → city 10 / 500 = 0.02 (county rates average 0.0267)
        fire deaths 1 / 1 / 1, population 300,000 / 200,000 / 100,000
                                → 月湖区 1 / 300,000 × 100,000 = 0.333…3 (34 digits); city 3 / 600,000 × 100,000 = 0.5
        staff 0 / 0 / 0         → em_professional_share undefined (zero denominator) everywhere
        relief time 12 / 24 / 36 h (max)                  → city 36
        disaster-information coverage 90 / 80 / 70 % weighted by population
                                → (27,000,000 + 16,000,000 + 7,000,000) / 600,000 = 83.333…3 (34 digits)
        equipment rate (not aggregatable) 95 / 90 / 85    → city missing itself (one figure)
  2024  贵溪市 has reported nothing                         → city incomplete: 2 figures (ps_deaths, gdp)
        鹰潭市 reports its own equipment rate 88            → city 88 (its own figure)
A pending (submitted) figure never counts in the approved scope.
Over 江西 360000 the same data, plus 南昌市 360100 reporting its own deaths (7) and GDP (700) for 2023
without its counties: the city's own total counts (reported first), the province stays incomplete;
360999, a code outside the administrative list, reports 4 deaths and rolls up through 宜春市 360900.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from emplan_shared.db import create_engine, create_sessionmaker
from emplan_shared.migrate import migrate
from emplan_shared.settings import with_database
from indicator_engine.domain.catalogue import CATALOGUE
from indicator_engine.domain.compute import Result, compute_grid
from indicator_engine.results import regions
from indicator_engine.results.models import IndicatorResult
from indicator_engine.results.rollup import store_all

pytestmark = pytest.mark.integration

SERVICE_ROOT = Path(__file__).resolve().parents[2]
CITY, YUEHU, YUJIANG, GUIXI = "360600", "360602", "360603", "360681"
PROVINCE, NANCHANG, UNLISTED = "360000", "360100", "360999"
D = Decimal
CODES = [
    "ps_death_rate_gdp",
    "ps_deaths",
    "fire_death_rate",
    "em_professional_share",
    "relief_time",
    "disaster_info_coverage",
    "em_equipment_rate",
]
YEARS = [2023, 2024]
THIRD = D("0." + "3" * 34)

COUNTY_FIGURES = {
    # element: (月湖区, 余江区, 贵溪市) in 2023, and 2024 without 贵溪市
    "ps_deaths": (3, 2, 5),
    "gdp": (300, 100, 100),
    "fire_deaths": (1, 1, 1),
    "resident_population": (300_000, 200_000, 100_000),
    "em_professional_staff": (0, 0, 0),
    "em_staff": (0, 0, 0),
    "relief_time": (12, 24, 36),
    "disaster_info_coverage": (90, 80, 70),
    "em_equipment_rate": (95, 90, 85),
}


def _data() -> dict[tuple[str, str, int], Decimal]:
    data: dict[tuple[str, str, int], Decimal] = {}
    for element, values in COUNTY_FIGURES.items():
        for county, value in zip((YUEHU, YUJIANG, GUIXI), values, strict=True):
            data[(county, element, 2023)] = D(value)
            if county != GUIXI:
                data[(county, element, 2024)] = D(value)
    data[(CITY, "em_equipment_rate", 2024)] = D(88)
    data[(NANCHANG, "ps_deaths", 2023)] = D(7)
    data[(NANCHANG, "gdp", 2023)] = D(700)
    # A code outside the administrative list rolls up through its city (宜春市 360900) all the same.
    data[(UNLISTED, "ps_deaths", 2023)] = D(4)
    return data


@pytest.fixture(scope="module")
async def engine(infra) -> AsyncIterator[AsyncEngine]:  # type: ignore[no-untyped-def]
    name = f"emplan_rollup{uuid.uuid4().hex[:8]}_indicator_engine"
    url = with_database(infra.database_url, name)
    await asyncio.to_thread(migrate, url, SERVICE_ROOT / "migrations", lock_name=f"test-{name}")
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    rows: list[tuple[Any, ...]] = [
        (element, region, year, 0, value, "approved", 1, "test", "test")
        for (region, element, year), value in _data().items()
    ]
    # Submitted, not approved: must not count in the approved scope.
    rows.append(("ps_deaths", GUIXI, 2024, 0, D(100), "submitted", 1, "test", "test"))
    await connection.copy_records_to_table(
        "data_value",
        records=rows,
        columns=[
            "element_code",
            "region_code",
            "year",
            "month",
            "value",
            "state",
            "version",
            "entered_by",
            "updated_by",
        ],
    )
    await connection.close()
    settings_engine = create_engine(
        make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False), pool_size=2
    )
    try:
        yield settings_engine
    finally:
        await settings_engine.dispose()
        admin = await asyncpg.connect(
            make_url(infra.database_url)
            .set(drivername="postgresql", database="postgres")
            .render_as_string(hide_password=False)
        )
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _stored(engine: AsyncEngine, root: str) -> dict[tuple[str, int, str], IndicatorResult]:
    sessions = create_sessionmaker(engine)
    async with sessions() as session:
        report = await store_all(session, years=YEARS, codes=CODES, root=root)
        await session.commit()
    async with sessions() as session:
        rows = (await session.execute(select(IndicatorResult))).scalars().all()
    stored = {
        (r.definition_code, r.year, r.region_code): r
        for r in rows
        if r.region_code.startswith(regions.prefix(root))
    }
    assert report.results == report.ok + report.incomplete + report.undefined
    return stored


def _same(row: IndicatorResult, result: Result) -> None:
    assert row.status == result.status
    assert row.value == result.value
    assert row.numerator == result.numerator
    assert row.denominator == result.denominator
    assert row.missing_count == len(result.missing)
    assert sorted(row.missing_elements) == sorted(result.missing_elements)
    assert row.undefined_reason == result.undefined_reason


class TestStoredEqualsReference:
    async def test_city_by_hand(self, engine: AsyncEngine) -> None:
        stored = await _stored(engine, CITY)
        # 4 regions × 7 definitions × 2 years, none left out.
        assert len(stored) == 4 * 7 * 2
        rate = stored[("ps_death_rate_gdp", 2023, CITY)]
        assert (rate.status, rate.value, rate.numerator, rate.denominator) == ("ok", D("0.02"), 10, 500)
        assert stored[("fire_death_rate", 2023, YUEHU)].value == THIRD
        assert stored[("fire_death_rate", 2023, CITY)].value == D("0.5")
        undefined = stored[("em_professional_share", 2023, CITY)]
        assert (undefined.status, undefined.undefined_reason, undefined.denominator) == (
            "undefined",
            "zero_denominator",
            0,
        )
        assert stored[("relief_time", 2023, CITY)].value == 36
        coverage = stored[("disaster_info_coverage", 2023, CITY)]
        assert coverage.value == D("83." + "3" * 32)
        assert (coverage.numerator, coverage.denominator) == (50_000_000, 600_000)
        assert stored[("em_equipment_rate", 2023, CITY)].status == "incomplete"
        assert stored[("em_equipment_rate", 2023, CITY)].missing_count == 1
        assert stored[("em_equipment_rate", 2024, CITY)].value == 88
        missing = stored[("ps_death_rate_gdp", 2024, CITY)]
        assert (missing.status, missing.missing_count, sorted(missing.missing_elements)) == (
            "incomplete",
            2,
            ["gdp", "ps_deaths"],
        )
        assert stored[("ps_deaths", 2024, CITY)].status == "incomplete"  # the submitted 100 is not counted

    @pytest.mark.parametrize("root", [CITY, PROVINCE])
    async def test_every_result_equals_the_python_reference(self, engine: AsyncEngine, root: str) -> None:
        stored = await _stored(engine, root)
        tree = regions.tree(root, {key[0] for key in _data()})
        everyone = [root, *(kid for kids in tree.values() for kid in kids)]
        grid = compute_grid([CATALOGUE.definition(c) for c in CODES], everyone, YEARS, _data(), tree)
        assert len(stored) == sum(len(per_region) for per_region in grid.values())
        for (code, year), per_region in grid.items():
            for region, result in per_region.items():
                _same(stored[(code, year, region)], result)
        # Reported first: 南昌市's own total; the province misses its other cities' figures.
        if root == PROVINCE:
            assert stored[("ps_deaths", 2023, NANCHANG)].value == 7
            assert stored[("ps_deaths", 2023, UNLISTED)].value == 4
            assert stored[("ps_deaths", 2023, PROVINCE)].status == "incomplete"
