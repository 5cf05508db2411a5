"""Request and response bodies of work on a task."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AnyHttpUrl, BaseModel, BeforeValidator, Field, model_validator

from emplan_shared.types import Name, Text
from task_assignment.work.light import Light
from task_assignment.work.periods import PERIOD_PATTERN
from task_assignment.work.workflow import Action, Capacity, TaskStatus

Percent = Annotated[int, Field(ge=0, le=100, description="progress, 0–100 %")]


class EvidenceLinkCreate(BaseModel):
    model_config = {"extra": "forbid"}

    url: AnyHttpUrl = Field(description="an http(s) link to the evidence, e.g. a published notice")
    title: Name | None = None


class ReportCreate(BaseModel):
    """A progress report. Give a percent, a milestone reached, or both."""

    model_config = {"extra": "forbid"}

    period: str = Field(
        pattern=PERIOD_PATTERN,
        description="the period reported on: a year, quarter or month",
        examples=["2026-Q4", "2026-11", "2026"],
    )
    percent: Percent | None = None
    milestone: Name | None = Field(None, description="milestone reached, e.g. 完成招标")
    narrative: Text = Field("", description="what was done (进展情况)")
    links: list[EvidenceLinkCreate] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _percent_or_milestone(self) -> ReportCreate:
        if self.percent is None and self.milestone is None:
            raise ValueError("须填写完成百分比或已达到的节点（milestone）")
        return self


class EvidenceRead(BaseModel):
    id: uuid.UUID
    kind: Literal["file", "link"] = Field(description="an uploaded file or a link")
    filename: str | None
    media_type: str | None
    size_bytes: int | None
    sha256: str | None = Field(description="SHA-256 of the file's content, hex")
    url: str | None
    title: str | None
    uploaded_by: str
    created_at: datetime


class ReportRead(BaseModel):
    id: uuid.UUID
    task_id: uuid.UUID
    department_id: uuid.UUID | None = Field(description="null when the owner bureau reported")
    capacity: Capacity
    period: str
    percent: int | None
    milestone: str | None
    narrative: str
    submitted_by: str = Field(description="the account that submitted it")
    submitted_by_name: str | None
    submitted_at: datetime
    evidence: list[EvidenceRead]
    status: TaskStatus = Field(description="the task's status after the report")


class TransitionCreate(BaseModel):
    model_config = {"extra": "forbid"}

    action: Action = Field(
        description="start; claim_completion (lead unit); close (销号, owner bureau); return (owner bureau, "
        "with a reason)"
    )
    reason: Text | None = Field(None, description="why the task is returned; required for `return`")


class LightRules(BaseModel):
    """The light's thresholds for a plan."""

    model_config = {"extra": "forbid"}

    yellow_within_days: int = Field(
        ge=0, le=366, description="yellow when the deadline is this many days away"
    )
    behind_tolerance_pct: int = Field(
        ge=0, le=100, description="yellow when progress lags the share of time elapsed by more points"
    )


class LightRulesRead(LightRules):
    plan_id: uuid.UUID
    default: bool = Field(description="true when the plan has no rules of its own (the service defaults)")


class StatusChangeRead(BaseModel):
    from_status: TaskStatus
    to_status: TaskStatus
    action: str
    capacity: Capacity
    reason: str | None
    actor: str
    actor_name: str | None
    department_id: uuid.UUID | None
    version: int
    changed_at: datetime


class DepartmentProgress(BaseModel):
    department_id: uuid.UUID | None
    capacity: Capacity
    latest_report: ReportRead


class TaskProgressRead(BaseModel):
    """A task's work state: status, progress, light, and what each unit last reported."""

    task_id: uuid.UUID
    plan_id: uuid.UUID
    status: TaskStatus
    version: int = Field(description="also the ETag; send it back as If-Match on transitions")
    progress_percent: int = Field(
        description="the lead unit's (or the bureau's) latest reported percent; for a parent with "
        "sub-tasks, the mean of theirs"
    )
    progress_note: str | None
    deadline: date | None
    as_of: date = Field(description="the day the light and overdue were computed for (China time)")
    overdue: bool
    light: Light
    light_rules: LightRulesRead
    units: list[DepartmentProgress] = Field(description="each reporting unit's latest report")
    history: list[StatusChangeRead]


def _iso_date_only(value: object) -> object:
    # pydantic reads a number as seconds since 1970; a day must be written as a day.
    if isinstance(value, int | float):
        raise ValueError("日期应写作 YYYY-MM-DD")
    return value


def _within_plans(value: date) -> date:
    if not date(2000, 1, 1) <= value <= date(2100, 12, 31):
        raise ValueError("日期应在 2000-01-01 至 2100-12-31 之间")
    return value


ScanDay = Annotated[
    date,
    BeforeValidator(_iso_date_only),
    AfterValidator(_within_plans),
    Field(description="a day between 2000-01-01 and 2100-12-31, YYYY-MM-DD"),
]


class OverdueScanRequest(BaseModel):
    model_config = {"extra": "forbid"}

    as_of: ScanDay | None = Field(None, description="scan as of this day (default: today, China time)")


class OverdueScanResult(BaseModel):
    as_of: date
    overdue: int = Field(description="current tasks overdue on that day")
    notified: int = Field(description="task.overdue events written by this scan (new task/deadline pairs)")


class ReminderScanRequest(BaseModel):
    model_config = {"extra": "forbid"}

    as_of: ScanDay | None = Field(None, description="scan as of this day (default: today, China time)")


class ReminderScanResult(BaseModel):
    as_of: date
    period: str
    window_open: bool = Field(description="false before the reminder window of the period opens")
    notified: int = Field(description="task.reminder.due events written by this scan")
