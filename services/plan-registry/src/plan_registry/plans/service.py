"""The rules of plans: import, drafts, publication, versions, alignment. Never commits: the request's
session does, once, with the outbox rows, so a failure anywhere saves nothing."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from emplan_shared.auth import Principal, jurisdiction_prefix
from emplan_shared.db import utcnow
from emplan_shared.errors import (
    Conflict,
    EmplanError,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    ProblemItem,
    RefusedRegion,
    UnprocessableEntity,
)
from emplan_shared.events import catalogue, payloads
from emplan_shared.messaging.outbox import enqueue
from plan_registry import document
from plan_registry.database import messaging
from plan_registry.directory import service as directory
from plan_registry.directory.models import Region
from plan_registry.directory.repository import RegionRepository
from plan_registry.directory.schemas import UnitResolution
from plan_registry.plans import content as items
from plan_registry.plans import schemas
from plan_registry.plans.alignment import ParentTargets, align
from plan_registry.plans.models import Plan, PlanDocument
from plan_registry.plans.names import title_key
from plan_registry.plans.repository import PlanRepository

logger = logging.getLogger(__name__)

DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


class DocumentRejected(EmplanError):
    status_code, code = 422, "document_rejected"


# ------------------------------------------------------------------------------------------- import


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str | None
    media_type: str


def _document_text(upload: Upload) -> str:
    suffix = PurePath(upload.filename or "").suffix.lower()
    if suffix == ".docx" or upload.media_type == DOCX_MEDIA_TYPE:
        try:
            return document.docx_text(upload.data)
        except document.DocumentError:
            raise
        except Exception as exc:  # a zip whose parts python-docx cannot read: lxml, KeyError, …
            raise document.DocumentError("not_a_docx", "无法读取 .docx 文件内容，文件可能已损坏") from exc
    return document.decode_upload(upload.data)


def _parse(upload: Upload, max_bytes: int) -> tuple[str, document.ParsedPlan]:
    """Decode and parse; every failure becomes a problem with the parser's stable code."""
    if len(upload.data) > max_bytes:
        raise PayloadTooLarge(
            f"文件大小 {len(upload.data) / 1048576:.1f} MB，超过规划文件 {max_bytes / 1048576:g} MB 的上限",
            code="document_too_large",
            errors=[ProblemItem(field="body.file", detail=f"上限 {max_bytes} 字节")],
        )
    try:
        text = _document_text(upload)
        return text, document.parse_text(text)
    except document.DocumentError as exc:
        raise DocumentRejected(
            exc.detail,
            code=exc.code,
            errors=[ProblemItem(field="body.file", line=exc.line, detail=exc.detail)],
        ) from exc
    except RecursionError as exc:
        raise DocumentRejected("文档结构过深，无法解析", code="unparseable_document") from exc
    except Exception as exc:
        # A parser defect must not turn a bureau's upload into a 500; it is logged for us to fix.
        logger.exception("plan document parser failed")
        raise DocumentRejected(
            "文档无法解析，请检查文件内容或联系管理员", code="unparseable_document"
        ) from exc


def _outside(principal: Principal, region_code: str) -> RefusedRegion | None:
    """A region outside the jurisdiction (answered like one that does not exist) is recorded in
    the audit trail; one that merely does not exist is a typo, not a refusal."""
    return None if principal.can_see(region_code) else RefusedRegion(region_code, "body.region_code")


async def _resolve_region(
    session: AsyncSession, principal: Principal, parsed: document.Region, region_code: str | None
) -> tuple[Region | None, list[dict[str, Any]]]:
    """The directory region the plan is for: the one given, or the single region of the caller's
    jurisdiction the document's name matches. None (with a warning) when the name matches none or
    several."""
    if region_code is not None:
        region = await RegionRepository(session).get(region_code)
        if region is None or not principal.can_see(region_code):
            raise UnprocessableEntity(
                f"行政区划 {region_code} 不存在或不在您的管辖范围内",
                code="unknown_region",
                errors=[
                    ProblemItem(field="body.region_code", code="unknown_region", detail="行政区划不存在")
                ],
                refused_region=_outside(principal, region_code),
            )
        return region, []
    if not parsed.name:
        return None, []  # the parser already warns region_not_found
    found = [
        r for r in await directory.find_regions_by_name(session, parsed.name) if principal.can_see(r.code)
    ]
    same_level = [r for r in found if r.level == parsed.level]
    candidates = same_level or found
    if len(candidates) == 1:
        return candidates[0], []
    detail = (
        f"“{parsed.name}”对应多个行政区划（{'、'.join(f'{r.name} {r.code}' for r in candidates[:5])}），请指定 region_code"
        if candidates
        else f"未在您管辖范围内的行政区划目录中找到“{parsed.name}”，请指定 region_code"
    )
    return None, [{"code": "region_unresolved", "line": None, "text": parsed.name, "detail": detail}]


