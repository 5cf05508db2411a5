"""The rules of tasks: creation from published plans and by hand, assignments, edits with ETags,
group expansion, the ledger and the counts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.auth import Principal, jurisdiction_prefix
from emplan_shared.db import utcnow
from emplan_shared.errors import Conflict, NotFound, PreconditionFailed, ProblemItem, UnprocessableEntity
from emplan_shared.events.payloads import PlanPublished, PlanSuperseded, PlanUnit
from task_assignment.departments.models import Department
from task_assignment.settings import Settings
from task_assignment.tasks import cascade as cascading
from task_assignment.tasks.deadlines import parse_deadline
from task_assignment.tasks.models import (
    AssignmentRole,
    GroupAssignment,
    PlanRef,
    Task,
    TaskOrigin,
    TaskStatus,
)
from task_assignment.tasks.repository import LightParameters, TaskRepository
from task_assignment.tasks.schemas import (
    STATUS_LABELS,
    AssignedDepartment,
    GroupRead,
    Ledger,
    LedgerRow,
    LightCounts,
    SectionRead,
    StatusCounts,
    TaskCountsRead,
    TaskCreate,
    TaskRead,
    TaskUpdate,
    UnitInput,
)
from task_assignment.tasks.state import publish_task_states
from task_assignment.tasks.units import county_body, fold
from task_assignment.work.service import today_in

SYSTEM = "system"


def etag(task: Task) -> str:
    return f'"{task.version}"'


def task_not_found() -> NotFound:
    return NotFound("任务不存在", code="task_not_found")


def plan_not_found() -> NotFound:
    return NotFound("规划不存在或尚未发布", code="plan_not_found")


# ------------------------------------------------------------------------------ unit resolution
@dataclass(frozen=True)
class Unit:
    name: str
    department_id: uuid.UUID | None
    match: str


class Resolver:
    """Resolves a plan's unit names against the replica, within the plan's own region only."""

    def __init__(self, departments: Sequence[Department], by_id: dict[uuid.UUID, Department]) -> None:
        self.by_id = by_id
        self.by_name: dict[str, list[Department]] = {}
        for department in departments:
            for name in {fold(department.name), *(fold(alias) for alias in department.aliases)}:
                self.by_name.setdefault(name, []).append(department)

    def resolve(self, unit: Unit) -> Department | None:
        if unit.department_id is not None and unit.department_id in self.by_id:
            return self.by_id[unit.department_id]
        if unit.match == "group":
            return None
        candidates = self.by_name.get(fold(unit.name), [])
        return candidates[0] if len(candidates) == 1 else None


async def _resolver(repository: TaskRepository, region_code: str, ids: Sequence[uuid.UUID]) -> Resolver:
    return Resolver(
        await repository.departments_of_regions([region_code]), await repository.departments_by_ids(ids)
    )


async def assign(
    repository: TaskRepository,
    task: Task,
    resolver: Resolver,
    units: Sequence[tuple[AssignmentRole, Unit]],
    *,
    created_by: str,
) -> None:
    """Assignments for resolved names, groups for the rest; a county group cascades."""
    rows: list[dict[str, object]] = []
    seen: set[uuid.UUID] = set()
    group_names: set[tuple[str, str]] = set()
    cascade_bodies: list[str] = []
    for position, (role, unit) in enumerate(units):
        department = resolver.resolve(unit)
        if department is not None:
            if department.id not in seen:  # a unit named twice (lead and co) keeps its first role
                seen.add(department.id)
                rows.append(
                    {
                        "task_id": task.id,
                        "department_id": department.id,
                        "role": role.value,
                        "unit_name": unit.name[:200],  # the column's width; plan names are far shorter
                        "position": position,
                    }
                )
            continue
        if (role.value, unit.name[:200]) in group_names:
            continue
        group_names.add((role.value, unit.name[:200]))
        body = county_body(unit.name)
        cascades = body is not None and bool(cascading.counties_below(task.region_code))
        repository.add(
            GroupAssignment(
                task_id=task.id,
                role=role.value,
                name=unit.name[:200],
                match="group" if body is not None else (unit.match if unit.match == "group" else "none"),
                position=position,
                # The cascade expands it: one sub-task per county, owned by the county.
                expanded_at=utcnow() if cascades else None,
                expanded_by="cascade" if cascades else None,
            )
        )
        if cascades and body is not None:
            cascade_bodies.append(body)
    await repository.add_assignments(rows)
    await repository.flush()
    for body in cascade_bodies[:1]:  # two county groups on one task still mean one sub-task per county
        await cascading.cascade(repository, task, body, created_by=created_by)


def _plan_unit(unit: PlanUnit) -> Unit:
    return Unit(unit.name, unit.department_id, unit.match)


# ------------------------------------------------------------------------------------- events
async def apply_plan_published(session: AsyncSession, plan: PlanPublished) -> int:
    """Create the plan's tasks; returns how many (0 for a plan already here)."""
    repository = TaskRepository(session)
    added = await repository.add_plan(
        {
            "id": plan.plan_id,
            "lineage_id": plan.lineage_id,
            "version": plan.version,
            "region_code": plan.region_code,
            "region_name": plan.region_name,
            "kind": plan.kind,
            "title": plan.title,
            "period_start": plan.period.start,
            "period_end": plan.period.end,
            "published_at": plan.published_at,
        }
    )
    if not added:
        return 0
    ids = [u.department_id for item in plan.tasks for u in [*item.lead, *item.co] if u.department_id]
    resolver = await _resolver(repository, plan.region_code, ids)
    for position, item in enumerate(plan.tasks, start=1):
        task = Task(
            id=uuid.uuid4(),
            plan_id=plan.plan_id,
            region_code=plan.region_code,
            origin=TaskOrigin.plan.value,
            kind=item.kind,
            plan_item_id=item.id,
            position=position,
            code=item.code[:40] or None,
            title=item.title,
            description=item.description,
            section=[section.model_dump() for section in item.section],
            deadline=parse_deadline(item.deadline_text, item.deadline_year),
            deadline_text=item.deadline_text,
            created_by=plan.published_by,
        )
        repository.add(task)
        await repository.flush()
        units = [(AssignmentRole.lead, _plan_unit(u)) for u in item.lead]
        units += [(AssignmentRole.co, _plan_unit(u)) for u in item.co]
        await assign(repository, task, resolver, units, created_by=SYSTEM)
    if plan.supersedes is not None and await repository.get_plan(plan.supersedes) is not None:
        await repository.retire_plan(plan.supersedes, plan.plan_id)
        await repository.link_successors(plan.supersedes, plan.plan_id)
    # Every task of the plan, county sub-tasks of the cascade included.
    await publish_task_states(session, await repository.task_ids_of_plan(plan.plan_id), cause="created")
    return len(plan.tasks)


