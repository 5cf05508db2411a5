"""Scores of the subordinate regions and the lead departments, every point explained, and rankings.

Who is scored:
- a **region** is every region of the snapshot other than the plan's own (the counties of a city
  plan): its targets and the tasks carried out there;
- a **lead department** (牵头单位) is every department leading a task or answering for a target: the
  tasks it leads (in any region) and the targets it answers for.

How (see `scheme.py` for the default numbers): each target and task is one line item with the points
it earned out of its share; each deduction, bonus, veto or floor is another line. Every line is
rounded to 0.01 point (half up) and the total is the sum of the lines, so the explanation always adds
up to the total exactly.

Ranking: by total, highest first; a vetoed subject has total 0. Equal totals share a rank and the
next rank skips (standard competition ranking: 1, 2, 2, 4). Within a tie the list is ordered by the
subject's key (region code, or department name by Unicode code point), so the order never depends on
the order of the input.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from emplan_shared.types import Name, Text
from evaluation.domain.scheme import HUNDRED, MissedBindingMode, ScoringScheme
from evaluation.domain.snapshot import (
    NATURE_LABELS,
    TARGET_STATUS_LABELS,
    TASK_STATUS_LABELS,
    Nature,
    Snapshot,
    TargetFigures,
    TaskState,
)

# Changes whenever the way a snapshot and scheme turn into points changes, so an old result can be
# told apart from one the current code would give.
SCORING_RULES_VERSION = "scoring-2026.1"

CENT = Decimal("0.01")
ZERO = Decimal(0)


def points(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class SubjectKind(StrEnum):
    region = "region"
    department = "department"


class LineKind(StrEnum):
    indicator = "indicator"
    task = "task"
    missed_binding = "missed_binding"
    overdue = "overdue"
    returned = "returned"
    bonus = "bonus"
    bonus_cap = "bonus_cap"
    veto = "veto"
    floor = "floor"


class LineItem(BaseModel):
    """One reason for points given or taken."""

    model_config = ConfigDict(frozen=True)

    kind: LineKind
    ref: str = Field(description="the target id, task code or bonus item code the line is about")
    label: str = Field(description="what the line is about, in Chinese")
    points: Decimal = Field(description="points given (positive) or taken (negative), to 0.01")
    max_points: Decimal | None = Field(None, description="the most this line could give (targets and tasks)")
    reason: str = Field(description="why, in Chinese")


class BonusAward(BaseModel):
    """A bonus item the bureau awards to one subject in a round."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject_kind: SubjectKind
    subject_key: Name = Field(description="region code, or the lead department's name")
    item_code: str = Field(min_length=1, max_length=50, pattern=r"^[a-z0-9_]+$")
    note: Text = ""


