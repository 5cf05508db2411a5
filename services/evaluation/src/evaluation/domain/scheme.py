"""How a round is scored: the scoring scheme (评分方案), versioned per plan, and the default one.

The default scheme (`DEFAULT_SCHEME`, also served at `GET /api/v1/evaluations/schemes/default`):

- **100 points**: 60 for indicators, 40 for tasks. A subject (a region or a lead department) that has
  only indicators or only tasks has that part scaled to 100, so a department without indicators is not
  capped at 40.
- **Indicators**: the indicator part is shared among the subject's targets by nature, a binding
  (约束性) target weighing 2 and an expected (预期性) one 1. A target earns its share times the credit
  of its status: met 1, on track 1, lagging 0.5, seriously lagging 0, no data 0.
- **Tasks**: the task part is shared equally among the subject's tasks; a task earns its share times
  the credit of its status: completed or closed 1, in progress 0.5, not started 0, returned 0.
- **A missed binding indicator** (status lagging or seriously lagging) deducts 10 points; a scheme
  may instead make it a veto (一票否决: the subject's total is 0 whatever else it earned).
- **Overdue** tasks deduct 1 point each; every return (退回整改) of a task deducts 0.5.
- **Bonus items** (加分项) are awarded by the bureau per round, at most 5 points in all per subject.
- A total below 0 is raised to 0.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from emplan_shared.types import Name
from evaluation.domain.snapshot import TargetStatus, TaskStatus

Points = Annotated[Decimal, Field(ge=0, le=100, max_digits=7, decimal_places=4, allow_inf_nan=False)]
Credit = Annotated[Decimal, Field(ge=0, le=1, max_digits=5, decimal_places=4, allow_inf_nan=False)]
RelativeWeight = Annotated[Decimal, Field(gt=0, le=100, max_digits=7, decimal_places=4, allow_inf_nan=False)]

HUNDRED = Decimal(100)


class MissedBindingMode(StrEnum):
    veto = "veto"  # 一票否决
    deduction = "deduction"


class MissedBindingRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: MissedBindingMode = MissedBindingMode.deduction
    points: Points = Field(
        Decimal(10), description="points deducted per missed binding target (mode deduction)"
    )
    statuses: list[TargetStatus] = Field(
        default_factory=lambda: [TargetStatus.lagging, TargetStatus.seriously_lagging],
        min_length=1,
        description="statuses that count as missed",
    )


class BonusItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(min_length=1, max_length=50, pattern=r"^[a-z0-9_]+$")
    label: Name
    points: Points


def _default_indicator_credit() -> dict[TargetStatus, Decimal]:
    return {
        TargetStatus.met: Decimal(1),
        TargetStatus.on_track: Decimal(1),
        TargetStatus.lagging: Decimal("0.5"),
        TargetStatus.seriously_lagging: Decimal(0),
        TargetStatus.no_data: Decimal(0),
    }


def _default_task_credit() -> dict[TaskStatus, Decimal]:
    return {
        TaskStatus.completed: Decimal(1),
        TaskStatus.closed: Decimal(1),
        TaskStatus.in_progress: Decimal("0.5"),
        TaskStatus.not_started: Decimal(0),
        TaskStatus.returned: Decimal(0),
    }


def _default_bonus_items() -> list[BonusItem]:
    return [
        BonusItem(code="national_commendation", label="获国家级表彰或经验推广", points=Decimal(3)),
        BonusItem(code="provincial_commendation", label="获省级表彰或经验推广", points=Decimal(2)),
        BonusItem(code="innovation", label="工作创新被上级采纳", points=Decimal(1)),
    ]


class ScoringScheme(BaseModel):
    """A scoring scheme's rules (the stored scheme adds its plan, version and author)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name = "默认评分方案"
    indicator_weight: Points = Field(Decimal(60), description="points for indicators; with task_weight, 100")
    task_weight: Points = Field(Decimal(40), description="points for tasks; with indicator_weight, 100")
    binding_weight: RelativeWeight = Field(Decimal(2), description="relative weight of a binding target")
    expected_weight: RelativeWeight = Field(Decimal(1), description="relative weight of an expected target")
    indicator_credit: dict[TargetStatus, Credit] = Field(
        default_factory=_default_indicator_credit, description="share of a target's points its status earns"
    )
    task_credit: dict[TaskStatus, Credit] = Field(
        default_factory=_default_task_credit, description="share of a task's points its status earns"
    )
    missed_binding: MissedBindingRule = Field(default_factory=MissedBindingRule)
    overdue_deduction: Points = Field(Decimal(1), description="points deducted per overdue task")
    returned_deduction: Points = Field(Decimal("0.5"), description="points deducted per return of a task")
    bonus_items: list[BonusItem] = Field(default_factory=_default_bonus_items, max_length=50)
    bonus_cap: Points = Field(Decimal(5), description="most bonus points a subject can receive in one round")

    @model_validator(mode="after")
    def _consistent(self) -> ScoringScheme:
        total = self.indicator_weight + self.task_weight
        if total != HUNDRED:
            raise ValueError(
                f"指标权重（{self.indicator_weight}）与任务权重（{self.task_weight}）之和应为 100，当前为 {total}"
            )
        missing_targets = [s.value for s in TargetStatus if s not in self.indicator_credit]
        if missing_targets:
            raise ValueError(f"指标得分率缺少状态：{'、'.join(missing_targets)}")
        missing_tasks = [s.value for s in TaskStatus if s not in self.task_credit]
        if missing_tasks:
            raise ValueError(f"任务得分率缺少状态：{'、'.join(missing_tasks)}")
        codes = [item.code for item in self.bonus_items]
        if len(codes) != len(set(codes)):
            raise ValueError("加分项代码重复")
        return self

    def bonus_item(self, code: str) -> BonusItem | None:
        return next((item for item in self.bonus_items if item.code == code), None)


DEFAULT_SCHEME = ScoringScheme()