async def apply_plan_superseded(session: AsyncSession, event: PlanSuperseded) -> None:
    """Retire the old version's tasks, keeping them (and their history) readable. Linking to the new
    version's tasks happens when that version arrives (in either order)."""
    repository = TaskRepository(session)
    if await repository.get_plan(event.plan_id) is None:
        return
    await repository.retire_plan(event.plan_id, event.superseded_by)
    if await repository.get_plan(event.superseded_by) is not None:
        await repository.link_successors(event.plan_id, event.superseded_by)


# --------------------------------------------------------------------------------------- reads
async def read(repository: TaskRepository, task: Task) -> TaskRead:
    progress, children = await repository.progress_and_children(task.id)
    return (await _reads(repository, [(task, progress, children)]))[0]


async def _reads(repository: TaskRepository, rows: Sequence[tuple[Task, int, int]]) -> list[TaskRead]:
    ids = [task.id for task, _, _ in rows]
    leads: dict[uuid.UUID, list[AssignedDepartment]] = {i: [] for i in ids}
    cos: dict[uuid.UUID, list[AssignedDepartment]] = {i: [] for i in ids}
    for assignment, department in await repository.assignments(ids):
        target = leads if assignment.role == AssignmentRole.lead.value else cos
        target[assignment.task_id].append(
            AssignedDepartment(
                department_id=department.id,
                name=department.name,
                unit_name=assignment.unit_name,
                region_code=department.region_code,
            )
        )
    groups: dict[uuid.UUID, list[GroupRead]] = {i: [] for i in ids}
    for group in await repository.groups(ids):
        groups[group.task_id].append(
            GroupRead(
                id=group.id,
                role=AssignmentRole(group.role),
                name=group.name,
                match=group.match,
                expanded=group.expanded_at is not None,
                expanded_at=group.expanded_at,
                expanded_by=group.expanded_by,
            )
        )
    return [
        TaskRead(
            id=task.id,
            plan_id=task.plan_id,
            parent_id=task.parent_id,
            region_code=task.region_code,
            origin=task.origin,
            kind=task.kind,
            code=task.code,
            title=task.title,
            description=task.description,
            section=[SectionRead.model_validate(s) for s in task.section],
            deadline=task.deadline,
            deadline_text=task.deadline_text,
            status=task.status,
            progress_percent=progress,
            progress_note=task.progress_note,
            current=task.current,
            successor_id=task.successor_id,
            subtask_count=children,
            lead=leads[task.id],
            co=cos[task.id],
            groups=groups[task.id],
            version=task.version,
            created_by=task.created_by,
            created_at=task.created_at,
            updated_at=task.updated_at,
        )
        for task, progress, children in rows
    ]


