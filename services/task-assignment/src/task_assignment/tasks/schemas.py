from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, model_validator

from emplan_shared.types import Name, Text
from task_assignment.tasks.models import AssignmentRole, TaskKind, TaskOrigin, TaskStatus


def _encodable(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("包含无法编码的字符") from exc
    return value


Code = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[^\x00-\x1f\x7f]+$"),
    AfterValidator(_encodable),
]

STATUS_LABELS = {
    TaskStatus.not_started: "未开始",
    TaskStatus.in_progress: "进行中",
    TaskStatus.completed: "已完成",
    TaskStatus.closed: "已销号",
    TaskStatus.returned: "已退回",
}


class SectionRead(BaseModel):
    number: str | None
    title: str


class AssignedDepartment(BaseModel):
    department_id: uuid.UUID
    name: str = Field(description="the department's current name in the directory")
    unit_name: str = Field(description="the name as the plan or the editor wrote it")
    region_code: str


class GroupRead(BaseModel):
    """A unit name standing for several departments, to be expanded by a person."""

    id: uuid.UUID
    role: AssignmentRole
    name: str
    match: str = Field(description="how plan-registry resolved the name: `group` or `none` (unresolved)")
    expanded: bool
    expanded_at: datetime | None
    expanded_by: str | None


class TaskRead(BaseModel):
    id: uuid.UUID
    plan_id: uuid.UUID
    parent_id: uuid.UUID | None
    region_code: str = Field(description="the owner's region: the plan's, or the county of a sub-task")
    origin: TaskOrigin
    kind: TaskKind
    code: str | None = Field(description="the document's number, e.g. `(12)`")
    title: str
    description: str
    section: list[SectionRead]
    deadline: date | None
    deadline_text: str | None = Field(description="the deadline as the plan wrote it")
    status: TaskStatus
    progress_percent: int = Field(description="derived from the sub-tasks (their mean) when there are any")
    progress_note: str | None
    current: bool = Field(description="false once the plan version is superseded")
    successor_id: uuid.UUID | None = Field(description="the same item's task in the newer plan version")
    subtask_count: int
    lead: list[AssignedDepartment]
    co: list[AssignedDepartment]
    groups: list[GroupRead]
    version: int = Field(description="the ETag's value; increases with every edit")
    created_by: str
    created_at: datetime
    updated_at: datetime


class TaskSummary(BaseModel):
    id: uuid.UUID
    plan_id: uuid.UUID
    parent_id: uuid.UUID | None
    region_code: str
    kind: TaskKind
    code: str | None
    title: str
    deadline: date | None
    status: TaskStatus


class DepartmentTask(TaskSummary):
    role: AssignmentRole


class UnitInput(BaseModel):
    """A lead or co-operating unit: a department by id, or a name resolved in the plan's region
    (a name with no single department becomes a group assignment; 各县〈市、区〉人民政府 cascades)."""

    department_id: uuid.UUID | None = None
    name: Name | None = None

    @model_validator(mode="after")
    def _one(self) -> UnitInput:
        if (self.department_id is None) == (self.name is None):
            raise ValueError("须且只须给出 department_id 或 name 之一")
        return self


Units = Annotated[list[UnitInput], Field(max_length=100)]


class TaskCreate(BaseModel):
    plan_id: uuid.UUID
    parent_id: uuid.UUID | None = None
    kind: TaskKind = TaskKind.other
    code: Code | None = None
    title: Name
    description: Text = ""
    deadline: date | None = None
    deadline_text: Name | None = None
    lead: Units = Field(default_factory=list)
    co: Units = Field(default_factory=list)


class TaskUpdate(BaseModel):
    """Fields to change; those left out stay. `lead` / `co` replace the assignments when given."""

    parent_id: uuid.UUID | None = None
    kind: TaskKind | None = None
    code: Code | None = None
    title: Name | None = None
    description: Text | None = None
    deadline: date | None = None
    deadline_text: Name | None = None
    lead: Units | None = None
    co: Units | None = None


class GroupExpansion(BaseModel):
    department_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=200)]


class StatusCounts(BaseModel):
    not_started: int = 0
    in_progress: int = 0
    completed: int = 0
    closed: int = 0
    returned: int = 0


class LightCounts(BaseModel):
    green: int = 0
    yellow: int = 0
    red: int = 0


class TaskCountsRead(BaseModel):
    total: int
    by_status: StatusCounts
    by_light: LightCounts = Field(description="亮灯, by each plan's light rules (see the plan's light-rules)")
    overdue: int = Field(description="deadline passed while not completed or closed (= red)")


class LedgerRow(BaseModel):
    number: int = Field(description="序号")
    task_id: uuid.UUID
    code: str | None
    kind: TaskKind
    title: str
    description: str
    lead: list[str] = Field(description="牵头单位, with unexpanded groups by name")
    co: list[str] = Field(description="配合单位")
    deadline: date | None
    deadline_text: str | None
    progress_percent: int
    progress_note: str | None
    status: TaskStatus
    status_label: str
    subtask_count: int


class Ledger(BaseModel):
    """任务分工台账 of a plan."""

    plan_id: uuid.UUID
    title: str
    region_code: str
    region_name: str
    current: bool
    rows: list[LedgerRow]


class LedgerImportResult(BaseModel):
    created: int
    skipped: list[str] = Field(description="titles already in the plan, left unchanged")
    task_ids: list[uuid.UUID]
