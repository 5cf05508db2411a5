"""The rules of work on a task: who may report and act, what a report changes, the transitions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.auth import Principal, Role
from emplan_shared.db import utcnow
from emplan_shared.errors import Forbidden, NotFound, PreconditionFailed, ProblemItem
from emplan_shared.events import catalogue, payloads
from emplan_shared.messaging.outbox import enqueue
from task_assignment.database import messaging
from task_assignment.settings import Settings
from task_assignment.tasks.models import PlanRef, Task
from task_assignment.tasks.repository import TaskRepository
from task_assignment.tasks.state import publish_task_states
from task_assignment.work import workflow
from task_assignment.work.evidence import check_file
from task_assignment.work.light import LightRules, compute_light, is_overdue
from task_assignment.work.models import TaskEvidence, TaskReport, TaskStatusChange
from task_assignment.work.repository import WorkRepository
from task_assignment.work.schemas import (
    DepartmentProgress,
    EvidenceRead,
    LightRulesRead,
    ReportCreate,
    ReportRead,
    StatusChangeRead,
    TaskProgressRead,
)
from task_assignment.work.workflow import Action, Capacity, TaskStatus


def today_in(settings: Settings) -> date:
    """The calendar day where the bureaus are: deadlines end at midnight China time, not UTC."""
    return datetime.now(ZoneInfo(settings.timezone)).date()


def etag(task: Task) -> str:
    return f'"{task.version}"'


def task_not_found() -> NotFound:
    return NotFound("任务不存在", code="task_not_found")


async def _load(
    repository: WorkRepository, principal: Principal, task_id: uuid.UUID, *, lock: bool
) -> tuple[Task, PlanRef]:
    found = await repository.task_for_work(task_id, principal, lock=lock)
    if found is None:
        raise task_not_found()
    return found


async def capacities(
    repository: WorkRepository, principal: Principal, task: Task, plan: PlanRef
) -> tuple[set[Capacity], uuid.UUID | None]:
    """In which capacities the caller may act on the task, and the caller's assigned department.

    A department acts through an account of its own (role department_reporter, `dept` claim) when it
    is assigned to the task. The owner bureau is a planner whose jurisdiction holds the plan's region.
    """
    held: set[Capacity] = set()
    department_id: uuid.UUID | None = None
    if principal.department_id and principal.has_any(Role.department_reporter):
        try:
            candidate = uuid.UUID(principal.department_id)
        except ValueError:
            candidate = None
        if candidate is not None:
            role = await repository.assignment_role(task.id, candidate)
            if role is not None:
                held.add(Capacity(role))
                department_id = candidate
    if principal.has_any(Role.bureau_planner) and principal.can_see(plan.region_code):
        held.add(Capacity.bureau)
    return held, department_id


def _not_assigned() -> Forbidden:
    # The task is visible (it lies in the caller's jurisdiction, and GET on it answers 200), so a 404
    # here would contradict that; 403 tells the department to ask the bureau for an assignment.
    return Forbidden("本单位未被分配此任务，不能报送进展或变更其状态", code="task_not_assigned")


def _acting_capacity(held: set[Capacity]) -> Capacity:
    """A department assigned to the task reports in that role even when it is also the bureau."""
    for capacity in (Capacity.lead, Capacity.co, Capacity.bureau):
        if capacity in held:
            return capacity
    raise _not_assigned()


async def _status_changed(
    session: AsyncSession,
    repository: WorkRepository,
    *,
    task: Task,
    previous: TaskStatus,
    action: str,
    capacity: Capacity,
    reason: str | None,
    principal: Principal,
    department_id: uuid.UUID | None,
    report_id: uuid.UUID | None = None,
) -> None:
    """Record the change in the task's history and publish it (same transaction, through the outbox)."""
    repository.add(
        TaskStatusChange(
            task_id=task.id,
            from_status=previous.value,
            to_status=task.status,
            action=action,
            capacity=capacity.value,
            reason=reason,
            actor=principal.subject,
            actor_name=principal.name,
            department_id=department_id,
            report_id=report_id,
            task_version=task.version,
        )
    )
    event = catalogue.TASK_STATUS_CHANGED.build(
        payloads.TaskStatusChanged(
            task_id=task.id,
            plan_id=task.plan_id,
            region_code=task.region_code,
            code=task.code,
            title=task.title,
            from_status=previous.value,
            to_status=TaskStatus(task.status).value,
            action=action,
            capacity=capacity.value,
            reason=reason,
            actor=principal.subject,
            actor_name=principal.name,
            department_id=department_id,
            version=task.version,
            changed_at=utcnow(),
        ),
        subject=f"task/{task.id}",
        region_code=task.region_code,
    )
    await enqueue(session, messaging.outbox_event, event)


