from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from emplan_shared.auth import CurrentPrincipal, access_rule
from emplan_shared.db import DbSession
from emplan_shared.errors import problem_responses
from indicator_engine.results import service
from indicator_engine.results.schemas import DataScope, ResultBreakdown, ResultRead

router = APIRouter(
    prefix="/api/v1/indicators", tags=["indicator-results"], responses=problem_responses(401, 403, 422)
)

IndicatorQuery = Annotated[
    str,
    Query(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="indicator definition code",
        examples=["ps_death_rate_gdp"],
    ),
]
RegionQuery = Annotated[
    str,
    Query(pattern=r"^\d{6}$", description="GB/T 2260 code; 000000 is the whole country", examples=["140800"]),
]
YearQuery = Annotated[int, Query(ge=1949, le=2100, description="the (last) year")]
FromYearQuery = Annotated[
    int | None,
    Query(
        ge=1949,
        le=2100,
        description="first year of a multi-year value (年均 indicators: the plan's first year); default: year",
    ),
]
ScopeQuery = Annotated[
    DataScope,
    Query(description="approved: approved figures only (default, official); all: submitted and approved"),
]


@router.get(
    "/results",
    response_model=ResultRead,
    operation_id="getIndicatorResult",
    openapi_extra=access_rule("any"),
    responses=problem_responses(404),
)
async def get_result(
    session: DbSession,
    principal: CurrentPrincipal,
    indicator: IndicatorQuery,
    region: RegionQuery,
    year: YearQuery,
    from_year: FromYearQuery = None,
    include: ScopeQuery = DataScope.approved,
) -> ResultRead:
    """Compute an indicator for a region from its own and its subordinate regions' figures.

    Rates are Σ numerator × factor ÷ Σ denominator over the regions below (never a mean of their
    rates); 年均 indicators pool the years from `from_year` to `year` the same way. A figure missing
    anywhere makes the result `incomplete`, listing every region and element missing."""
    return await service.get_result(
        session,
        principal,
        indicator=indicator,
        region=region,
        year=year,
        from_year=from_year,
        scope=include.value,
    )


@router.get(
    "/results/breakdown",
    response_model=ResultBreakdown,
    operation_id="getIndicatorResultBreakdown",
    openapi_extra=access_rule("any"),
    responses=problem_responses(404),
)
async def get_breakdown(
    session: DbSession,
    principal: CurrentPrincipal,
    indicator: IndicatorQuery,
    region: RegionQuery,
    year: YearQuery,
    from_year: FromYearQuery = None,
    include: ScopeQuery = DataScope.approved,
) -> ResultBreakdown:
    """Compute an indicator for a region and for each region directly below it (000000: the provinces)."""
    return await service.get_breakdown(
        session,
        principal,
        indicator=indicator,
        region=region,
        year=year,
        from_year=from_year,
        scope=include.value,
    )
