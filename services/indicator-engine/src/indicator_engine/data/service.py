"""The rules of data values: entry and correction, approval bottom-up, deletion, history, events.

Approval follows DHIS2's data approval: a figure is entered (draft), submitted by its region, then
approved; a region's figure can be approved only when every figure of the same element and period
stored for the regions below it is approved, and an approval can be withdrawn only while the region
above has not approved its own. An approved figure cannot be corrected or deleted until the approval is
withdrawn. Regions below without a figure of their own do not block (a city may report GDP its counties
do not); which regions lie below is the GB/T 2260 code prefix, the same as jurisdiction.

Every change keeps the version it replaces in `data_value_history` and publishes
`emplan.indicator.value.changed` through the outbox, a deletion included, so a peer that copies values
learns that one is gone.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.auth import Principal, jurisdiction_prefix
from emplan_shared.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ProblemItem,
    RefusedRegion,
    UnprocessableEntity,
)
from emplan_shared.events.catalogue import INDICATOR_VALUE_CHANGED
from emplan_shared.events.payloads import IndicatorValueChanged
from emplan_shared.messaging.outbox import enqueue
from indicator_engine.data import regions
from indicator_engine.data.models import ANNUAL, DataValue
from indicator_engine.data.repository import DataValueRepository
from indicator_engine.data.rules import CleanRow, RowChecker, region_as_text
from indicator_engine.data.schemas import (
    DataValueHistoryRead,
    DataValueIn,
    DataValueVersion,
    ValueAction,
    plain,
)
from indicator_engine.database import messaging
from indicator_engine.definitions.service import element_map
from indicator_engine.settings import Settings

# (deaths element, accidents element): deaths need at least one accident where both are reported.
DEATHS_NEED_ACCIDENTS: tuple[tuple[str, str], ...] = (("ps_deaths", "ps_accidents"),)
JUMP = "jump"
# Advisory lock key of writes that add values: bulk loads hold it exclusively, single entries shared.
WRITE_LOCK = 7_202_611_230


async def checker_for(session: AsyncSession, principal: Principal, settings: Settings) -> RowChecker:
    return RowChecker(
        await element_map(session),
        jurisdiction=principal.jurisdiction,
        min_year=settings.data_min_year,
        max_year=settings.data_max_year,
    )


def jump_flag(value: Decimal, last_year: Decimal | None, factor: int) -> str | None:
    """`jump` when the value is more than `factor` times last year's (a zero last year never flags)."""
    if last_year is None or last_year <= 0:
        return None
    return JUMP if value > last_year * factor else None


async def _publish(session: AsyncSession, row: DataValue, action: ValueAction, actor: str) -> None:
    payload = IndicatorValueChanged(
        value_id=row.id,
        action=action.value,
        element_code=row.element_code,
        region_code=row.region_code,
        year=row.year,
        month=None if row.month == ANNUAL else row.month,
        value=plain(row.value),
        state=row.state,
        version=row.version,
        review_flag=row.review_flag,
        source=row.source,
        actor=actor,
    )
    event = INDICATOR_VALUE_CHANGED.build(
        payload, subject=f"indicator-value/{row.id}", region_code=row.region_code
    )
    await enqueue(session, messaging.outbox_event, event)


async def _check_deaths(repository: DataValueRepository, clean: CleanRow) -> None:
    for deaths, accidents in DEATHS_NEED_ACCIDENTS:
        if clean.element_code == deaths and clean.value > 0:
            other = await repository.value_at(accidents, clean.region_code, clean.year, clean.month)
            if other is not None and other == 0:
                raise UnprocessableEntity(
                    "有死亡人数，但同一地区同期的事故起数为 0",
                    code="deaths_without_accidents",
                    errors=[
                        ProblemItem(
                            field="body.value",
                            code="deaths_without_accidents",
                            detail="死亡人数须有对应的事故起数",
                        )
                    ],
                )
        if clean.element_code == accidents and clean.value == 0:
            other = await repository.value_at(deaths, clean.region_code, clean.year, clean.month)
            if other is not None and other > 0:
                raise UnprocessableEntity(
                    "事故起数为 0，但同一地区同期已有死亡人数",
                    code="deaths_without_accidents",
                    errors=[
                        ProblemItem(
                            field="body.value",
                            code="deaths_without_accidents",
                            detail="已有死亡人数时事故起数不能为 0",
                        )
                    ],
                )