def _report_read(report: TaskReport, evidence: Sequence[TaskEvidence], status: str) -> ReportRead:
    return ReportRead(
        id=report.id,
        task_id=report.task_id,
        department_id=report.department_id,
        capacity=Capacity(report.capacity),
        period=report.period,
        percent=report.percent,
        milestone=report.milestone,
        narrative=report.narrative,
        submitted_by=report.submitted_by,
        submitted_by_name=report.submitted_by_name,
        submitted_at=report.submitted_at,
        evidence=[EvidenceRead.model_validate(e, from_attributes=True) for e in evidence],
        status=TaskStatus(status),
    )


async def submit_report(
    session: AsyncSession, principal: Principal, task_id: uuid.UUID, data: ReportCreate
) -> ReportRead:
    repository = WorkRepository(session)
    task, plan = await _load(repository, principal, task_id, lock=True)
    held, department_id = await capacities(repository, principal, task, plan)
    capacity = _acting_capacity(held)
    previous = TaskStatus(task.status)
    next_status = workflow.status_after_report(previous)  # refuses a closed task
    report = TaskReport(
        id=uuid.uuid4(),
        task_id=task.id,
        department_id=department_id if capacity != Capacity.bureau else None,
        capacity=capacity.value,
        period=data.period,
        percent=data.percent,
        milestone=data.milestone,
        narrative=data.narrative,
        submitted_by=principal.subject,
        submitted_by_name=principal.name,
        submitted_at=utcnow(),
    )
    repository.add(report)
    evidence = [
        TaskEvidence(
            id=uuid.uuid4(),
            report_id=report.id,
            kind="link",
            url=str(link.url),
            title=link.title,
            uploaded_by=principal.subject,
            created_at=report.submitted_at,
        )
        for link in data.links
    ]
    await repository.flush()
    for item in evidence:
        repository.add(item)
    # The lead's report is the task's progress (the bureau may report on its behalf); a
    # co-operating unit's report is its own part and leaves the task's figure alone.
    changes: dict[str, object] = {}
    if capacity in (Capacity.lead, Capacity.bureau):
        if data.percent is not None and data.percent != task.progress_percent:
            changes["progress_percent"] = data.percent
        if data.milestone is not None and data.milestone != task.progress_note:
            changes["progress_note"] = data.milestone
    if next_status is not None:
        changes["status"] = next_status.value
    if changes:
        await repository.set_task(task, **changes)
    if next_status is not None:
        await _status_changed(
            session,
            repository,
            task=task,
            previous=previous,
            action="report",
            capacity=capacity,
            reason=None,
            principal=principal,
            department_id=department_id if capacity != Capacity.bureau else None,
            report_id=report.id,
        )
    await repository.flush()
    await publish_task_states(session, [task.id], cause="report")
    return _report_read(report, evidence, task.status)