async def get_task(session: AsyncSession, principal: Principal, task_id: uuid.UUID) -> TaskRead:
    repository = TaskRepository(session)
    task = await repository.get_visible(task_id, principal)
    if task is None:
        raise task_not_found()
    return await read(repository, task)


async def list_subtasks(session: AsyncSession, principal: Principal, task_id: uuid.UUID) -> list[TaskRead]:
    repository = TaskRepository(session)
    if await repository.get_visible(task_id, principal) is None:
        raise task_not_found()
    children = await repository.children(task_id, principal)
    rows = [(child, *(await repository.progress_and_children(child.id))) for child in children]
    return await _reads(repository, rows)


# -------------------------------------------------------------------------------------- writes
def _check_deadline(plan: PlanRef, deadline: date | None) -> None:
    if deadline is not None and deadline < date(plan.period_start, 1, 1):
        raise UnprocessableEntity(
            f"完成时限早于规划起始年份（{plan.period_start}年）",
            code="deadline_before_plan_start",
            errors=[ProblemItem(field="body.deadline", detail=f"不得早于 {plan.period_start}-01-01")],
        )


async def _check_parent(
    repository: TaskRepository,
    principal: Principal,
    task_id: uuid.UUID | None,
    plan_id: uuid.UUID,
    parent_id: uuid.UUID,
) -> None:
    parent = await repository.get_visible(parent_id, principal)
    if parent is None or parent.plan_id != plan_id:
        raise UnprocessableEntity(
            "上级任务不存在或不属于同一规划",
            code="parent_not_found",
            errors=[ProblemItem(field="body.parent_id", detail="上级任务不存在或不属于同一规划")],
        )
    if task_id is not None and task_id in await repository.ancestors(parent_id):
        raise Conflict(
            "上级任务设置会形成循环",
            code="task_parent_cycle",
            errors=[ProblemItem(field="body.parent_id", detail="该任务是所选上级任务的上级（或即其本身）")],
        )


def _units(data_lead: Sequence[UnitInput], data_co: Sequence[UnitInput]) -> list[tuple[AssignmentRole, Unit]]:
    def unit(item: UnitInput) -> Unit:
        return Unit(item.name or "", item.department_id, "none")

    return [(AssignmentRole.lead, unit(u)) for u in data_lead] + [
        (AssignmentRole.co, unit(u)) for u in data_co
    ]


async def _check_units(
    repository: TaskRepository,
    principal: Principal,
    plan: PlanRef,
    units: Sequence[tuple[AssignmentRole, Unit]],
    field: str,
) -> Resolver:
    """Departments given by id must exist within the plan's region subtree and the caller's view."""
    ids = [unit.department_id for _, unit in units if unit.department_id is not None]
    found = await repository.departments_by_ids(ids)
    prefix = jurisdiction_prefix(plan.region_code)
    errors = [
        ProblemItem(field=f"body.{field}", detail=f"部门 {department_id} 不存在或不在规划所属地区内")
        for department_id in ids
        if department_id not in found
        or not found[department_id].region_code.startswith(prefix)
        or not principal.can_see(found[department_id].region_code)
    ]
    if errors:
        raise UnprocessableEntity(
            "指定的部门不存在或不在规划所属地区内", code="department_not_found", errors=errors
        )
    # Names (no id) are resolved by the Resolver in the plan's region, or kept as groups.
    return Resolver(await repository.departments_of_regions([plan.region_code]), found)


