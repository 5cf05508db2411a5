"""The .docx report (what bureaus pass around and edit): title, summary, the core indicator table,
tasks by status and light, the rankings, problems found and the improvement measures.

python-docx builds a cell at a time and each `add_row` re-reads the table grid, which grows slow with
thousands of rows; the tables are therefore written as rows of plain XML (`_fast_table`), measured
in bench/evaluation_report.py. The per-line score explanation is in the .xlsx, not here: a province
round has tens of thousands of lines.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from xml.sax.saxutils import escape

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from docx.shared import Pt

from evaluation.reports.data import RankingRow, ReportData

_FONT = "宋体"


def render_docx(data: ReportData) -> bytes:
    document = Document()
    style = document.styles["Normal"]
    style.font.name = _FONT
    style.font.size = Pt(11)
    # East Asian text uses the eastAsia font attribute, not the one python-docx sets.
    rpr = style.element.get_or_add_rPr()
    rpr.get_or_add_rFonts().set(
        "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia", _FONT
    )

    title = document.add_heading(data.title, level=0)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    meta = document.add_paragraph(
        f"{data.region_name} · {data.kind} · 数据截至 {data.reference_date} · 规划期 {data.period} 年 · {data.status}"
    )
    meta.alignment = WD_ALIGN_PARAGRAPH.CENTER

    document.add_heading("一、总体情况", level=1)
    for paragraph in data.summary:
        document.add_paragraph(paragraph)

    document.add_heading("二、核心指标完成情况", level=1)
    _fast_table(
        document,
        ["序号", "指标", "属性", "单位", "基期值", "目标值", "当前值", "序时进度要求", "状态"],
        [
            [str(i), r.name, r.nature, r.unit, r.baseline, r.target, r.current, r.required, r.status]
            for i, r in enumerate(data.indicators, start=1)
        ],
    )

    document.add_heading("三、重点任务推进情况", level=1)
    _fast_table(
        document,
        ["状态", *[label for label, _ in data.task_light_counts], "合计"],
        [[label, *[str(n) for n in counts]] for label, counts in data.task_matrix],
    )

    document.add_heading("四、评分与排名", level=1)
    document.add_paragraph(f"评分方案：{data.scheme_name}。逐项得分说明见同名 Excel 报表“得分说明”工作表。")
    document.add_heading("（一）各地区", level=2)
    _ranking(document, "地区", data.region_ranking)
    document.add_heading("（二）牵头单位", level=2)
    _ranking(document, "牵头单位", data.department_ranking)

    document.add_heading("五、存在问题", level=1)
    document.add_heading("（一）未达到序时进度要求的约束性指标", level=2)
    _table_or_none(
        document,
        ["地区", "指标", "目标值", "当前值", "序时进度要求", "状态"],
        [[r.region_name, r.name, r.target, r.current, r.required, r.status] for r in data.lagging_binding],
    )
    document.add_heading("（二）逾期任务", level=2)
    _table_or_none(
        document,
        ["编号", "任务", "牵头单位", "地区", "完成时限", "状态", "亮灯"],
        [
            [t.code, t.title, t.lead_department, t.region_name, t.deadline, t.status, t.light]
            for t in data.overdue_tasks
        ],
    )
    document.add_heading("（三）缺少数据的指标", level=2)
    _table_or_none(
        document, ["地区", "指标", "属性"], [[r.region_name, r.name, r.nature] for r in data.missing_data]
    )

    document.add_heading("六、改进措施", level=1)
    if data.measures:
        _fast_table(
            document,
            ["序号", "问题", "措施", "责任单位", "完成时限"],
            [
                [str(i), m.problem, m.measure, m.department, m.due_date]
                for i, m in enumerate(data.measures, start=1)
            ],
        )
    else:
        document.add_paragraph("尚未录入改进措施。")

    sources = "；".join(f"{stream} 至第 {seq} 条事件" for stream, seq in data.sources) or "直接提交的快照"
    document.add_paragraph(
        f"计算规则版本：{data.rules_version}；评分规则版本：{data.scoring_rules_version}。数据来源：{sources}。"
    )
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _ranking(document: object, subject: str, rows: Sequence[RankingRow]) -> None:
    _table_or_none(
        document,
        ["名次", subject, "总分", "指标得分", "任务得分", "扣分", "加分", "较上轮"],
        [
            [
                str(r.rank),
                r.name + ("（一票否决）" if r.vetoed else ""),
                r.total,
                r.indicator_points,
                r.task_points,
                r.deductions,
                r.bonus,
                r.change if r.delta == "—" else f"{r.change}（{r.delta}）",
            ]
            for r in rows
        ],
    )


def _table_or_none(document: object, header: list[str], rows: list[list[str]]) -> None:
    if rows:
        _fast_table(document, header, rows)
    else:
        document.add_paragraph("无。")  # type: ignore[attr-defined]


def _cell(text: str, *, bold: bool = False) -> str:
    run_props = "<w:rPr><w:b/></w:rPr>" if bold else ""
    return (
        f'<w:tc><w:tcPr><w:tcW w:w="0" w:type="auto"/></w:tcPr><w:p><w:r>{run_props}'
        f'<w:t xml:space="preserve">{escape(text)}</w:t></w:r></w:p></w:tc>'
    )


def _fast_table(document: object, header: list[str], rows: list[list[str]]) -> None:
    """A "Table Grid" table with a bold, repeated header row, built as one XML fragment."""
    table = document.add_table(rows=0, cols=len(header))  # type: ignore[attr-defined]
    table.style = "Table Grid"
    header_xml = (
        "<w:tr><w:trPr><w:tblHeader/></w:trPr>" + "".join(_cell(h, bold=True) for h in header) + "</w:tr>"
    )
    body = "".join("<w:tr>" + "".join(_cell(value) for value in row) + "</w:tr>" for row in rows)
    fragment = parse_xml(f"<w:tbl {nsdecls('w')}>{header_xml}{body}</w:tbl>")
    for row in list(fragment):
        table._tbl.append(row)