async def add_evidence(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    task_id: uuid.UUID,
    report_id: uuid.UUID,
    filename: str,
    content: bytes,
) -> EvidenceRead:
    repository = WorkRepository(session)
    task, plan = await _load(repository, principal, task_id, lock=True)
    held, department_id = await capacities(repository, principal, task, plan)
    report = await repository.report(task.id, report_id)
    if report is None:
        raise NotFound("进展报告不存在", code="report_not_found")
    # Evidence belongs to the unit that reported: its own accounts, or the bureau.
    own = report.department_id is not None and report.department_id == department_id
    if not (own or Capacity.bureau in held):
        if not held:
            raise _not_assigned()
        raise Forbidden("只能为本单位的进展报告上传证明材料", code="report_not_own")
    if task.status == TaskStatus.closed:
        raise workflow.TaskClosed("任务已销号，不再接受证明材料")
    checked = check_file(
        filename,
        content,
        allowed=settings.evidence_allowed_types,
        max_bytes=settings.evidence_max_bytes,
    )
    await repository.store_blob(checked.sha256, content)
    evidence = TaskEvidence(
        id=uuid.uuid4(),
        report_id=report.id,
        kind="file",
        filename=checked.filename[:255],
        media_type=checked.media_type,
        size_bytes=checked.size_bytes,
        sha256=checked.sha256,
        uploaded_by=principal.subject,
        created_at=utcnow(),
    )
    repository.add(evidence)
    await repository.flush()
    return EvidenceRead.model_validate(evidence, from_attributes=True)


async def evidence_content(
    session: AsyncSession,
    principal: Principal,
    task_id: uuid.UUID,
    report_id: uuid.UUID,
    evidence_id: uuid.UUID,
) -> tuple[TaskEvidence, bytes]:
    repository = WorkRepository(session)
    await _load(repository, principal, task_id, lock=False)
    report = await repository.report(task_id, report_id)
    evidence = await repository.evidence(report_id, evidence_id) if report is not None else None
    if evidence is None or evidence.sha256 is None:
        raise NotFound("证明材料文件不存在", code="evidence_not_found")
    content = await repository.blob(evidence.sha256)
    if content is None:
        raise NotFound("证明材料文件不存在", code="evidence_not_found")
    return evidence, content