async def create_task(session: AsyncSession, principal: Principal, data: TaskCreate) -> TaskRead:
    repository = TaskRepository(session)
    plan = await repository.get_plan(data.plan_id, principal)
    if plan is None:
        raise UnprocessableEntity(
            "规划不存在或尚未发布",
            code="plan_not_found",
            errors=[ProblemItem(field="body.plan_id", detail="规划不存在或尚未发布")],
        )
    deadline = data.deadline or parse_deadline(data.deadline_text)
    _check_deadline(plan, deadline)
    if data.parent_id is not None:
        await _check_parent(repository, principal, None, plan.id, data.parent_id)
    units = _units(data.lead, data.co)
    resolver = await _check_units(repository, principal, plan, units, "lead")
    task = Task(
        id=uuid.uuid4(),
        plan_id=plan.id,
        region_code=plan.region_code,
        parent_id=data.parent_id,
        origin=TaskOrigin.manual.value,
        kind=data.kind.value,
        position=await repository.next_position(plan.id),
        code=data.code,
        title=data.title,
        description=data.description,
        section=[],
        deadline=deadline,
        deadline_text=data.deadline_text,
        created_by=principal.subject,
    )
    repository.add(task)
    await repository.flush()
    await assign(repository, task, resolver, units, created_by=principal.subject)
    await _publish_with_children(session, repository, task, "created")
    return await read(repository, task)


async def _publish_with_children(
    session: AsyncSession, repository: TaskRepository, task: Task, cause: Literal["created", "updated"]
) -> None:
    children = [child.id for child in await repository.children_all(task.id)]
    await publish_task_states(session, [task.id, *children], cause=cause)


async def update_task(
    session: AsyncSession,
    principal: Principal,
    task_id: uuid.UUID,
    data: TaskUpdate,
    *,
    if_match: Sequence[str],
) -> TaskRead:
    """Change a task whose ETag is one of `if_match` (or `*`); the row is locked first, so of two
    editors holding the same ETag one wins and the other gets 412."""
    repository = TaskRepository(session)
    task = await repository.get_visible(task_id, principal, for_update=True)
    if task is None:
        raise task_not_found()
    if "*" not in if_match and etag(task) not in if_match:
        raise PreconditionFailed(
            "任务已被他人修改，请重新读取后再提交", code="precondition_failed", headers={"ETag": etag(task)}
        )
    plan = await repository.get_plan(task.plan_id)
    assert plan is not None  # a task's plan row is never deleted
    changes = data.model_dump(exclude_unset=True)
    for nullable_only in ("kind", "title", "description", "lead", "co"):
        if nullable_only in changes and changes[nullable_only] is None:
            raise UnprocessableEntity(
                "该字段不能为空",
                code="validation_failed",
                errors=[ProblemItem(field=f"body.{nullable_only}", detail="不能为 null")],
            )
    if "deadline" in changes or "deadline_text" in changes:
        deadline = changes.get("deadline", task.deadline)
        if "deadline" not in changes and changes.get("deadline_text"):
            deadline = parse_deadline(changes["deadline_text"]) or task.deadline
        _check_deadline(plan, deadline)
        task.deadline = deadline
        if "deadline_text" in changes:
            task.deadline_text = changes["deadline_text"]
    if "parent_id" in changes and changes["parent_id"] != task.parent_id:
        if changes["parent_id"] is not None:
            await _check_parent(repository, principal, task.id, task.plan_id, changes["parent_id"])
        task.parent_id = changes["parent_id"]
    for field in ("kind", "code", "title", "description"):
        if field in changes:
            setattr(task, field, changes[field])
    if data.lead is not None or data.co is not None:
        current = await read(repository, task)
        lead = data.lead if data.lead is not None else _as_inputs(current, AssignmentRole.lead)
        co = data.co if data.co is not None else _as_inputs(current, AssignmentRole.co)
        units = _units(lead, co)
        resolver = await _check_units(repository, principal, plan, units, "lead")
        await repository.delete_assignments(task.id)
        await repository.flush()
        await assign(repository, task, resolver, units, created_by=principal.subject)
    task.version += 1
    task.updated_at = datetime.now(UTC)
    await repository.flush()
    await _publish_with_children(session, repository, task, "updated")
    return await read(repository, task)


def _as_inputs(current: TaskRead, role: AssignmentRole) -> list[UnitInput]:
    assigned = current.lead if role is AssignmentRole.lead else current.co
    items = [UnitInput(department_id=a.department_id) for a in assigned]
    items += [UnitInput(name=g.name) for g in current.groups if g.role is role and not g.expanded]
    return items


