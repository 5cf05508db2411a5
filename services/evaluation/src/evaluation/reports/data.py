"""Everything a report shows, computed once from the round's snapshot, scores and measures.

The renderers only lay this out; no figure is computed in a template, so the HTML, .docx and .xlsx
of a round cannot disagree.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from evaluation.domain.comparison import CHANGE_LABELS, Comparison
from evaluation.domain.scoring import ScoreResult, SubjectScore
from evaluation.domain.snapshot import (
    LIGHT_LABELS,
    NATURE_LABELS,
    TARGET_STATUS_LABELS,
    TASK_STATUS_LABELS,
    Light,
    Nature,
    Snapshot,
    TargetFigures,
    TargetStatus,
    TaskState,
    TaskStatus,
)

KIND_LABELS = {"annual": "年度监测分析", "mid_term": "中期评估", "final": "总结评估"}
ROUND_STATUS_LABELS = {"draft": "草稿", "under_review": "审核中", "approved": "已审定", "published": "已发布"}
_MISSED = (TargetStatus.lagging, TargetStatus.seriously_lagging)


def fmt(value: Decimal | None) -> str:
    """A decimal as written in a report: exact, no exponent, no trailing zeros ("—" when absent)."""
    if value is None:
        return "—"
    text = f"{value.normalize():f}"
    return "0" if text == "-0" else text


def fmt_points(value: Decimal) -> str:
    return f"{value:.2f}"


def target_text(target: TargetFigures) -> str:
    value = fmt(target.target_value)
    unit = target.unit if target.unit and target.unit != "%" else ""
    if target.target_type == "decrease_pct":
        return f"下降{value}%"
    if target.target_type == "max":
        return f"{'＜' if target.strict else '≤'}{value}{'%' if target.unit == '%' else unit}"
    if target.target_type == "min":
        return f"{'＞' if target.strict else '≥'}{value}{'%' if target.unit == '%' else unit}"
    return f"{value}{'%' if target.unit == '%' else unit}"


@dataclass(frozen=True)
class IndicatorRow:
    region_name: str
    name: str
    nature: str
    unit: str
    baseline: str
    target: str
    current: str
    required: str
    status: str
    status_code: str


@dataclass(frozen=True)
class RankingRow:
    rank: int
    key: str
    name: str
    total: str
    indicator_points: str
    task_points: str
    deductions: str
    bonus: str
    vetoed: bool
    overdue_count: int
    change: str
    delta: str


@dataclass(frozen=True)
class ExplanationRow:
    subject_kind: str
    subject: str
    label: str
    points: str
    max_points: str
    reason: str


@dataclass(frozen=True)
class TaskRow:
    code: str
    title: str
    lead_department: str
    region_name: str
    deadline: str
    status: str
    light: str
    returned_count: int
    last_report: str


@dataclass(frozen=True)
class Measure:
    problem: str
    measure: str
    department: str
    due_date: str


@dataclass(frozen=True)
class ReportData:
    title: str
    plan_title: str
    region_name: str
    kind: str
    reference_date: str
    period: str
    status: str
    rules_version: str
    scoring_rules_version: str
    scheme_name: str
    sources: list[tuple[str, int]]
    summary: list[str]
    indicators: list[IndicatorRow]
    regional_indicators: list[IndicatorRow]
    target_status_counts: list[tuple[str, int]]
    task_status_counts: list[tuple[str, int]]
    task_light_counts: list[tuple[str, int]]
    # rows: task status; columns: green, yellow, red, total
    task_matrix: list[tuple[str, list[int]]]
    tasks: list[TaskRow]
    region_ranking: list[RankingRow]
    department_ranking: list[RankingRow]
    explanations: list[ExplanationRow]
    lagging_binding: list[IndicatorRow]
    overdue_tasks: list[TaskRow]
    missing_data: list[IndicatorRow]
    measures: list[Measure]
    region_chart: list[tuple[str, Decimal]] = field(default_factory=list)
    department_chart: list[tuple[str, Decimal]] = field(default_factory=list)


@dataclass(frozen=True)
class RoundInfo:
    title: str
    kind: str
    status: str
    scheme_name: str


def build_report(
    info: RoundInfo,
    snapshot: Snapshot,
    result: ScoreResult,
    measures: list[Measure],
    comparison: Comparison | None = None,
) -> ReportData:
    plan = snapshot.plan
    own = [t for t in snapshot.targets if t.region_code == plan.region_code]
    others = [t for t in snapshot.targets if t.region_code != plan.region_code]
    # The core table is the plan region's own targets; a snapshot with only subordinate figures
    # shows those instead, so the table is never empty when there is data.
    core = own or others
    indicators = [_indicator_row(t) for t in sorted(core, key=_target_order)]
    regional = [_indicator_row(t) for t in sorted(others, key=lambda t: (t.region_code, *_target_order(t)))]

    target_counts = Counter(t.status for t in snapshot.targets)
    task_counts = Counter(t.status for t in snapshot.tasks)
    light_counts = Counter(t.light for t in snapshot.tasks)
    pair_counts = Counter((t.status, t.light) for t in snapshot.tasks)
    matrix = [
        (
            TASK_STATUS_LABELS[status],
            [pair_counts[(status, light)] for light in Light] + [task_counts[status]],
        )
        for status in TaskStatus
    ]
    changes = {(c.kind.value, c.key): c for c in comparison.subjects} if comparison else {}

    def ranking(subjects: list[SubjectScore]) -> list[RankingRow]:
        rows = []
        for s in subjects:
            change = changes.get((s.kind.value, s.key))
            rows.append(
                RankingRow(
                    rank=s.rank,
                    key=s.key,
                    name=s.name,
                    total=fmt_points(s.total),
                    indicator_points=fmt_points(s.indicator_points),
                    task_points=fmt_points(s.task_points),
                    deductions=fmt_points(s.deductions),
                    bonus=fmt_points(s.bonus),
                    vetoed=s.vetoed,
                    overdue_count=s.overdue_count,
                    change=CHANGE_LABELS[change.change] if change else "—",
                    delta=(f"{change.delta:+.2f}" if change and change.delta is not None else "—"),
                )
            )
        return rows

    explanations = [
        ExplanationRow(
            subject_kind="地区" if s.kind.value == "region" else "牵头单位",
            subject=s.name,
            label=line.label,
            points=fmt_points(line.points),
            max_points=fmt_points(line.max_points) if line.max_points is not None else "",
            reason=line.reason,
        )
        for s in result.regions + result.departments
        for line in s.lines
    ]
    lagging_binding = [
        _indicator_row(t)
        for t in sorted(snapshot.targets, key=lambda t: (t.region_code, *_target_order(t)))
        if t.nature is Nature.binding and t.status in _MISSED
    ]
    missing = [
        _indicator_row(t)
        for t in sorted(snapshot.targets, key=lambda t: (t.region_code, *_target_order(t)))
        if t.status is TargetStatus.no_data
    ]
    ordered_tasks = sorted(snapshot.tasks, key=lambda t: (t.code, t.region_code))
    tasks = [_task_row(t) for t in ordered_tasks]
    overdue = [_task_row(t) for t in ordered_tasks if t.overdue]

    kind = KIND_LABELS.get(info.kind, info.kind)
    done = task_counts[TaskStatus.completed] + task_counts[TaskStatus.closed]
    on_track = target_counts[TargetStatus.met] + target_counts[TargetStatus.on_track]
    summary = [
        f"本报告为《{plan.title}》{kind}，数据截至 {snapshot.reference_date.isoformat()}，"
        f"规划期 {plan.period_start}—{plan.period_end} 年。",
        f"纳入评估的指标 {len(snapshot.targets)} 项（含各地区），其中已达标或符合序时进度 {on_track} 项，"
        f"滞后 {target_counts[TargetStatus.lagging]} 项，严重滞后 {target_counts[TargetStatus.seriously_lagging]} 项，"
        f"缺少数据 {target_counts[TargetStatus.no_data]} 项。",
        f"纳入评估的任务 {len(snapshot.tasks)} 项，已完成或已销号 {done} 项，"
        f"逾期 {len(overdue)} 项；亮红灯 {light_counts[Light.red]} 项、黄灯 {light_counts[Light.yellow]} 项。",
    ]
    if lagging_binding:
        summary.append(f"约束性指标未达到序时进度要求 {len(lagging_binding)} 项，需重点整改。")
    if result.regions:
        best = result.regions[0]
        summary.append(
            f"参评地区 {len(result.regions)} 个，{best.name} 以 {fmt_points(best.total)} 分位列第一。"
        )
    if result.departments:
        summary.append(f"参评牵头单位 {len(result.departments)} 个。")

    return ReportData(
        title=info.title,
        plan_title=plan.title,
        region_name=plan.region_name,
        kind=kind,
        reference_date=snapshot.reference_date.isoformat(),
        period=f"{plan.period_start}—{plan.period_end}",
        status=ROUND_STATUS_LABELS.get(info.status, info.status),
        rules_version=snapshot.rules_version,
        scoring_rules_version=result.rules_version,
        scheme_name=info.scheme_name,
        sources=sorted(snapshot.sources.items()),
        summary=summary,
        indicators=indicators,
        regional_indicators=regional,
        target_status_counts=[(TARGET_STATUS_LABELS[s], target_counts[s]) for s in TargetStatus],
        task_status_counts=[(TASK_STATUS_LABELS[s], task_counts[s]) for s in TaskStatus],
        task_light_counts=[(LIGHT_LABELS[light], light_counts[light]) for light in Light],
        task_matrix=matrix,
        tasks=tasks,
        region_ranking=ranking(result.regions),
        department_ranking=ranking(result.departments),
        explanations=explanations,
        lagging_binding=lagging_binding,
        overdue_tasks=overdue,
        missing_data=missing,
        measures=measures,
        region_chart=[(s.name, s.total) for s in result.regions],
        department_chart=[(s.name, s.total) for s in result.departments],
    )


def _target_order(target: TargetFigures) -> tuple[int, str, str]:
    # Binding targets first, as plans list them.
    return (0 if target.nature is Nature.binding else 1, target.target_id, target.indicator_name)


def _indicator_row(target: TargetFigures) -> IndicatorRow:
    return IndicatorRow(
        region_name=target.region_name,
        name=target.indicator_name,
        nature=NATURE_LABELS[target.nature],
        unit=target.unit,
        baseline=fmt(target.baseline_value),
        target=target_text(target),
        current=fmt(target.current_value),
        required=fmt(target.required_value),
        status=TARGET_STATUS_LABELS[target.status],
        status_code=target.status.value,
    )


def _task_row(task: TaskState) -> TaskRow:
    return TaskRow(
        code=task.code,
        title=task.title,
        lead_department=task.lead_department,
        region_name=task.region_name,
        deadline=task.deadline.isoformat() if task.deadline else "—",
        status=TASK_STATUS_LABELS[task.status],
        light=LIGHT_LABELS[task.light],
        returned_count=task.returned_count,
        last_report=(
            f"{task.last_report.reported_on.isoformat()} {task.last_report.summary}"
            if task.last_report
            else "—"
        ),
    )


def measure(problem: str, text: str, department: str | None, due_date: date | None) -> Measure:
    return Measure(
        problem=problem,
        measure=text,
        department=department or "—",
        due_date=due_date.isoformat() if due_date else "—",
    )
