"""All SQL of tasks, assignments and plan headers. Jurisdiction is always a WHERE condition."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from emplan_shared.auth import Principal
from task_assignment.departments.models import Department
from task_assignment.tasks.models import Assignment, GroupAssignment, PlanRef, Task, TaskStatus
from task_assignment.work.light import light_case
from task_assignment.work.models import PlanLightRule

_OPEN = (TaskStatus.not_started.value, TaskStatus.in_progress.value, TaskStatus.returned.value)


@dataclass(frozen=True)  # frozen, hence hashable: the key of the cached workload statement
class LightParameters:
    """What the light of a task depends on besides its row: the day, and the service's defaults for
    plans without rules of their own."""

    today: date
    yellow_within_days: int
    behind_tolerance_pct: int

    def column(self) -> Any:
        return light_case(
            status=Task.__table__.c.status,
            deadline=Task.__table__.c.deadline,
            start=func.make_date(PlanRef.period_start, 1, 1),
            progress_pct=Task.__table__.c.progress_percent,
            yellow_within_days=func.coalesce(PlanLightRule.yellow_within_days, self.yellow_within_days),
            behind_tolerance_pct=func.coalesce(PlanLightRule.behind_tolerance_pct, self.behind_tolerance_pct),
            today=self.today,
        )


def derived_progress() -> Any:
    """A task's progress: the mean of its current sub-tasks' when it has any, its own otherwise."""
    child = aliased(Task)
    mean = (
        select(func.floor(func.avg(child.progress_percent)))
        .where(child.parent_id == Task.id, child.current.is_(True))
        .scalar_subquery()
    )
    return func.coalesce(mean, Task.progress_percent).cast(Task.progress_percent.type)


def subtask_count() -> Any:
    child = aliased(Task)
    return select(func.count()).where(child.parent_id == Task.id, child.current.is_(True)).scalar_subquery()


class TaskRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------------------------------ plans
    async def add_plan(self, values: dict[str, Any]) -> bool:
        """Insert a plan header; False when it is already here (a redelivered publish)."""
        statement = insert(PlanRef).values(**values).on_conflict_do_nothing(index_elements=[PlanRef.id])
        result = await self.session.execute(statement.returning(PlanRef.id))
        return result.scalar_one_or_none() is not None

    async def get_plan(self, plan_id: uuid.UUID, principal: Principal | None = None) -> PlanRef | None:
        statement = select(PlanRef).where(PlanRef.id == plan_id)
        if principal is not None:
            statement = statement.where(principal.within(PlanRef.region_code))
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def retire_plan(self, plan_id: uuid.UUID, superseded_by: uuid.UUID) -> None:
        await self.session.execute(
            update(PlanRef).where(PlanRef.id == plan_id).values(current=False, superseded_by=superseded_by)
        )
        await self.session.execute(update(Task).where(Task.plan_id == plan_id).values(current=False))

    async def link_successors(self, old_plan_id: uuid.UUID, new_plan_id: uuid.UUID) -> int:
        """Point each task of the old version at the new version's task for the same plan item, and
        carry its status and progress over: a revised plan does not undo work already done."""
        result = await self.session.execute(
            text(
                """
                WITH pairs AS (
                    SELECT old.id AS old_id, new.id AS new_id, old.status, old.progress_percent,
                           old.progress_note
                    FROM task old JOIN task new ON new.plan_item_id = old.plan_item_id
                    WHERE old.plan_id = :old AND new.plan_id = :new AND old.parent_id IS NULL
                      AND new.parent_id IS NULL
                    UNION ALL
                    SELECT old_sub.id, new_sub.id, old_sub.status, old_sub.progress_percent,
                           old_sub.progress_note
                    FROM task old JOIN task new ON new.plan_item_id = old.plan_item_id
                    JOIN task old_sub ON old_sub.parent_id = old.id AND old_sub.origin = 'cascade'
                    JOIN task new_sub ON new_sub.parent_id = new.id AND new_sub.origin = 'cascade'
                         AND new_sub.region_code = old_sub.region_code
                    WHERE old.plan_id = :old AND new.plan_id = :new
                ),
                carried AS (
                    UPDATE task SET status = pairs.status, progress_percent = pairs.progress_percent,
                                    progress_note = pairs.progress_note
                    FROM pairs WHERE task.id = pairs.new_id
                )
                UPDATE task SET successor_id = pairs.new_id, current = false
                FROM pairs WHERE task.id = pairs.old_id
                """
            ),
            {"old": old_plan_id, "new": new_plan_id},
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------------------- departments
    async def departments_by_ids(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Department]:
        if not ids:
            return {}
        rows = await self.session.execute(select(Department).where(Department.id.in_(set(ids))))
        return {department.id: department for department in rows.scalars()}

    async def departments_of_regions(self, region_codes: Sequence[str]) -> list[Department]:
        if not region_codes:
            return []
        statement = select(Department).where(
            Department.region_code.in_(set(region_codes)), Department.active.is_(True)
        )
        return list((await self.session.execute(statement)).scalars())

    # ------------------------------------------------------------------------------------- tasks
    def add(self, item: Task | Assignment | GroupAssignment) -> None:
        self.session.add(item)

    async def flush(self) -> None:
        await self.session.flush()

    def visible(self, principal: Principal) -> Select[Task]:
        return select(Task).where(principal.within(Task.region_code))

    async def get_visible(
        self, task_id: uuid.UUID, principal: Principal, *, for_update: bool = False
    ) -> Task | None:
        statement = self.visible(principal).where(Task.id == task_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def get(self, task_id: uuid.UUID) -> Task | None:
        return await self.session.get(Task, task_id)

    async def progress_and_children(self, task_id: uuid.UUID) -> tuple[int, int]:
        row = (
            await self.session.execute(select(derived_progress(), subtask_count()).where(Task.id == task_id))
        ).one()
        return int(row[0]), int(row[1])

    async def ancestors(self, task_id: uuid.UUID) -> list[uuid.UUID]:
        """The task and every task above it, nearest first (to refuse a parent that would close a cycle)."""
        rows = await self.session.execute(
            text(
                """
                WITH RECURSIVE up(id, parent_id, depth) AS (
                    SELECT id, parent_id, 0 FROM task WHERE id = :id
                    UNION ALL
                    SELECT t.id, t.parent_id, up.depth + 1 FROM task t JOIN up ON t.id = up.parent_id
                    WHERE up.depth < 100
                )
                SELECT id FROM up ORDER BY depth
                """
            ),
            {"id": task_id},
        )
        return [row[0] for row in rows]

    async def task_ids_of_plan(self, plan_id: uuid.UUID) -> list[uuid.UUID]:
        statement = select(Task.id).where(Task.plan_id == plan_id).order_by(Task.position, Task.region_code)
        return list((await self.session.execute(statement)).scalars())

    async def next_position(self, plan_id: uuid.UUID) -> int:
        statement = select(func.coalesce(func.max(Task.position), 0) + 1).where(Task.plan_id == plan_id)
        return int((await self.session.execute(statement)).scalar_one())

    async def assignments(self, task_ids: Sequence[uuid.UUID]) -> list[tuple[Assignment, Department]]:
        if not task_ids:
            return []
        statement = (
            select(Assignment, Department)
            .join(Department, Department.id == Assignment.department_id)
            .where(Assignment.task_id.in_(task_ids))
            .order_by(Assignment.task_id, Assignment.role.desc(), Assignment.position)
        )
        return [(row[0], row[1]) for row in await self.session.execute(statement)]

    async def groups(self, task_ids: Sequence[uuid.UUID]) -> list[GroupAssignment]:
        if not task_ids:
            return []
        statement = (
            select(GroupAssignment)
            .where(GroupAssignment.task_id.in_(task_ids))
            .order_by(GroupAssignment.task_id, GroupAssignment.role.desc(), GroupAssignment.position)
        )
        return list((await self.session.execute(statement)).scalars())

    async def get_group(self, task_id: uuid.UUID, group_id: uuid.UUID) -> GroupAssignment | None:
        statement = select(GroupAssignment).where(
            GroupAssignment.id == group_id, GroupAssignment.task_id == task_id
        )
        return (await self.session.execute(statement.with_for_update())).scalar_one_or_none()

    async def add_assignments(self, rows: list[dict[str, Any]]) -> int:
        """Insert assignments, skipping a department already on the task."""
        if not rows:
            return 0
        statement = (
            insert(Assignment)
            .values(rows)
            .on_conflict_do_nothing(constraint="uq_assignment_task_id_department_id")
            .returning(Assignment.id)
        )
        return len((await self.session.execute(statement)).all())

    async def delete_assignments(self, task_id: uuid.UUID) -> None:
        from sqlalchemy import delete

        await self.session.execute(delete(Assignment).where(Assignment.task_id == task_id))
        await self.session.execute(delete(GroupAssignment).where(GroupAssignment.task_id == task_id))

    async def ledger_rows(self, plan_id: uuid.UUID, principal: Principal) -> list[Any]:
        """The plan's top-level tasks in ledger order as plain rows (no ORM objects: a 500-task ledger
        is read in one round trip), with unit names, derived progress and sub-task counts."""
        # The jurisdiction prefix is digits only (validated GB/T 2260), so LIKE needs no escaping.
        parameters = {"plan_id": plan_id, "jurisdiction": principal.jurisdiction + "%"}
        return list(await self.session.execute(_ledger_statement(), parameters))

    async def children(self, task_id: uuid.UUID, principal: Principal) -> list[Task]:
        statement = (
            self.visible(principal).where(Task.parent_id == task_id).order_by(Task.region_code, Task.position)
        )
        return list((await self.session.execute(statement)).scalars())

    async def children_all(self, task_id: uuid.UUID) -> list[Task]:
        statement = select(Task).where(Task.parent_id == task_id)
        return list((await self.session.execute(statement)).scalars())

    async def titles_in_plan(self, plan_id: uuid.UUID) -> set[str]:
        statement = select(Task.title).where(Task.plan_id == plan_id, Task.parent_id.is_(None))
        return set((await self.session.execute(statement)).scalars())

    # ------------------------------------------------------------------------------------ counts
    async def status_light_counts(
        self, *conditions: Any, lights: LightParameters, department_id: uuid.UUID | None = None
    ) -> list[tuple[str, str, int]]:
        """(status, light, tasks) of the current tasks matching `conditions`, in one query; the light is
        the work feature's SQL rule with each plan's own thresholds (or the service's defaults)."""
        tasks = (
            select(Task.status.label("status"), lights.column().label("light"))
            .select_from(Task)
            .join(PlanRef, PlanRef.id == Task.plan_id)
            .outerjoin(PlanLightRule, PlanLightRule.plan_id == Task.plan_id)
            .where(Task.current.is_(True), *conditions)
        )
        if department_id is not None:
            tasks = tasks.join(
                Assignment, and_(Assignment.task_id == Task.id, Assignment.department_id == department_id)
            )
        inner = tasks.subquery()
        statement = select(inner.c.status, inner.c.light, func.count()).group_by(
            inner.c.status, inner.c.light
        )
        rows = await self.session.execute(statement)
        return [(row[0], row[1], int(row[2])) for row in rows]

    async def workload_counts(
        self, department_id: uuid.UUID, principal: Principal, lights: LightParameters
    ) -> list[tuple[str, str, str, int]]:
        """(role, status, light, tasks) for a department's current tasks, in one query."""
        parameters = {"department_id": department_id, "jurisdiction": principal.jurisdiction + "%"}
        rows = await self.session.execute(_workload_statement(lights), parameters)
        return [(row[0], row[1], row[2], int(row[3])) for row in rows]

    async def department_tasks(
        self,
        department_id: uuid.UUID,
        principal: Principal,
        *,
        role: str | None,
        status: str | None,
        after: tuple[date | None, uuid.UUID] | None,
        limit: int,
    ) -> list[tuple[Task, str]]:
        """A department's current tasks across plans, soonest deadline first (keyset pagination)."""
        far = date(9999, 12, 31)
        deadline_key = func.coalesce(Task.deadline, far)
        statement = (
            select(Task, Assignment.role)
            .join(Assignment, Assignment.task_id == Task.id)
            .where(
                Assignment.department_id == department_id,
                Task.current.is_(True),
                principal.within(Task.region_code),
            )
        )
        if role is not None:
            statement = statement.where(Assignment.role == role)
        if status is not None:
            statement = statement.where(Task.status == status)
        if after is not None:
            key = after[0] or far
            statement = statement.where((deadline_key > key) | and_(deadline_key == key, Task.id > after[1]))
        statement = statement.order_by(deadline_key, Task.id).limit(limit)
        return [(row[0], row[1]) for row in await self.session.execute(statement)]


@cache
def _ledger_statement() -> Any:
    """Built once with bind parameters: composing this statement costs more than running it."""

    def names(role: str) -> Any:
        return (
            select(func.array_agg(aggregate_order_by(Department.name, Assignment.position)))
            .select_from(Assignment)
            .join(Department, Department.id == Assignment.department_id)
            .where(Assignment.task_id == Task.id, Assignment.role == role)
            .scalar_subquery()
        )

    def groups(role: str) -> Any:
        # Unexpanded groups by name; a cascade's too (the ledger shows 各县〈市、区〉人民政府 as written).
        return (
            select(func.array_agg(aggregate_order_by(GroupAssignment.name, GroupAssignment.position)))
            .where(
                GroupAssignment.task_id == Task.id,
                GroupAssignment.role == role,
                (GroupAssignment.expanded_at.is_(None)) | (GroupAssignment.expanded_by == "cascade"),
            )
            .scalar_subquery()
        )

    child = aliased(Task)
    children = (
        select(
            child.parent_id.label("parent_id"),
            func.floor(func.avg(child.progress_percent)).label("progress"),
            func.count().label("count"),
        )
        .where(child.plan_id == bindparam("plan_id"), child.parent_id.is_not(None), child.current.is_(True))
        .group_by(child.parent_id)
        .subquery()
    )
    statement = (
        select(
            Task.id,
            Task.code,
            Task.kind,
            Task.title,
            Task.description,
            Task.deadline,
            Task.deadline_text,
            func.coalesce(children.c.progress, Task.progress_percent).label("progress"),
            func.coalesce(children.c.count, 0).label("subtasks"),
            Task.progress_note,
            Task.status,
            names("lead").label("lead"),
            names("co").label("co"),
            groups("lead").label("lead_groups"),
            groups("co").label("co_groups"),
        )
        .outerjoin(children, children.c.parent_id == Task.id)
        .where(
            Task.plan_id == bindparam("plan_id"),
            Task.parent_id.is_(None),
            Task.region_code.like(bindparam("jurisdiction")),
        )
        .order_by(Task.position, Task.id)
    )
    return statement


@lru_cache(maxsize=8)
def _workload_statement(lights: LightParameters) -> Any:
    """Built once a day (the light depends on the day): composing it costs more CPU than running it."""
    tasks = (
        select(Assignment.role.label("role"), Task.status.label("status"), lights.column().label("light"))
        .select_from(Assignment)
        .join(Task, Task.id == Assignment.task_id)
        .join(PlanRef, PlanRef.id == Task.plan_id)
        .outerjoin(PlanLightRule, PlanLightRule.plan_id == Task.plan_id)
        .where(
            Assignment.department_id == bindparam("department_id"),
            Task.current.is_(True),
            # Digits only (a validated GB/T 2260 prefix), so LIKE needs no escaping.
            Task.region_code.like(bindparam("jurisdiction")),
        )
        .subquery()
    )
    return select(tasks.c.role, tasks.c.status, tasks.c.light, func.count()).group_by(
        tasks.c.role, tasks.c.status, tasks.c.light
    )
