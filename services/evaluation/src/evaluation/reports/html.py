"""The HTML report: one self-contained page (inline CSS, inline SVG charts, no external asset)."""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from evaluation.domain.snapshot import LIGHT_LABELS, Light
from evaluation.reports import charts
from evaluation.reports.data import ReportData


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("evaluation.reports", "templates"),
        autoescape=select_autoescape(("html", "j2")),
        undefined=StrictUndefined,
        trim_blocks=False,
    )


def render_html(data: ReportData) -> str:
    # The charts are SVG made by pygal from our own figures and escaped names: safe to inline.
    svgs = {
        "targets": Markup(charts.status_pie("targets", "指标状态分布", data.target_status_counts)),
        "tasks": Markup(
            charts.light_bars(
                "tasks", "任务状态与亮灯", data.task_matrix, [LIGHT_LABELS[light] for light in Light]
            )
        ),
        "regions": Markup(charts.score_bars("regions", "各地区得分", data.region_chart)),
        "departments": Markup(charts.score_bars("departments", "牵头单位得分", data.department_chart)),
    }
    return _environment().get_template("report.html.j2").render(r=data, charts=svgs)