async def record_value(
    session: AsyncSession, principal: Principal, settings: Settings, data: DataValueIn
) -> tuple[DataValue, bool]:
    """Enter a value, or correct the stored one of the same key; returns (row, created)."""
    checker = await checker_for(session, principal, settings)
    result = checker.check(
        1, data.element_code, data.region_code, data.year, data.month, data.value, data.unit, data.source
    )
    if isinstance(result, list):
        if any(error.code == "outside_jurisdiction" for error in result):
            # 403, not 422: the region exists (the directory is public) but is not the caller's to
            # write; recorded in the audit trail as a refused region.
            raise Forbidden(
                "该地区不在当前账号的管辖范围内",
                code="outside_jurisdiction",
                errors=[
                    ProblemItem(
                        field="body.region_code", code="outside_jurisdiction", detail="不在管辖范围内"
                    )
                ],
                refused_region=RefusedRegion(region_as_text(data.region_code), "body.region_code"),
            )
        raise UnprocessableEntity(
            "数据未通过校验：" + "；".join(error.detail for error in result),
            code="invalid_value",
            errors=[
                ProblemItem(field=f"body.{e.field}" if e.field else "body", code=e.code, detail=e.detail)
                for e in result
            ],
        )
    clean = result
    repository = DataValueRepository(session)
    await repository.share_write_lock(WRITE_LOCK)
    await _check_deaths(repository, clean)
    last_year = await repository.value_at(clean.element_code, clean.region_code, clean.year - 1, clean.month)
    flag = jump_flag(clean.value, last_year, settings.jump_factor)
    actor = principal.subject
    existing = await repository.get_by_key(
        clean.element_code, clean.region_code, clean.year, clean.month, lock=True
    )
    if existing is None:
        row = await repository.add(
            DataValue(
                element_code=clean.element_code,
                region_code=clean.region_code,
                year=clean.year,
                month=clean.month,
                value=clean.value,
                source=clean.source,
                state="draft",
                review_flag=flag,
                version=1,
                entered_by=actor,
                updated_by=actor,
            )
        )
        await _publish(session, row, ValueAction.created, actor)
        return row, True
    if existing.state == "approved":
        raise Conflict("已审核通过的数据不能修改，请先撤销审核", code="value_approved")
    if existing.value == clean.value and existing.source == clean.source:
        return existing, False  # the same figure again: nothing to record
    await repository.keep_version(existing, action=ValueAction.corrected.value, actor=actor)
    existing.value = clean.value
    existing.source = clean.source
    existing.state = "draft"
    existing.review_flag = flag
    existing.version += 1
    existing.updated_by = actor
    row = await repository.save(existing)
    await _publish(session, row, ValueAction.corrected, actor)
    return row, False


async def get_value(
    session: AsyncSession, principal: Principal, value_id: int, *, lock: bool = False
) -> DataValue:
    row = await DataValueRepository(session).get_visible(value_id, principal, lock=lock)
    if row is None:
        raise NotFound("数据不存在", code="value_not_found")
    return row