async def list_reports(
    session: AsyncSession,
    principal: Principal,
    task_id: uuid.UUID,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> tuple[list[ReportRead], TaskReport | None]:
    """A page of reports (newest first) and the last report of the page when there is a next one."""
    repository = WorkRepository(session)
    task, _plan = await _load(repository, principal, task_id, lock=False)
    rows = await repository.reports(task.id, after=after, limit=limit + 1)
    page = rows[:limit]
    evidence = await repository.evidence_of([r.id for r in page])
    items = [_report_read(r, evidence[r.id], task.status) for r in page]
    return items, (page[-1] if len(rows) > limit else None)


def _matches(task: Task, if_match: Sequence[str]) -> bool:
    current = etag(task)
    # Weak comparison (RFC 9110 §8.8.3.2): W/"3" names the same version as "3".
    return "*" in if_match or any(tag.removeprefix("W/") == current for tag in if_match)


async def transition(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    task_id: uuid.UUID,
    action: Action,
    reason: str | None,
    if_match: Sequence[str],
) -> TaskProgressRead:
    repository = WorkRepository(session)
    task, plan = await _load(repository, principal, task_id, lock=True)
    held, department_id = await capacities(repository, principal, task, plan)
    if not held:
        raise _not_assigned()
    if not _matches(task, if_match):
        raise PreconditionFailed(
            "任务已被他人修改，请重新读取后再操作",
            errors=[ProblemItem(field="header.If-Match", detail=f"当前版本为 {etag(task)}")],
            headers={"ETag": etag(task)},
        )
    previous = TaskStatus(task.status)
    target = workflow.apply(previous, action, held, reason)
    capacity = next(
        c
        for c in (Capacity.lead, Capacity.bureau, Capacity.co)
        if c in held and c in workflow.TRANSITIONS[action].capacities
    )
    await repository.set_task(task, status=target.value)
    await _status_changed(
        session,
        repository,
        task=task,
        previous=previous,
        action=action.value,
        capacity=capacity,
        reason=reason.strip() if reason else None,
        principal=principal,
        department_id=department_id if capacity != Capacity.bureau else None,
    )
    await repository.flush()
    await publish_task_states(session, [task.id], cause="status")
    return await _progress(repository, settings, task, plan)


async def get_progress(
    session: AsyncSession, principal: Principal, settings: Settings, task_id: uuid.UUID
) -> TaskProgressRead:
    repository = WorkRepository(session)
    task, plan = await _load(repository, principal, task_id, lock=False)
    return await _progress(repository, settings, task, plan)


def plan_start(plan: PlanRef) -> date:
    """Time elapsed is counted from the first day of the plan's period."""
    return date(plan.period_start, 1, 1)


async def rules_for(repository: WorkRepository, settings: Settings, plan_id: uuid.UUID) -> LightRulesRead:
    own = await repository.light_rule(plan_id)
    if own is None:
        return LightRulesRead(
            plan_id=plan_id,
            yellow_within_days=settings.light_yellow_within_days,
            behind_tolerance_pct=settings.light_behind_tolerance_pct,
            default=True,
        )
    return LightRulesRead(
        plan_id=plan_id,
        yellow_within_days=own.yellow_within_days,
        behind_tolerance_pct=own.behind_tolerance_pct,
        default=False,
    )


async def _progress(
    repository: WorkRepository, settings: Settings, task: Task, plan: PlanRef
) -> TaskProgressRead:
    today = today_in(settings)
    rules = await rules_for(repository, settings, plan.id)
    status = TaskStatus(task.status)
    # A parent with sub-tasks (the county cascade) progresses as they do: the mean of theirs.
    progress, _children = await TaskRepository(repository.session).progress_and_children(task.id)
    latest = await repository.latest_per_unit(task.id)
    evidence = await repository.evidence_of([r.id for r in latest])
    units = [
        DepartmentProgress(
            department_id=r.department_id,
            capacity=Capacity(r.capacity),
            latest_report=_report_read(r, evidence[r.id], task.status),
        )
        for r in sorted(latest, key=lambda r: ({"lead": 0, "co": 1, "bureau": 2}[r.capacity], r.submitted_at))
    ]
    history = [
        StatusChangeRead(
            from_status=TaskStatus(h.from_status),
            to_status=TaskStatus(h.to_status),
            action=h.action,
            capacity=Capacity(h.capacity),
            reason=h.reason,
            actor=h.actor,
            actor_name=h.actor_name,
            department_id=h.department_id,
            version=h.task_version,
            changed_at=h.changed_at,
        )
        for h in await repository.history(task.id)
    ]
    return TaskProgressRead(
        task_id=task.id,
        plan_id=task.plan_id,
        status=status,
        version=task.version,
        progress_percent=progress,
        progress_note=task.progress_note,
        deadline=task.deadline,
        as_of=today,
        overdue=is_overdue(status, task.deadline, today),
        light=compute_light(
            status=status,
            deadline=task.deadline,
            today=today,
            start=plan_start(plan),
            progress_pct=progress,
            rules=LightRules(rules.yellow_within_days, rules.behind_tolerance_pct),
        ),
        light_rules=rules,
        units=units,
        history=history,
    )


async def get_light_rules(
    session: AsyncSession, principal: Principal, settings: Settings, plan_id: uuid.UUID
) -> LightRulesRead:
    repository = WorkRepository(session)
    if await repository.plan(plan_id, principal) is None:
        raise NotFound("规划不存在", code="plan_not_found")
    return await rules_for(repository, settings, plan_id)


async def put_light_rules(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    plan_id: uuid.UUID,
    yellow_within_days: int,
    behind_tolerance_pct: int,
) -> LightRulesRead:
    repository = WorkRepository(session)
    if await repository.plan(plan_id, principal) is None:
        raise NotFound("规划不存在", code="plan_not_found")
    await repository.put_light_rule(plan_id, yellow_within_days, behind_tolerance_pct, principal.subject)
    await repository.flush()
    return LightRulesRead(
        plan_id=plan_id,
        yellow_within_days=yellow_within_days,
        behind_tolerance_pct=behind_tolerance_pct,
        default=False,
    )