async def expand_group(
    session: AsyncSession,
    principal: Principal,
    task_id: uuid.UUID,
    group_id: uuid.UUID,
    department_ids: Sequence[uuid.UUID],
) -> TaskRead:
    """A person names the departments a group stands for; they get the group's role on the task."""
    repository = TaskRepository(session)
    task = await repository.get_visible(task_id, principal, for_update=True)
    if task is None:
        raise task_not_found()
    group = await repository.get_group(task.id, group_id)
    if group is None:
        raise NotFound("分组不存在", code="group_not_found")
    if group.expanded_at is not None:
        raise Conflict("该分组已展开", code="group_already_expanded")
    found = await repository.departments_by_ids(department_ids)
    prefix = jurisdiction_prefix(task.region_code)
    errors = [
        ProblemItem(field=f"body.department_ids.{index}", detail="部门不存在或不在任务所属地区内")
        for index, department_id in enumerate(department_ids)
        if department_id not in found
        or not found[department_id].region_code.startswith(prefix)
        or not principal.can_see(found[department_id].region_code)
    ]
    if errors:
        raise UnprocessableEntity(
            "指定的部门不存在或不在任务所属地区内", code="department_not_found", errors=errors
        )
    await repository.add_assignments(
        [
            {
                "task_id": task.id,
                "department_id": department_id,
                "role": group.role,
                "unit_name": found[department_id].name,
                "position": group.position,
                "group_id": group.id,
            }
            for department_id in dict.fromkeys(department_ids)
        ]
    )
    group.expanded_at = utcnow()
    group.expanded_by = principal.subject
    task.version += 1
    task.updated_at = datetime.now(UTC)
    await repository.flush()
    await publish_task_states(session, [task.id], cause="updated")
    return await read(repository, task)


# -------------------------------------------------------------------------------------- ledger
async def ledger(session: AsyncSession, principal: Principal, plan_id: uuid.UUID) -> Ledger:
    repository = TaskRepository(session)
    plan = await repository.get_plan(plan_id, principal)
    if plan is None:
        raise plan_not_found()
    rows = await repository.ledger_rows(plan.id, principal)
    return Ledger(
        plan_id=plan.id,
        title=plan.title,
        region_code=plan.region_code,
        region_name=plan.region_name,
        current=plan.current,
        rows=[
            LedgerRow(
                number=number,
                task_id=row.id,
                code=row.code,
                kind=row.kind,
                title=row.title,
                description=row.description,
                lead=(row.lead or []) + (row.lead_groups or []),
                co=(row.co or []) + (row.co_groups or []),
                deadline=row.deadline,
                deadline_text=row.deadline_text,
                progress_percent=int(row.progress),
                progress_note=row.progress_note,
                status=row.status,
                status_label=STATUS_LABELS[TaskStatus(row.status)],
                subtask_count=int(row.subtasks),
            )
            for number, row in enumerate(rows, start=1)
        ],
    )


# -------------------------------------------------------------------------------------- counts
def lights(settings: Settings) -> LightParameters:
    return LightParameters(
        today=today_in(settings),
        yellow_within_days=settings.light_yellow_within_days,
        behind_tolerance_pct=settings.light_behind_tolerance_pct,
    )


def counts_of(rows: Sequence[tuple[str, str, int]]) -> TaskCountsRead:
    by_status: dict[str, int] = {}
    by_light: dict[str, int] = {}
    for status, light, count in rows:
        by_status[status] = by_status.get(status, 0) + count
        by_light[light] = by_light.get(light, 0) + count
    return TaskCountsRead(
        total=sum(by_status.values()),
        by_status=StatusCounts(**by_status),
        by_light=LightCounts(**by_light),
        overdue=by_light.get("red", 0),
    )


async def plan_counts(
    session: AsyncSession, principal: Principal, settings: Settings, plan_id: uuid.UUID
) -> TaskCountsRead:
    repository = TaskRepository(session)
    plan = await repository.get_plan(plan_id, principal)
    if plan is None:
        raise plan_not_found()
    return counts_of(
        await repository.status_light_counts(
            Task.plan_id == plan.id, principal.within(Task.region_code), lights=lights(settings)
        )
    )


async def region_counts(
    session: AsyncSession, principal: Principal, settings: Settings, region_code: str
) -> TaskCountsRead:
    principal.require_region(region_code, field="path.region_code")
    repository = TaskRepository(session)
    return counts_of(
        await repository.status_light_counts(
            Task.region_code.startswith(jurisdiction_prefix(region_code), autoescape=True),
            principal.within(Task.region_code),
            lights=lights(settings),
        )
    )