async def _transition(
    session: AsyncSession, principal: Principal, value_id: int, action: ValueAction, source: str, target: str
) -> DataValue:
    repository = DataValueRepository(session)
    row = await get_value(session, principal, value_id, lock=True)
    if action in (ValueAction.approved, ValueAction.unapproved):
        await repository.lock_key(row.element_code, row.year, row.month)
    if row.state != source:
        states = {"draft": "草稿", "submitted": "已提交", "approved": "已审核"}
        raise Conflict(f"当前状态为“{states[row.state]}”，不能执行该操作", code="invalid_state")
    if action is ValueAction.approved:
        pending = await repository.unapproved_below(row, jurisdiction_prefix(row.region_code))
        if pending:
            raise Conflict(
                f"下级地区的数据尚未全部审核：{'、'.join(pending)}",
                code="children_not_approved",
                errors=[
                    ProblemItem(field="region_code", code="children_not_approved", detail=f"{code} 未审核")
                    for code in pending
                ],
            )
    if action is ValueAction.unapproved:
        above = await repository.approved_among(row, regions.ancestors(row.region_code))
        if above:
            raise Conflict(
                f"上级地区的数据已审核，须先撤销上级审核：{'、'.join(sorted(above))}", code="parent_approved"
            )
    await repository.keep_version(row, action=action.value, actor=principal.subject)
    row.state = target
    row.version += 1
    row.updated_by = principal.subject
    row = await repository.save(row)
    await _publish(session, row, action, principal.subject)
    return row


async def submit(session: AsyncSession, principal: Principal, value_id: int) -> DataValue:
    return await _transition(session, principal, value_id, ValueAction.submitted, "draft", "submitted")


async def approve(session: AsyncSession, principal: Principal, value_id: int) -> DataValue:
    return await _transition(session, principal, value_id, ValueAction.approved, "submitted", "approved")


async def unapprove(session: AsyncSession, principal: Principal, value_id: int) -> DataValue:
    return await _transition(session, principal, value_id, ValueAction.unapproved, "approved", "submitted")


async def delete_value(session: AsyncSession, principal: Principal, value_id: int) -> None:
    repository = DataValueRepository(session)
    row = await get_value(session, principal, value_id, lock=True)
    if row.state == "approved":
        raise Conflict("已审核通过的数据不能删除，请先撤销审核", code="value_approved")
    await repository.keep_version(row, action=ValueAction.deleted.value, actor=principal.subject)
    await _publish(session, row, ValueAction.deleted, principal.subject)
    await repository.delete(row, actor=principal.subject)


async def history(session: AsyncSession, principal: Principal, value_id: int) -> DataValueHistoryRead:
    repository = DataValueRepository(session)
    current = await repository.get_visible(value_id, principal)
    old = await repository.history(value_id, principal)
    if current is None and not old:
        raise NotFound("数据不存在", code="value_not_found")
    versions = [
        DataValueVersion(
            version=h.version,
            value=plain(h.value),
            state=h.state,
            source=h.source,
            review_flag=h.review_flag,
            entered_by=h.entered_by,
            entered_at=h.entered_at,
            superseded_by_action=h.superseded_by_action,
            superseded_by=h.superseded_by,
            superseded_at=h.superseded_at,
        )
        for h in old
    ]
    if current is not None:
        versions.append(
            DataValueVersion(
                version=current.version,
                value=plain(current.value),
                state=current.state,
                source=current.source,
                review_flag=current.review_flag,
                entered_by=current.updated_by,
                entered_at=current.updated_at,
                superseded_by_action=None,
                superseded_by=None,
                superseded_at=None,
            )
        )
    key = current if current is not None else old[-1]
    return DataValueHistoryRead(
        value_id=value_id,
        element_code=key.element_code,
        region_code=key.region_code,
        year=key.year,
        month=None if key.month == ANNUAL else key.month,
        deleted=current is None,
        versions=versions,
    )


async def list_values(
    session: AsyncSession,
    principal: Principal,
    *,
    element_code: str | None,
    region_code: str | None,
    below: str | None,
    year: int | None,
    state: str | None,
    flagged: bool | None,
    after: int | None,
    limit: int,
) -> list[DataValue]:
    prefix = None if below is None else jurisdiction_prefix(below)
    return list(
        await DataValueRepository(session).list_visible(
            principal,
            element_code=element_code,
            region_code=region_code,
            below=prefix,
            year=year,
            state=state,
            flagged=flagged,
            after=after,
            limit=limit,
        )
    )