async def _resolve_units(
    session: AsyncSession, region_code: str | None, content: dict[str, Any]
) -> tuple[list[UnitResolution], list[dict[str, Any]]]:
    lines = items.unit_lines(content)
    if region_code is None:
        unresolved = [
            UnitResolution(name=n, department_id=None, department_name=None, match="none") for n in lines
        ]
        return unresolved, []  # one region_unresolved warning says why, not one per unit
    resolved = await directory.resolve_units(session, region_code, list(lines))
    return resolved, items.unit_warnings(resolved, lines)


def _region_ref(region: Region | None, parsed: document.Region) -> schemas.RegionRef:
    if region is None:
        return schemas.RegionRef(name=parsed.name, code=None, level=parsed.level)
    return schemas.RegionRef(name=region.name, code=region.code, level=region.level)


async def import_document(
    session: AsyncSession,
    principal: Principal,
    upload: Upload,
    *,
    region_code: str | None,
    dry_run: bool,
    max_bytes: int,
) -> schemas.PlanImportResult:
    """Read a plan document into a draft; save it unless `dry_run`. Saves all or nothing."""
    text, parsed = await run_in_threadpool(_parse, upload, max_bytes)
    region, region_warnings = await _resolve_region(session, principal, parsed.region, region_code)
    if region is None and not dry_run:
        raise UnprocessableEntity(
            region_warnings[0]["detail"]
            if region_warnings
            else "文档未写明所属地区，请通过 region_code 指定",
            code="region_required",
            errors=[ProblemItem(field="body.region_code", detail="无法确定规划所属地区")],
        )
    body = items.from_parsed(parsed)
    units, unit_warnings = await _resolve_units(session, region.code if region else None, body)
    warnings = items.sort_warnings(
        [w.model_dump(mode="json") for w in parsed.warnings] + region_warnings + unit_warnings
    )
    info = schemas.DocumentInfo(
        filename=upload.filename,
        media_type=upload.media_type,
        sha256=hashlib.sha256(upload.data).hexdigest(),
        size_bytes=len(upload.data),
        line_count=text.count("\n") + 1,
    )
    plan_id: uuid.UUID | None = None
    if not dry_run and region is not None:
        plans = PlanRepository(session)
        stored = await plans.add_document(
            PlanDocument(id=uuid.uuid4(), text=text, created_by=principal.subject, **info.model_dump())
        )
        plan = Plan(
            id=uuid.uuid4(),
            lineage_id=uuid.uuid4(),
            version=1,
            status="draft",
            revision=1,
            kind=parsed.kind,
            title=parsed.title,
            title_key=title_key(parsed.title) if parsed.title else None,
            region_code=region.code,
            region_name=region.name,
            region_level=region.level,
            period_start=parsed.period.start,
            period_end=parsed.period.end,
            issuing_body=parsed.issuing_body,
            doc_number=parsed.doc_number,
            issued_date=parsed.issued_on,
            parent_titles=parsed.parent_plans,
            content=body,
            warnings=warnings,
            units=[u.model_dump(mode="json") for u in units],
            document_id=stored.id,
            created_by=principal.subject,
            updated_by=principal.subject,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        _count(plan)
        plan_id = (await plans.add(plan)).id
    return schemas.PlanImportResult(
        plan_id=plan_id,
        dry_run=dry_run,
        status=schemas.PlanStatus.draft if plan_id else None,
        title=parsed.title,
        kind=schemas.PlanKind(parsed.kind),
        region=_region_ref(region, parsed.region),
        period=schemas.PeriodOut(start=parsed.period.start, end=parsed.period.end),
        issuing_body=parsed.issuing_body,
        doc_number=parsed.doc_number,
        issued_on=parsed.issued_on,
        parent_plans=parsed.parent_plans,
        sections=body["sections"],
        goals=body["goals"],
        indicators=body["indicators"],
        tasks=body["tasks"],
        units=units,
        warnings=warnings,
        document=info,
    )


def _count(plan: Plan) -> None:
    plan.indicator_count = len(plan.content["indicators"])
    plan.task_count = len(plan.content["tasks"])
    plan.warning_count = len(plan.warnings)


# ------------------------------------------------------------------------------------------- reading


def etag(plan: Plan) -> str:
    return f'"{plan.revision}"'


async def get_plan(session: AsyncSession, principal: Principal, plan_id: uuid.UUID) -> Plan:
    plan = await PlanRepository(session).get_visible(plan_id, principal)
    if plan is None:
        raise NotFound("规划不存在", code="plan_not_found")
    return plan


async def list_plans(
    session: AsyncSession,
    principal: Principal,
    *,
    region_code: str | None,
    status: schemas.PlanStatus | None,
    kind: schemas.PlanKind | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Plan]:
    return await PlanRepository(session).list_visible(
        principal,
        region_prefix=jurisdiction_prefix(region_code) if region_code else None,
        status=status.value if status else None,
        kind=kind.value if kind else None,
        after=after,
        limit=limit,
    )


async def list_versions(session: AsyncSession, principal: Principal, plan_id: uuid.UUID) -> Sequence[Plan]:
    plan = await PlanRepository(session).get_visible(plan_id, principal, full=False)
    if plan is None:
        raise NotFound("规划不存在", code="plan_not_found")
    return [
        p for p in await PlanRepository(session).versions(plan.lineage_id) if principal.can_see(p.region_code)
    ]


async def parent_plans(
    session: AsyncSession, plan: Plan, *, with_content: bool = False
) -> list[tuple[str, Plan | None]]:
    """Each parent title the plan names, with the registry's current published plan of that title for
    the plan's own region or one above it (None when there is none)."""
    keys = {title: title_key(title) for title in plan.parent_titles}
    found = await PlanRepository(session).published_titled(sorted(set(keys.values())), full=with_content)
    linked: list[tuple[str, Plan | None]] = []
    for title, key in keys.items():
        match = next(
            (
                p
                for p in found
                if p.title_key == key
                and p.lineage_id != plan.lineage_id
                and plan.region_code.startswith(jurisdiction_prefix(p.region_code))
            ),
            None,
        )
        linked.append((title, match))
    return linked


async def document_info(session: AsyncSession, plan: Plan) -> schemas.DocumentInfo | None:
    if plan.document_id is None:
        return None
    stored = await PlanRepository(session).get_document(plan.document_id)
    if stored is None:
        return None
    return schemas.DocumentInfo(
        filename=stored.filename,
        media_type=stored.media_type,
        sha256=stored.sha256,
        size_bytes=stored.size_bytes,
        line_count=stored.line_count,
    )


def summary(plan: Plan) -> schemas.PlanSummary:
    return schemas.PlanSummary(
        id=plan.id,
        lineage_id=plan.lineage_id,
        version=plan.version,
        status=schemas.PlanStatus(plan.status),
        kind=schemas.PlanKind(plan.kind),
        title=plan.title,
        region=schemas.RegionRef(name=plan.region_name, code=plan.region_code, level=plan.region_level),
        period=schemas.PeriodOut(start=plan.period_start, end=plan.period_end),
        doc_number=plan.doc_number,
        issued_on=plan.issued_date,
        indicator_count=plan.indicator_count,
        task_count=plan.task_count,
        warning_count=plan.warning_count,
        created_at=plan.created_at,
        updated_at=plan.updated_at,
        published_at=plan.published_at,
    )


async def read(session: AsyncSession, plan: Plan) -> schemas.PlanRead:
    parents = await parent_plans(session, plan)
    return schemas.PlanRead(
        **summary(plan).model_dump(),
        revision=plan.revision,
        issuing_body=plan.issuing_body,
        parent_plans=[schemas.ParentPlanLink(title=t, plan_id=p.id if p else None) for t, p in parents],
        derived_from_id=plan.derived_from_id,
        superseded_by_id=plan.superseded_by_id,
        superseded_at=plan.superseded_at,
        created_by=plan.created_by,
        updated_by=plan.updated_by,
        published_by=plan.published_by,
        document=await document_info(session, plan),
        sections=plan.content["sections"],
        goals=plan.content["goals"],
        indicators=plan.content["indicators"],
        tasks=plan.content["tasks"],
        units=plan.units,
        warnings=plan.warnings,
    )


# ------------------------------------------------------------------------------------------- drafts


async def _draft_for_change(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, if_match: Sequence[str] | None
) -> Plan:
    plan = await PlanRepository(session).get_visible(plan_id, principal, for_update=True)
    if plan is None:
        raise NotFound("规划不存在", code="plan_not_found")
    if if_match is not None and "*" not in if_match and etag(plan) not in if_match:
        raise PreconditionFailed(
            "规划已被他人修改，请重新读取后再提交", code="precondition_failed", headers={"ETag": etag(plan)}
        )
    if plan.status != "draft":
        raise Conflict(
            "已发布的规划不能直接修改或删除，请基于它创建新版本"
            if plan.status == "published"
            else "该版本已被替代，不能修改",
            code="plan_not_draft",
        )
    return plan


async def update_draft(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    data: schemas.PlanUpdate,
    *,
    if_match: Sequence[str],
) -> Plan:
    plan = await _draft_for_change(session, principal, plan_id, if_match)
    changes = data.model_fields_set
    if not changes:
        return plan
    if "region_code" in changes and data.region_code != plan.region_code:
        assert data.region_code is not None
        region = await RegionRepository(session).get(data.region_code)
        if region is None or not principal.can_see(region.code):
            raise UnprocessableEntity(
                f"行政区划 {data.region_code} 不存在",
                code="unknown_region",
                errors=[
                    ProblemItem(field="body.region_code", code="unknown_region", detail="行政区划不存在")
                ],
                refused_region=_outside(principal, data.region_code),
            )
        plan.region_code, plan.region_name, plan.region_level = region.code, region.name, region.level
    if "title" in changes:
        plan.title = data.title
        plan.title_key = title_key(data.title) if data.title else None
    if "kind" in changes and data.kind is not None:
        plan.kind = data.kind.value
    if "period" in changes:
        plan.period_start = data.period.start if data.period else None
        plan.period_end = data.period.end if data.period else None
    if "issuing_body" in changes:
        plan.issuing_body = data.issuing_body
    if "doc_number" in changes:
        plan.doc_number = data.doc_number
    if "issued_on" in changes:
        plan.issued_date = data.issued_on
    if "parent_plans" in changes and data.parent_plans is not None:
        plan.parent_titles = list(dict.fromkeys(data.parent_plans))
    body = dict(plan.content)
    if "goals" in changes and data.goals is not None:
        body["goals"] = [g.model_dump(mode="json") for g in data.goals]
    if "indicators" in changes and data.indicators is not None:
        body["indicators"] = items.indicators_from_input(data.indicators)
    if "tasks" in changes and data.tasks is not None:
        body["tasks"] = items.tasks_from_input(data.tasks)
    plan.content = body
    units, unit_warnings = await _resolve_units(session, plan.region_code, body)
    plan.units = [u.model_dump(mode="json") for u in units]
    plan.warnings = items.sort_warnings(
        [w for w in plan.warnings if w["code"] not in items.UNIT_WARNINGS] + unit_warnings
    )
    _count(plan)
    plan.revision += 1
    plan.updated_by, plan.updated_at = principal.subject, utcnow()
    return await PlanRepository(session).save(plan)


async def delete_draft(session: AsyncSession, principal: Principal, plan_id: uuid.UUID) -> None:
    plan = await _draft_for_change(session, principal, plan_id, None)
    await PlanRepository(session).delete(plan)


async def new_version(session: AsyncSession, principal: Principal, plan_id: uuid.UUID) -> Plan:
    """A draft copy of the current published version, to change and publish in its place."""
    plans = PlanRepository(session)
    source = await plans.get_visible(plan_id, principal, for_update=True)
    if source is None:
        raise NotFound("规划不存在", code="plan_not_found")
    if source.status != "published":
        raise Conflict("只能基于当前已发布的版本创建新版本", code="plan_not_published")
    existing = await plans.in_lineage(source.lineage_id, "draft")
    if existing is not None:
        raise Conflict(
            f"该规划已有待发布的草稿（版本 {existing.version}），请先发布或删除它",
            code="draft_exists",
            errors=[ProblemItem(field="path.plan_id", detail=str(existing.id))],
        )
    plan = Plan(
        id=uuid.uuid4(),
        lineage_id=source.lineage_id,
        version=await plans.last_version(source.lineage_id) + 1,
        status="draft",
        revision=1,
        kind=source.kind,
        title=source.title,
        title_key=source.title_key,
        region_code=source.region_code,
        region_name=source.region_name,
        region_level=source.region_level,
        period_start=source.period_start,
        period_end=source.period_end,
        issuing_body=source.issuing_body,
        doc_number=source.doc_number,
        issued_date=source.issued_date,
        parent_titles=list(source.parent_titles),
        content=source.content,
        warnings=source.warnings,
        units=source.units,
        indicator_count=source.indicator_count,
        task_count=source.task_count,
        warning_count=source.warning_count,
        document_id=source.document_id,
        derived_from_id=source.id,
        created_by=principal.subject,
        updated_by=principal.subject,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    return await plans.add(plan)


# ------------------------------------------------------------------------------------------ publish


def _publishable(plan: Plan) -> None:
    problems: list[ProblemItem] = []
    if not plan.title:
        problems.append(ProblemItem(field="title", detail="规划标题未填写"))
    if plan.period_start is None or plan.period_end is None:
        problems.append(ProblemItem(field="period", detail="规划期未填写"))
    for index, indicator in enumerate(plan.content["indicators"]):
        if indicator["target"]["type"] == "placeholder":
            lines = indicator["source_lines"]
            problems.append(
                ProblemItem(
                    field=f"indicators[{index}].target",
                    line=lines[0] if lines else None,
                    code="placeholder_target",
                    detail=f"指标“{indicator['name']}”的目标值未填写（{indicator['target_text']}）",
                )
            )
    if problems:
        raise UnprocessableEntity(
            "规划尚不完整，不能发布：请先补全标题、规划期和未填写的目标值",
            code="plan_incomplete",
            errors=problems,
        )


def _units(plan: Plan) -> dict[str, payloads.PlanUnit]:
    return {
        u["name"]: payloads.PlanUnit(name=u["name"], department_id=u["department_id"], match=u["match"])
        for u in plan.units
    }


def _payload(
    plan: Plan, supersedes: Plan | None, parents: list[tuple[str, Plan | None]], sha256: str | None
) -> payloads.PlanPublished:
    units = _units(plan)

    def unit(name: str) -> payloads.PlanUnit:
        return units.get(name) or payloads.PlanUnit(name=name, department_id=None, match="none")

    assert plan.title
    assert plan.period_start is not None
    assert plan.period_end is not None
    assert plan.published_at is not None
    return payloads.PlanPublished(
        plan_id=plan.id,
        lineage_id=plan.lineage_id,
        version=plan.version,
        supersedes=supersedes.id if supersedes else None,
        region_code=plan.region_code,
        region_name=plan.region_name,
        kind=plan.kind,
        title=plan.title,
        period=payloads.PlanPeriod(start=plan.period_start, end=plan.period_end),
        issuing_body=plan.issuing_body,
        doc_number=plan.doc_number,
        issued_on=plan.issued_date,
        parent_plans=[payloads.ParentPlan(title=t, plan_id=p.id if p else None) for t, p in parents],
        published_at=plan.published_at,
        published_by=plan.published_by or "",
        document_sha256=sha256,
        goals=[
            payloads.PlanGoal(text=g["text"], source_lines=g["source_lines"]) for g in plan.content["goals"]
        ],
        indicators=[
            payloads.PlanIndicator(
                id=i["id"],
                name=i["name"],
                target_text=i["target_text"],
                target=payloads.PlanTarget(**i["target"]),
                nature=i["nature"],
                group=i["group"],
                baseline_text=i["baseline_text"],
                responsible=payloads.PlanResponsible(
                    lead=[unit(n) for n in i["responsible"]["lead"]],
                    co=[unit(n) for n in i["responsible"]["co"]],
                )
                if i["responsible"]
                else None,
                source_lines=i["source_lines"],
            )
            for i in plan.content["indicators"]
        ],
        tasks=[
            payloads.PlanTask(
                id=t["id"],
                kind=t["kind"],
                code=t["code"],
                title=t["title"],
                description=t["description"],
                section=[payloads.PlanSection(number=s["number"], title=s["title"]) for s in t["section"]],
                deadline_year=t["deadline_year"],
                deadline_text=t["deadline_text"],
                lead=[unit(n) for n in t["lead"]],
                co=[unit(n) for n in t["co"]],
                source_lines=t["source_lines"],
            )
            for t in plan.content["tasks"]
        ],
    )


async def publish(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, *, max_event_bytes: int
) -> Plan:
    """draft → published; the lineage's published version (if any) → superseded. The events go to the
    outbox in this transaction: plan.published with the full content, then plan.superseded."""
    plans = PlanRepository(session)
    plan = await _draft_for_change(session, principal, plan_id, None)
    _publishable(plan)
    # Departments may have been added since the import: resolve the names again for the event.
    units, unit_warnings = await _resolve_units(session, plan.region_code, plan.content)
    plan.units = [u.model_dump(mode="json") for u in units]
    plan.warnings = items.sort_warnings(
        [w for w in plan.warnings if w["code"] not in items.UNIT_WARNINGS] + unit_warnings
    )
    now = utcnow()
    previous = await plans.in_lineage(plan.lineage_id, "published", for_update=True)
    if previous is not None:
        previous.status, previous.superseded_by_id, previous.superseded_at = "superseded", plan.id, now
        previous.revision += 1
        await plans.save(previous)  # before the new one is published: one published per lineage
    plan.status, plan.published_at, plan.published_by = "published", now, principal.subject
    plan.updated_at, plan.updated_by = now, principal.subject
    plan.revision += 1
    _count(plan)
    stored = await document_info(session, plan)
    payload = _payload(plan, previous, await parent_plans(session, plan), stored.sha256 if stored else None)
    event = catalogue.PLAN_PUBLISHED.build(payload, subject=f"plan/{plan.id}", region_code=plan.region_code)
    size = len(orjson.dumps(event.model_dump(mode="json", exclude_none=True)))
    if size > max_event_bytes:
        raise UnprocessableEntity(
            f"规划内容过大（{size} 字节），超过事件 {max_event_bytes} 字节的上限，无法发布；请精简任务描述后再发布",
            code="plan_too_large",
        )
    plan = await plans.save(plan)
    await enqueue(session, messaging.outbox_event, event)
    if previous is not None:
        superseded = payloads.PlanSuperseded(
            plan_id=previous.id,
            lineage_id=previous.lineage_id,
            version=previous.version,
            region_code=previous.region_code,
            superseded_by=plan.id,
            superseded_by_version=plan.version,
            superseded_at=now,
        )
        await enqueue(
            session,
            messaging.outbox_event,
            catalogue.PLAN_SUPERSEDED.build(
                superseded, subject=f"plan/{previous.id}", region_code=previous.region_code
            ),
        )
    return plan


# ---------------------------------------------------------------------------------------- alignment


@dataclass(frozen=True)
class _Item:
    name: str
    target: document.Target
    data: dict[str, Any]


def _items(plan: Plan) -> list[_Item]:
    return [_Item(i["name"], items.target_of(i["target"]), i) for i in plan.content["indicators"]]


def _ref(item: _Item) -> schemas.IndicatorRef:
    d = item.data
    return schemas.IndicatorRef(id=d["id"], name=d["name"], target_text=d["target_text"], target=d["target"])


async def alignment(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID
) -> schemas.AlignmentReport:
    """The plan's targets beside its parent plans' targets for the same indicators. Parent plans lie
    above the caller's jurisdiction; the report shows their targets since they are what the plan must
    answer to (the parents themselves stay unreadable outside the jurisdiction)."""
    plan = await get_plan(session, principal, plan_id)
    parents = await parent_plans(session, plan, with_content=True)
    linked = list({p.id: p for _, p in parents if p is not None}.values())
    result = align(_items(plan), [ParentTargets(p, _items(p)) for p in linked])
    return schemas.AlignmentReport(
        plan_id=plan.id,
        parents=[
            schemas.ParentRef(
                title=title,
                plan_id=p.id if p else None,
                region_code=p.region_code if p else None,
                region_name=p.region_name if p else None,
                version=p.version if p else None,
            )
            for title, p in parents
        ],
        pairs=[
            schemas.AlignmentPair(
                indicator=_ref(pair.own),
                parent_plan_id=pair.parent.id,
                parent_indicator=_ref(pair.parent_indicator),
                verdict=schemas.Verdict(pair.comparison.verdict),
                needs_review=pair.comparison.verdict == "incomparable",
                detail=pair.comparison.detail,
            )
            for pair in result.pairs
        ],
        unmatched=[_ref(i) for i in result.unmatched],
        omitted=[schemas.OmittedTarget(parent_plan_id=p.id, indicator=_ref(i)) for p, i in result.omitted],
    )
