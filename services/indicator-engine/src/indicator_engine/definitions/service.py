"""Definitions and data elements: the shipped catalogue kept in the database, additions by system
administrators checked by the same rules as the shipped ones (`domain.catalogue`).

The shipped catalogue is written at startup (`sync_builtin_catalogue`), not by a migration: the
catalogue is code (`domain/catalogue.py`), and a release that adds an alias or an indicator must reach
every database without a data migration per change. The upsert is idempotent (replicas starting
together both succeed, the second changes nothing) and only rewrites rows marked `builtin`, so a
definition added through the API is never overwritten.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.auth import Principal
from emplan_shared.errors import Conflict, NotFound, ProblemItem, UnprocessableEntity
from indicator_engine.definitions.models import DataElementRow, IndicatorDefinitionRow
from indicator_engine.definitions.repository import DefinitionRepository, ElementRepository
from indicator_engine.definitions.schemas import DataElementCreate, DefinitionCreate, DefinitionUpdate
from indicator_engine.domain.catalogue import (
    CATALOGUE,
    Catalogue,
    CatalogueError,
    DataElement,
    Definition,
    Formula,
    RegionAggregation,
    normalize_name,
)

# --- rows ↔ domain -------------------------------------------------------------------------------


def element_of(row: DataElementRow) -> DataElement:
    units = tuple((str(u["unit"]), Decimal(str(u["multiplier"]))) for u in row.input_units)
    return DataElement(row.code, row.name, row.unit, row.kind, row.description, units)  # type: ignore[arg-type]


def definition_of(row: IndicatorDefinitionRow) -> Definition:
    return Definition(
        code=row.code,
        name=row.name,
        aliases=tuple(row.aliases),
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


def element_values(element: DataElement, *, builtin: bool, created_by: str) -> dict[str, Any]:
    return {
        "code": element.code,
        "name": element.name,
        "unit": element.unit,
        "kind": element.kind,
        "description": element.description,
        "input_units": [{"unit": unit, "multiplier": str(m)} for unit, m in element.input_units],
        "builtin": builtin,
        "version": 1,
        "created_by": created_by,
    }


def definition_values(definition: Definition, *, builtin: bool, created_by: str) -> dict[str, Any]:
    return {
        "code": definition.code,
        "name": definition.name,
        "aliases": list(definition.aliases),
        "numerator_code": definition.formula.numerator,
        "denominator_code": definition.formula.denominator,
        "factor": definition.formula.factor,
        "unit": definition.unit,
        "direction": definition.direction,
        "region_aggregation": definition.regions.kind,
        "region_weight_code": definition.regions.weight,
        "period_aggregation": definition.years,
        "places": definition.places,
        "description": definition.description,
        "natural_min": definition.natural_min,
        "natural_max": definition.natural_max,
        "builtin": builtin,
        "version": 1,
        "created_by": created_by,
    }


async def sync_builtin_catalogue(session: AsyncSession, catalogue: Catalogue = CATALOGUE) -> None:
    """Write the shipped elements and definitions (idempotent; added rows untouched)."""
    await ElementRepository(session).upsert_builtin(
        [element_values(e, builtin=True, created_by="system") for e in catalogue.elements.values()]
    )
    await DefinitionRepository(session).upsert_builtin(
        [definition_values(d, builtin=True, created_by="system") for d in catalogue.definitions.values()]
    )


async def load_catalogue(session: AsyncSession) -> Catalogue:
    """The catalogue as stored: shipped plus added definitions, checked against each other."""
    elements = [element_of(row) for row in await ElementRepository(session).all()]
    definitions = [definition_of(row) for row in await DefinitionRepository(session).all()]
    return Catalogue.build(elements, definitions)


async def element_map(session: AsyncSession) -> dict[str, DataElement]:
    return {row.code: element_of(row) for row in await ElementRepository(session).all()}


# --- elements ------------------------------------------------------------------------------------


async def get_element(session: AsyncSession, code: str) -> DataElementRow:
    row = await ElementRepository(session).get(code)
    if row is None:
        raise NotFound("数据元素不存在", code="element_not_found")
    return row


async def list_elements(session: AsyncSession, *, after: str | None, limit: int) -> list[DataElementRow]:
    return list(await ElementRepository(session).page(after=after, limit=limit))


async def create_element(
    session: AsyncSession, principal: Principal, data: DataElementCreate
) -> DataElementRow:
    repository = ElementRepository(session)
    if await repository.get(data.code) is not None:
        raise Conflict(f"数据元素代码 {data.code} 已存在", code="element_exists")
    units = [(u.unit, Decimal(u.multiplier)) for u in data.input_units]
    for index, (_unit, multiplier) in enumerate(units):
        if multiplier <= 0:
            raise UnprocessableEntity(
                "单位换算倍数必须为正数",
                code="invalid_multiplier",
                errors=[ProblemItem(field=f"body.input_units.{index}.multiplier", detail="必须为正数")],
            )
    element = DataElement(data.code, data.name, data.unit, data.kind, data.description, tuple(units))
    return await repository.add(
        DataElementRow(**element_values(element, builtin=False, created_by=principal.subject))
    )


async def delete_element(session: AsyncSession, code: str) -> None:
    repository = ElementRepository(session)
    row = await get_element(session, code)
    if row.builtin:
        raise Conflict("内置数据元素不能删除", code="builtin_element")
    if await repository.in_use(code):
        raise Conflict("该数据元素已被指标定义或数据使用，不能删除", code="element_in_use")
    await repository.delete(row)


# --- definitions ---------------------------------------------------------------------------------

# CatalogueError speaks English to developers; API callers get the rule in Chinese.
_RULES_ZH = (
    ("unknown data element", "公式引用了不存在的数据元素"),
    ("factor must be positive", "系数必须为正数"),
    ("a rate needs additive", "比率的分子和分母必须是可加的计数或金额"),
    (
        "a rate aggregates as ratio_of_sums",
        "比率跨地区只能按分子分母分别求和后相除（ratio_of_sums），不能平均",
    ),
    ("a single count or amount aggregates as sum", "单一计数或金额跨地区应求和（sum）"),
    ("a single element takes no factor", "单一数据元素的指标不能设置系数"),
    (
        "a reported figure aggregates",
        "直接报送的比例或时间须选择 not_aggregatable、weighted_mean、max 或 min",
    ),
    ("a reported figure has no multi-year average", "直接报送的比例或时间没有多年平均"),
    ("weighted_mean needs", "weighted_mean 需要一个可加的权重数据元素"),
    ("only weighted_mean takes a weight", "只有 weighted_mean 可以设置权重"),
    ("a pooled average needs additive", "年均（pooled）指标的数据元素必须可加"),
)


def _rule_error(exc: CatalogueError) -> UnprocessableEntity:
    message = str(exc)
    detail = next((zh for en, zh in _RULES_ZH if en in message), "指标定义不符合计算规则")
    return UnprocessableEntity(
        detail, code="invalid_definition", errors=[ProblemItem(field="body", detail=detail)]
    )


def _check_names(catalogue: Catalogue, definition: Definition) -> None:
    clashes = catalogue.ambiguous_names()
    for name in definition.names:
        codes = clashes.get(normalize_name(name))
        if codes:
            others = "、".join(c for c in codes if c != definition.code)
            raise Conflict(f"名称或别名“{name}”已被指标 {others} 使用", code="name_taken")


async def get_definition(session: AsyncSession, code: str) -> IndicatorDefinitionRow:
    row = await DefinitionRepository(session).get(code)
    if row is None:
        raise NotFound("指标定义不存在", code="definition_not_found")
    return row


async def list_definitions(
    session: AsyncSession, *, after: str | None, limit: int
) -> list[IndicatorDefinitionRow]:
    return list(await DefinitionRepository(session).page(after=after, limit=limit))


async def create_definition(
    session: AsyncSession, principal: Principal, data: DefinitionCreate
) -> IndicatorDefinitionRow:
    repository = DefinitionRepository(session)
    if await repository.get(data.code) is not None:
        raise Conflict(f"指标代码 {data.code} 已存在", code="definition_exists")
    definition = Definition(
        code=data.code,
        name=data.name,
        aliases=tuple(dict.fromkeys(data.aliases)),
        formula=Formula(data.numerator, data.denominator, Decimal(data.factor)),
        unit=data.unit,
        direction=data.direction.value,
        regions=RegionAggregation(data.region_aggregation.value, data.region_weight),
        years=data.period_aggregation.value,
        places=data.places,
        description=data.description,
        natural_min=None if data.natural_min is None else Decimal(data.natural_min),
        natural_max=None if data.natural_max is None else Decimal(data.natural_max),
    )
    try:
        catalogue = (await load_catalogue(session)).with_additions([definition])
    except CatalogueError as exc:
        raise _rule_error(exc) from exc
    _check_names(catalogue, definition)
    return await repository.add(
        IndicatorDefinitionRow(**definition_values(definition, builtin=False, created_by=principal.subject))
    )


async def update_definition(
    session: AsyncSession, code: str, data: DefinitionUpdate
) -> IndicatorDefinitionRow:
    row = await get_definition(session, code)
    if data.name is not None:
        row.name = data.name
    if data.aliases is not None:
        row.aliases = list(dict.fromkeys(data.aliases))
    if data.description is not None:
        row.description = data.description
    stored = await load_catalogue(session)
    changed = definition_of(row)
    catalogue = Catalogue.build(
        stored.elements.values(), [changed if d.code == code else d for d in stored.definitions.values()]
    )
    _check_names(catalogue, changed)
    row.version += 1
    return await DefinitionRepository(session).save(row)


async def delete_definition(session: AsyncSession, code: str) -> None:
    row = await get_definition(session, code)
    if row.builtin:
        raise Conflict("内置指标定义不能删除", code="builtin_definition")
    try:
        await DefinitionRepository(session).delete(row)
    except IntegrityError as exc:  # a target bound to it (the targets feature holds the reference)
        raise Conflict("该指标已被规划目标引用，不能删除", code="definition_in_use") from exc


async def lookup(session: AsyncSession, name: str) -> tuple[str, IndicatorDefinitionRow | None, list[str]]:
    catalogue = await load_catalogue(session)
    candidates = [d.code for d in catalogue.candidates(name)]
    match = await get_definition(session, candidates[0]) if len(candidates) == 1 else None
    return normalize_name(name), match, candidates
