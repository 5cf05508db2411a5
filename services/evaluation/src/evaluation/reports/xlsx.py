"""The .xlsx report: one sheet per section, written in openpyxl's write-only mode (rows streamed,
so a province round's tens of thousands of rows stay fast and small in memory)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from evaluation.reports.data import IndicatorRow, RankingRow, ReportData

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="F2F2F2")

INDICATOR_HEADER = ["地区", "指标", "属性", "单位", "基期值", "目标值", "当前值", "序时进度要求", "状态"]


def render_xlsx(data: ReportData) -> bytes:
    workbook = Workbook(write_only=True)
    summary = _sheet(workbook, "总体情况", ["项目", "内容"])
    for label, value in [
        ("报告", data.title),
        ("规划", data.plan_title),
        ("地区", data.region_name),
        ("评估类型", data.kind),
        ("数据截至", data.reference_date),
        ("规划期", data.period),
        ("状态", data.status),
        ("评分方案", data.scheme_name),
        ("计算规则版本", data.rules_version),
        ("评分规则版本", data.scoring_rules_version),
        *[(f"数据来源 {stream}", f"至第 {seq} 条事件") for stream, seq in data.sources],
        *[("概述", paragraph) for paragraph in data.summary],
    ]:
        summary.append([label, value])

    _indicators(_sheet(workbook, "核心指标", INDICATOR_HEADER), data.indicators)
    _indicators(_sheet(workbook, "各地区指标", INDICATOR_HEADER), data.regional_indicators)

    matrix = _sheet(
        workbook, "任务状态与亮灯", ["状态", *[label for label, _ in data.task_light_counts], "合计"]
    )
    for label, counts in data.task_matrix:
        matrix.append([label, *counts])
    tasks = _sheet(
        workbook,
        "任务清单",
        ["编号", "任务", "牵头单位", "地区", "完成时限", "状态", "亮灯", "退回次数", "最近报送"],
    )
    for t in data.tasks:
        tasks.append(
            [
                t.code,
                t.title,
                t.lead_department,
                t.region_name,
                t.deadline,
                t.status,
                t.light,
                t.returned_count,
                t.last_report,
            ]
        )

    _ranking(_sheet(workbook, "地区排名", _ranking_header("地区")), data.region_ranking)
    _ranking(_sheet(workbook, "牵头单位排名", _ranking_header("牵头单位")), data.department_ranking)

    explanations = _sheet(workbook, "得分说明", ["类别", "单位", "事项", "得分", "满分", "说明"])
    for e in data.explanations:
        explanations.append(
            [e.subject_kind, e.subject, e.label, _number(e.points), _number(e.max_points), e.reason]
        )

    _indicators(_sheet(workbook, "约束性指标滞后", INDICATOR_HEADER), data.lagging_binding)
    overdue = _sheet(workbook, "逾期任务", ["编号", "任务", "牵头单位", "地区", "完成时限", "状态", "亮灯"])
    for t in data.overdue_tasks:
        overdue.append([t.code, t.title, t.lead_department, t.region_name, t.deadline, t.status, t.light])
    _indicators(_sheet(workbook, "缺少数据", INDICATOR_HEADER), data.missing_data)

    measures = _sheet(workbook, "改进措施", ["序号", "问题", "措施", "责任单位", "完成时限"])
    for i, m in enumerate(data.measures, start=1):
        measures.append([i, m.problem, m.measure, m.department, m.due_date])

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _sheet(workbook: Workbook, title: str, header: Sequence[str]) -> WriteOnlyWorksheet:
    sheet: WriteOnlyWorksheet = workbook.create_sheet(title)
    sheet.freeze_panes = "A2"
    cells = []
    for text in header:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        cells.append(cell)
    sheet.append(cells)
    return sheet


def _indicators(sheet: WriteOnlyWorksheet, rows: Iterable[IndicatorRow]) -> None:
    for r in rows:
        sheet.append(
            [r.region_name, r.name, r.nature, r.unit, r.baseline, r.target, r.current, r.required, r.status]
        )


def _ranking_header(subject: str) -> list[str]:
    return [
        "名次",
        subject,
        "总分",
        "指标得分",
        "任务得分",
        "扣分",
        "加分",
        "逾期任务",
        "一票否决",
        "较上轮",
        "分差",
    ]


def _ranking(sheet: WriteOnlyWorksheet, rows: Iterable[RankingRow]) -> None:
    for r in rows:
        sheet.append(
            [
                r.rank,
                r.name,
                _number(r.total),
                _number(r.indicator_points),
                _number(r.task_points),
                _number(r.deductions),
                _number(r.bonus),
                r.overdue_count,
                "是" if r.vetoed else "否",
                r.change,
                r.delta,
            ]
        )


def _number(text: str) -> object:
    """Points as exact numbers in the sheet (openpyxl writes a Decimal as a number without float
    rounding of its text), blank when there is none."""
    from decimal import Decimal, InvalidOperation

    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return text