class SubjectScore(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: SubjectKind
    key: str
    name: str
    rank: int
    total: Decimal
    indicator_points: Decimal
    task_points: Decimal
    deductions: Decimal = Field(description="sum of the negative lines other than the veto (≤ 0)")
    bonus: Decimal
    vetoed: bool
    target_count: int
    task_count: int
    overdue_count: int
    lines: list[LineItem]


class ScoreResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    rules_version: str = SCORING_RULES_VERSION
    regions: list[SubjectScore]
    departments: list[SubjectScore]


class UnknownBonusItem(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(f"加分项 {code} 不在评分方案中")
        self.code = code


def score(snapshot: Snapshot, scheme: ScoringScheme, bonuses: Sequence[BonusAward] = ()) -> ScoreResult:
    for award in bonuses:
        if scheme.bonus_item(award.item_code) is None:
            raise UnknownBonusItem(award.item_code)
    plan_region = snapshot.plan.region_code

    region_names: dict[str, str] = {}
    region_targets: dict[str, list[TargetFigures]] = defaultdict(list)
    region_tasks: dict[str, list[TaskState]] = defaultdict(list)
    department_targets: dict[str, list[TargetFigures]] = defaultdict(list)
    department_tasks: dict[str, list[TaskState]] = defaultdict(list)
    for target in snapshot.targets:
        if target.region_code != plan_region:
            region_names.setdefault(target.region_code, target.region_name)
            region_targets[target.region_code].append(target)
        if target.lead_department:
            department_targets[target.lead_department].append(target)
    for task in snapshot.tasks:
        if task.region_code != plan_region:
            region_names.setdefault(task.region_code, task.region_name)
            region_tasks[task.region_code].append(task)
        department_tasks[task.lead_department].append(task)

    awards: dict[tuple[SubjectKind, str], list[BonusAward]] = defaultdict(list)
    for award in bonuses:
        awards[(award.subject_kind, award.subject_key)].append(award)

    regions = [
        _score_subject(
            SubjectKind.region,
            code,
            region_names[code],
            region_targets[code],
            region_tasks[code],
            awards[(SubjectKind.region, code)],
            scheme,
        )
        for code in region_names
    ]
    departments = [
        _score_subject(
            SubjectKind.department,
            name,
            name,
            department_targets[name],
            department_tasks[name],
            awards[(SubjectKind.department, name)],
            scheme,
        )
        for name in set(department_targets) | set(department_tasks)
    ]
    return ScoreResult(regions=rank(regions), departments=rank(departments))


def _score_subject(
    kind: SubjectKind,
    key: str,
    name: str,
    targets: Sequence[TargetFigures],
    tasks: Sequence[TaskState],
    awards: Sequence[BonusAward],
    scheme: ScoringScheme,
) -> SubjectScore:
    lines: list[LineItem] = []
    if targets and tasks:
        indicator_part, task_part = scheme.indicator_weight, scheme.task_weight
    elif targets:
        indicator_part, task_part = HUNDRED, ZERO
    else:
        indicator_part, task_part = ZERO, HUNDRED

    ordered_targets = sorted(targets, key=lambda t: (t.region_code, t.indicator_name, t.target_id))
    if ordered_targets:
        weights = {
            Nature.binding: scheme.binding_weight,
            Nature.expected: scheme.expected_weight,
        }
        unit = indicator_part / sum(weights[t.nature] for t in ordered_targets)
        for target in ordered_targets:
            share = unit * weights[target.nature]
            credit = scheme.indicator_credit[target.status]
            lines.append(
                LineItem(
                    kind=LineKind.indicator,
                    ref=target.target_id,
                    label=_target_label(kind, target),
                    points=points(share * credit),
                    max_points=points(share),
                    reason=f"{NATURE_LABELS[target.nature]}指标{TARGET_STATUS_LABELS[target.status]}，"
                    f"得分率 {_pct(credit)}",
                )
            )
    ordered_tasks = sorted(tasks, key=lambda t: (t.code, t.region_code))
    if ordered_tasks:
        share = task_part / len(ordered_tasks)
        for task in ordered_tasks:
            credit = scheme.task_credit[task.status]
            lines.append(
                LineItem(
                    kind=LineKind.task,
                    ref=task.code,
                    label=_task_label(kind, task),
                    points=points(share * credit),
                    max_points=points(share),
                    reason=f"任务{TASK_STATUS_LABELS[task.status]}，得分率 {_pct(credit)}",
                )
            )
    indicator_points = points(sum((line.points for line in lines if line.kind is LineKind.indicator), ZERO))
    task_points = points(sum((line.points for line in lines if line.kind is LineKind.task), ZERO))

    vetoes: list[TargetFigures] = []
    rule = scheme.missed_binding
    for target in ordered_targets:
        if target.nature is Nature.binding and target.status in rule.statuses:
            if rule.mode is MissedBindingMode.veto:
                vetoes.append(target)
            else:
                lines.append(
                    LineItem(
                        kind=LineKind.missed_binding,
                        ref=target.target_id,
                        label=_target_label(kind, target),
                        points=-points(rule.points),
                        reason=f"约束性指标{TARGET_STATUS_LABELS[target.status]}，扣 {points(rule.points)} 分",
                    )
                )
    for task in ordered_tasks:
        if task.overdue and scheme.overdue_deduction:
            lines.append(
                LineItem(
                    kind=LineKind.overdue,
                    ref=task.code,
                    label=_task_label(kind, task),
                    points=-points(scheme.overdue_deduction),
                    reason=f"任务逾期未完成，扣 {points(scheme.overdue_deduction)} 分",
                )
            )
    for task in ordered_tasks:
        if task.returned_count and scheme.returned_deduction:
            taken = points(scheme.returned_deduction * task.returned_count)
            lines.append(
                LineItem(
                    kind=LineKind.returned,
                    ref=task.code,
                    label=_task_label(kind, task),
                    points=-taken,
                    reason=f"任务被退回整改 {task.returned_count} 次，"
                    f"每次扣 {points(scheme.returned_deduction)} 分，共扣 {taken} 分",
                )
            )
    deductions = points(sum((line.points for line in lines if line.points < 0), ZERO))

    bonus = points(ZERO)
    for award in sorted(awards, key=lambda a: a.item_code):
        item = scheme.bonus_item(award.item_code)
        assert item is not None  # checked in score()
        lines.append(
            LineItem(
                kind=LineKind.bonus,
                ref=item.code,
                label=item.label,
                points=points(item.points),
                reason=f"加分项：{item.label}" + (f"（{award.note}）" if award.note else ""),
            )
        )
        bonus += points(item.points)
    if bonus > scheme.bonus_cap:
        excess = bonus - points(scheme.bonus_cap)
        lines.append(
            LineItem(
                kind=LineKind.bonus_cap,
                ref="bonus_cap",
                label="加分上限",
                points=-excess,
                reason=f"加分合计 {bonus} 分，超过上限 {points(scheme.bonus_cap)} 分",
            )
        )
        bonus -= excess

    running = sum((line.points for line in lines), ZERO)
    if vetoes:
        names = "、".join(f"“{t.indicator_name}”" for t in vetoes)
        lines.append(
            LineItem(
                kind=LineKind.veto,
                ref=vetoes[0].target_id,
                label="一票否决",
                points=-running,
                reason=f"约束性指标{names}未达到序时进度要求，一票否决，总分计为 0",
            )
        )
    elif running < 0:
        lines.append(
            LineItem(
                kind=LineKind.floor, ref="floor", label="最低分", points=-running, reason="总分不低于 0 分"
            )
        )
    total = points(sum((line.points for line in lines), ZERO))
    return SubjectScore(
        kind=kind,
        key=key,
        name=name,
        rank=0,
        total=total,
        indicator_points=indicator_points,
        task_points=task_points,
        deductions=deductions,
        bonus=bonus,
        vetoed=bool(vetoes),
        target_count=len(ordered_targets),
        task_count=len(ordered_tasks),
        overdue_count=sum(1 for t in ordered_tasks if t.overdue),
        lines=lines,
    )


def rank(subjects: Iterable[SubjectScore]) -> list[SubjectScore]:
    """Highest total first; equal totals share a rank (1, 2, 2, 4), listed by key."""
    ordered = sorted(subjects, key=lambda s: (-s.total, s.key))
    ranked: list[SubjectScore] = []
    for position, subject in enumerate(ordered, start=1):
        same_as_previous = ranked and ranked[-1].total == subject.total
        ranked.append(subject.model_copy(update={"rank": ranked[-1].rank if same_as_previous else position}))
    return ranked


def _target_label(kind: SubjectKind, target: TargetFigures) -> str:
    # A region's lines are all its own; a department's may span regions, so name the region.
    if kind is SubjectKind.department:
        return f"{target.region_name}·{target.indicator_name}"
    return target.indicator_name


def _task_label(kind: SubjectKind, task: TaskState) -> str:
    if kind is SubjectKind.department:
        return f"{task.code} {task.title}（{task.region_name}）"
    return f"{task.code} {task.title}"


def _pct(credit: Decimal) -> str:
    return f"{(credit * HUNDRED).normalize():f}%"
