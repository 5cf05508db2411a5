"""The report's charts as inline SVG (pygal), with no script or stylesheet fetched from anywhere:
the HTML report must open on a machine without internet access."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

import pygal
from pygal.style import Style

# Status scale (met, on track, lagging, seriously lagging, no data) and the three lights.
STATUS_COLOURS = ("#2e7d32", "#1565c0", "#f9a825", "#c62828", "#9e9e9e")
LIGHT_COLOURS = ("#2e7d32", "#f9a825", "#c62828")


def _style(colours: tuple[str, ...] = STATUS_COLOURS) -> Style:
    return Style(
        background="white",
        plot_background="white",
        font_family="'Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', sans-serif",
        colors=colours,
        title_font_size=16,
        label_font_size=12,
        major_label_font_size=12,
        legend_font_size=12,
    )


def _config(**extra: object) -> dict[str, object]:
    # js=[]: pygal otherwise links its tooltip script from a CDN.
    return {"js": [], "disable_xml_declaration": True, "style": _style(), "width": 800, **extra}


# pygal stamps each chart with a random id and today's date; fixed ids and no stamp make the same
# round render the same bytes every time (a published report can be checked against a re-render).
_STAMP = re.compile(r"<!--.*?-->")


def _render(chart: pygal.graph.graph.Graph, chart_id: str) -> str:
    chart.uuid = chart_id
    return _STAMP.sub("", str(chart.render(is_unicode=True)))


def status_pie(chart_id: str, title: str, counts: Sequence[tuple[str, int]]) -> str:
    chart = pygal.Pie(**_config(title=title, height=360, inner_radius=0.45))
    for label, count in counts:
        if count:
            chart.add(label, count)
    return _render(chart, chart_id)


def light_bars(
    chart_id: str, title: str, matrix: Sequence[tuple[str, list[int]]], lights: Sequence[str]
) -> str:
    """Tasks per status, stacked by light (green, yellow, red)."""
    chart = pygal.StackedBar(
        **_config(
            title=title,
            height=360,
            style=_style(LIGHT_COLOURS),
        )
    )
    chart.x_labels = [label for label, _ in matrix]
    for index, light in enumerate(lights):
        chart.add(light, [row[index] for _, row in matrix])
    return _render(chart, chart_id)


def score_bars(chart_id: str, title: str, scores: Sequence[tuple[str, Decimal]]) -> str:
    """Horizontal bars of totals, in ranking order (highest at the top)."""
    # pygal draws the first value at the bottom of a horizontal bar chart.
    ordered = list(reversed(scores))
    height = max(240, 60 + 18 * len(ordered))
    chart = pygal.HorizontalBar(**_config(title=title, height=height, show_legend=False, range=(0, 100)))
    chart.x_labels = [name for name, _ in ordered]
    chart.add("得分", [float(total) for _, total in ordered])
    return _render(chart, chart_id)
