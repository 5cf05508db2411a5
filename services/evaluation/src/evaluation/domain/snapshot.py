"""What a round freezes: the plan, every target's figures and status, every task's state.

The snapshot is the interface between the evaluation and the rest of the system. A round takes it
from the service's read model, fed by indicator-engine's and task-assignment's events
(`evaluation.readmodel.snapshot`); a system administrator may post one whole instead
(`POST /api/v1/evaluations/rounds/{id}/snapshot`, an override). `sources` says up to which event of
each stream the figures go and `rules_version` which calculation rules produced them, so any figure
in a report can be traced and reproduced.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from emplan_shared.types import Name, ShortName, Text

RegionCode = Annotated[str, Field(pattern=r"^\d{6}$", description="GB/T 2260 code", examples=["140921"])]


def _encodable(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("包含无法编码的字符") from exc
    return value


# A unit may be empty (counts); no control characters, nothing PostgreSQL or JSON cannot store.
Unit = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=50, pattern=r"^[^\x00-\x1f\x7f]*$"),
    AfterValidator(_encodable),
]
Sequence_ = Annotated[int, Field(ge=0, le=2**63 - 1)]
# Snapshot values are exact decimals; bounded so a value can always be stored and rendered.
Value = Annotated[Decimal, Field(max_digits=20, decimal_places=6, allow_inf_nan=False)]


class Nature(StrEnum):
    """约束性 / 预期性."""

    binding = "binding"
    expected = "expected"


TargetType = Literal["decrease_pct", "max", "min", "equals"]


class TargetStatus(StrEnum):
    met = "met"
    on_track = "on_track"
    lagging = "lagging"
    seriously_lagging = "seriously_lagging"
    no_data = "no_data"


class TaskStatus(StrEnum):
    not_started = "not_started"
    in_progress = "in_progress"
    completed = "completed"
    closed = "closed"  # 销号
    returned = "returned"  # 退回整改


class Light(StrEnum):
    """亮灯."""

    green = "green"
    yellow = "yellow"
    red = "red"


TARGET_STATUS_LABELS: dict[TargetStatus, str] = {
    TargetStatus.met: "已达标",
    TargetStatus.on_track: "符合序时进度",
    TargetStatus.lagging: "滞后",
    TargetStatus.seriously_lagging: "严重滞后",
    TargetStatus.no_data: "缺少数据",
}
TASK_STATUS_LABELS: dict[TaskStatus, str] = {
    TaskStatus.not_started: "未启动",
    TaskStatus.in_progress: "推进中",
    TaskStatus.completed: "已完成",
    TaskStatus.closed: "已销号",
    TaskStatus.returned: "已退回",
}
LIGHT_LABELS: dict[Light, str] = {Light.green: "绿灯", Light.yellow: "黄灯", Light.red: "红灯"}
NATURE_LABELS: dict[Nature, str] = {Nature.binding: "约束性", Nature.expected: "预期性"}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlanInfo(_Frozen):
    plan_id: ShortName
    title: Name
    region_code: RegionCode
    region_name: Name
    period_start: int = Field(ge=1900, le=2200)
    period_end: int = Field(ge=1900, le=2200)


class TargetFigures(_Frozen):
    """One target of one region as of the reference date (one row of the core indicator table)."""

    target_id: ShortName = Field(description="stable id of the target in its region")
    indicator_name: Name
    nature: Nature
    unit: Unit = ""
    region_code: RegionCode
    region_name: Name
    lead_department: Name | None = Field(None, description="the unit answering for the target, if any")
    baseline_year: int | None = Field(None, ge=1900, le=2200)
    baseline_value: Value | None = None
    target_type: TargetType
    target_value: Value
    strict: bool = False
    current_value: Value | None = None
    required_value: Value | None = Field(
        None, description="the value 序时进度 requires by the reference date"
    )
    status: TargetStatus

    @model_validator(mode="after")
    def _data_matches_status(self) -> TargetFigures:
        if self.current_value is None and self.status is not TargetStatus.no_data:
            raise ValueError("没有当前值的指标状态只能是 no_data（缺少数据）")
        return self


class LastReport(_Frozen):
    reported_on: date
    summary: Text


class TaskState(_Frozen):
    """One task (or its cascade to one region) as of the reference date."""

    code: ShortName
    title: Text
    lead_department: Name
    co_departments: list[Name] = Field(default_factory=list, max_length=100)
    region_code: RegionCode
    region_name: Name
    deadline: date | None = None
    status: TaskStatus
    light: Light
    overdue: bool = False
    returned_count: int = Field(0, ge=0, le=1000)
    last_report: LastReport | None = None


class Snapshot(_Frozen):
    """Everything a round's figures come from, frozen at the reference date."""

    plan: PlanInfo
    reference_date: date
    targets: list[TargetFigures] = Field(default_factory=list, max_length=20_000)
    tasks: list[TaskState] = Field(default_factory=list, max_length=50_000)
    sources: dict[ShortName, Sequence_] = Field(
        default_factory=dict,
        description="stream name → sequence of the last event of that stream the figures include",
    )
    rules_version: ShortName = Field(description="version of the calculation rules")

    @model_validator(mode="after")
    def _unique_keys(self) -> Snapshot:
        seen_targets: set[tuple[str, str]] = set()
        for target in self.targets:
            key = (target.region_code, target.target_id)
            if key in seen_targets:
                raise ValueError(f"指标 {target.target_id}（{target.region_code}）重复")
            seen_targets.add(key)
        seen_tasks: set[tuple[str, str]] = set()
        for task in self.tasks:
            key = (task.region_code, task.code)
            if key in seen_tasks:
                raise ValueError(f"任务 {task.code}（{task.region_code}）重复")
            seen_tasks.add(key)
        return self
