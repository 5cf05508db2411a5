"""All SQL of work on a task. Jurisdiction is a WHERE condition on the task's region."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.auth import Principal
from task_assignment.tasks.models import Assignment, PlanRef, Task
from task_assignment.work.models import (
    EvidenceBlob,
    PlanLightRule,
    TaskEvidence,
    TaskReport,
    TaskStatusChange,
)


class WorkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def task_for_work(
        self, task_id: uuid.UUID, principal: Principal, *, lock: bool
    ) -> tuple[Task, PlanRef] | None:
        """The task (row-locked when it is about to change) and its plan, if within the jurisdiction."""
        statement = (
            select(Task, PlanRef)
            .join(PlanRef, PlanRef.id == Task.plan_id)
            .where(Task.id == task_id, principal.within(Task.region_code))
        )
        if lock:
            statement = statement.with_for_update(of=Task)
        row = (await self.session.execute(statement)).one_or_none()
        return (row[0], row[1]) if row else None

    async def assignment_role(self, task_id: uuid.UUID, department_id: uuid.UUID) -> str | None:
        statement = select(Assignment.role).where(
            Assignment.task_id == task_id, Assignment.department_id == department_id
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def set_task(self, task: Task, **values: object) -> int:
        """Change the task and bump its version (the ETag) in one statement; returns the new version."""
        statement = (
            update(Task)
            .where(Task.id == task.id)
            .values(**values, version=Task.version + 1, updated_at=func.now())
            .returning(Task.version)
        )
        version = int((await self.session.execute(statement)).scalar_one())
        await self.session.refresh(task)
        return version

    def add(self, item: TaskReport | TaskEvidence | TaskStatusChange | PlanLightRule) -> None:
        self.session.add(item)

    async def flush(self) -> None:
        await self.session.flush()

    async def store_blob(self, sha256: str, content: bytes) -> None:
        statement = (
            insert(EvidenceBlob)
            .values(sha256=sha256, size_bytes=len(content), content=content)
            .on_conflict_do_nothing(index_elements=[EvidenceBlob.sha256])
        )
        await self.session.execute(statement)

    async def blob(self, sha256: str) -> bytes | None:
        statement = select(EvidenceBlob.content).where(EvidenceBlob.sha256 == sha256)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def report(self, task_id: uuid.UUID, report_id: uuid.UUID) -> TaskReport | None:
        statement = select(TaskReport).where(TaskReport.id == report_id, TaskReport.task_id == task_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def evidence_of(self, report_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[TaskEvidence]]:
        found: dict[uuid.UUID, list[TaskEvidence]] = {report_id: [] for report_id in report_ids}
        if not report_ids:
            return found
        statement = (
            select(TaskEvidence)
            .where(TaskEvidence.report_id.in_(report_ids))
            .order_by(TaskEvidence.created_at, TaskEvidence.id)
        )
        for evidence in (await self.session.execute(statement)).scalars():
            found[evidence.report_id].append(evidence)
        return found

    async def evidence(self, report_id: uuid.UUID, evidence_id: uuid.UUID) -> TaskEvidence | None:
        statement = select(TaskEvidence).where(
            TaskEvidence.id == evidence_id, TaskEvidence.report_id == report_id
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def reports(
        self, task_id: uuid.UUID, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[TaskReport]:
        """Newest first (keyset pagination on submitted_at, id)."""
        statement = select(TaskReport).where(TaskReport.task_id == task_id)
        if after is not None:
            statement = statement.where(
                func.row(TaskReport.submitted_at, TaskReport.id) < func.row(after[0], after[1])
            )
        statement = statement.order_by(TaskReport.submitted_at.desc(), TaskReport.id.desc()).limit(limit)
        return list((await self.session.execute(statement)).scalars())

    async def latest_per_unit(self, task_id: uuid.UUID) -> list[TaskReport]:
        """Each reporting unit's newest report (the bureau counts as one unit)."""
        statement = (
            select(TaskReport)
            .where(TaskReport.task_id == task_id)
            .ext(distinct_on(TaskReport.department_id, TaskReport.capacity))
            .order_by(
                TaskReport.department_id,
                TaskReport.capacity,
                TaskReport.submitted_at.desc(),
                TaskReport.id.desc(),
            )
        )
        return list((await self.session.execute(statement)).scalars())

    async def history(self, task_id: uuid.UUID) -> list[TaskStatusChange]:
        statement = (
            select(TaskStatusChange).where(TaskStatusChange.task_id == task_id).order_by(TaskStatusChange.id)
        )
        return list((await self.session.execute(statement)).scalars())

    async def plan(self, plan_id: uuid.UUID, principal: Principal) -> PlanRef | None:
        statement = select(PlanRef).where(PlanRef.id == plan_id, principal.within(PlanRef.region_code))
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def light_rule(self, plan_id: uuid.UUID) -> PlanLightRule | None:
        return await self.session.get(PlanLightRule, plan_id)

    async def put_light_rule(self, plan_id: uuid.UUID, yellow: int, tolerance: int, by: str) -> None:
        statement = insert(PlanLightRule).values(
            plan_id=plan_id, yellow_within_days=yellow, behind_tolerance_pct=tolerance, updated_by=by
        )
        statement = statement.on_conflict_do_update(
            index_elements=[PlanLightRule.plan_id],
            set_={
                "yellow_within_days": statement.excluded.yellow_within_days,
                "behind_tolerance_pct": statement.excluded.behind_tolerance_pct,
                "updated_by": statement.excluded.updated_by,
                "updated_at": func.now(),
            },
        )
        await self.session.execute(statement)
