"""What results are computed from, read from the data half's tables of this same service: the
definitions catalogue and the data values.

Which data values count (`Scope`):
- `approved` (the default, and the only scope for target status, progress events and warnings): the
  figures a bureau has signed off (DHIS2-style bottom-up approval). Official numbers — the ones a plan
  evaluation or an early warning may be based on — must not move because someone typed a draft.
- `all`: submitted and approved figures, for a bureau watching its numbers come in before approval.
Drafts never count: they are a reporter's unfinished work.
Only whole-year figures (month 0) are read; monthly figures are the data half's to keep.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from indicator_engine.data.models import ANNUAL
from indicator_engine.definitions.models import DataElementRow, IndicatorDefinitionRow
from indicator_engine.domain.catalogue import (
    CATALOGUE,
    Catalogue,
    DataElement,
    Definition,
    Formula,
    RegionAggregation,
)
from indicator_engine.domain.compute import DataKey
from indicator_engine.results import regions

Scope = Literal["approved", "all"]
STATES: dict[Scope, tuple[str, ...]] = {"approved": ("approved",), "all": ("submitted", "approved")}


def _element(row: DataElementRow) -> DataElement:
    units = tuple((str(item["unit"]), Decimal(str(item["multiplier"]))) for item in row.input_units or [])
    return DataElement(row.code, row.name, row.unit, row.kind, row.description, units)  # type: ignore[arg-type]


def _definition(row: IndicatorDefinitionRow) -> Definition:
    return Definition(
        code=row.code,
        name=row.name,
        aliases=tuple(row.aliases or ()),
        formula=Formula(row.numerator_code, row.denominator_code, row.factor),
        unit=row.unit,
        direction=row.direction,  # type: ignore[arg-type]
        regions=RegionAggregation(row.region_aggregation, row.region_weight_code),  # type: ignore[arg-type]
        years=row.period_aggregation,  # type: ignore[arg-type]
        places=row.places,
        description=row.description,
        natural_min=row.natural_min,
        natural_max=row.natural_max,
    )


async def load_catalogue(session: AsyncSession) -> Catalogue:
    """The built-in catalogue with the stored definitions and elements over it (a stored row of the same
    code wins: it is the one the API shows and edits)."""
    element_rows = (await session.execute(select(DataElementRow))).scalars().all()
    definition_rows = (await session.execute(select(IndicatorDefinitionRow))).scalars().all()
    elements = dict(CATALOGUE.elements)
    elements.update({row.code: _element(row) for row in element_rows})
    definitions = dict(CATALOGUE.definitions)
    definitions.update({row.code: _definition(row) for row in definition_rows})
    return Catalogue.build(elements.values(), definitions.values())


def elements_of(definition: Definition) -> list[str]:
    codes = list(definition.formula.elements)
    if definition.regions.weight is not None:
        codes.append(definition.regions.weight)
    return codes


async def load_values(
    session: AsyncSession,
    *,
    elements: Sequence[str],
    root: str,
    years: Iterable[int],
    scope: Scope,
) -> dict[DataKey, Decimal]:
    """(region, element, year) → value for `root` and every region below it, whole-year figures only."""
    span = list(years)
    below = regions.prefix(root)
    # The session's own connection (so a caller's uncommitted writes are seen), read through asyncpg
    # directly: a country-wide read is ~500,000 rows, and asyncpg builds them in C several times faster
    # than the ORM's result processing.
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    rows = await driver.fetch(
        "SELECT region_code, element_code, year, value FROM data_value "
        "WHERE element_code = ANY($1::text[]) AND month = $2 AND year BETWEEN $3 AND $4 "
        "AND state = ANY($5::text[]) AND region_code LIKE $6",
        list(elements),
        ANNUAL,
        min(span),
        max(span),
        list(STATES[scope]),
        _like_prefix(below),
    )
    return {(region, element, year): value for region, element, year, value in rows}


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
