"""The three renderings of one report, parsed back: the HTML with html.parser, the .docx with
python-docx, the .xlsx with openpyxl. Expected cells come from the hand-made sample (see
test_domain_scoring.py for how its scores are worked out)."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pytest

from evaluation.domain.comparison import compare
from evaluation.domain.scheme import DEFAULT_SCHEME
from evaluation.domain.scoring import score
from evaluation.domain.snapshot import Snapshot
from evaluation.reports.data import ReportData, RoundInfo, build_report, measure
from evaluation.reports.docx import render_docx
from evaluation.reports.html import render_html
from evaluation.reports.xlsx import render_xlsx

DATA = Path(__file__).resolve().parents[1] / "data" / "city_midterm_snapshot.json"


def _sample() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA.read_text())
    return data


@pytest.fixture(scope="module")
def report() -> ReportData:
    snapshot = Snapshot.model_validate(_sample())
    previous_data = _sample()
    for target in previous_data["targets"]:
        if (target["region_code"], target["target_id"]) == ("141023", "I3"):
            target["status"] = "on_track"  # 襄汾县 had 10 more points last round
    previous = Snapshot.model_validate(previous_data)
    result = score(snapshot, DEFAULT_SCHEME)
    comparison = compare(result, score(previous, DEFAULT_SCHEME), snapshot, previous)
    return build_report(
        RoundInfo(
            title="临汾市“十四五”应急管理体系规划中期评估报告",
            kind="mid_term",
            status="approved",
            scheme_name="默认评分方案",
        ),
        snapshot,
        result,
        [
            measure(
                "翼城县生产安全事故死亡人数不降反升",
                "开展危险化学品和道路运输专项整治 <b>",
                "翼城县应急管理局",
                date(2023, 12, 31),
            )
        ],
        comparison,
    )


class _Tables(HTMLParser):
    """Collects every table (by id) as rows of cell texts, every svg, and every external reference."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.svgs = 0
        self.svg_rects = 0
        self.external: list[str] = []
        self.scripts_with_src = 0
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_svg = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name in ("src", "href"):
            value = attributes.get(name)
            if value and not value.startswith("#"):
                self.external.append(value)
        if tag == "link":
            self.external.append(str(attributes))
        if tag == "script" and "src" in attributes:
            self.scripts_with_src += 1
        if tag == "svg":
            self.svgs += 1
            self._in_svg += 1
        if tag in ("rect", "path") and self._in_svg:
            self.svg_rects += 1
        if tag == "table":
            self._table = attributes.get("id") or f"table{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._in_svg -= 1
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


class TestHtml:
    def test_tables_charts_and_nothing_external(self, report: ReportData) -> None:
        page = render_html(report)
        parser = _Tables()
        parser.feed(page)
        core = parser.tables["table-indicators"]
        assert core[0] == [
            "序号",
            "指标",
            "属性",
            "单位",
            "基期值",
            "目标值",
            "当前值",
            "序时进度要求",
            "状态",
        ]
        assert core[1] == ["1", "生产安全事故死亡人数", "约束性", "人", "40", "下降15%", "37", "37", "滞后"]
        assert core[3][1:] == [
            "自然灾害直接经济损失占地区生产总值比重",
            "预期性",
            "%",
            "0.8",
            "＜1%",
            "0.6",
            "1",
            "已达标",
        ]
        assert core[5][6:] == ["—", "1", "缺少数据"]
        regions = parser.tables["table-region-ranking"]
        assert [row[:3] for row in regions[1:]] == [
            ["1", "曲沃县", "81.00"],
            ["2", "襄汾县", "73.50"],
            ["3", "翼城县", "39.50"],
        ]
        assert regions[2][8] == "退步（-10.00）"
        departments = parser.tables["table-department-ranking"]
        assert [row[:3] for row in departments[1:]] == [
            ["1", "市应急管理局", "69.00"],
            ["2", "市交通运输局", "68.50"],
            ["2", "市水利局", "68.50"],
            ["4", "市住房和城乡建设局", "48.00"],
        ]
        matrix = parser.tables["table-task-matrix"]
        # not started: T07 yellow, T12 red; in progress: T03 T09 T13 T18 green, T06 yellow,
        # T04 T15 T19 red; returned: T10 yellow.
        assert matrix[0] == ["状态", "绿灯", "黄灯", "红灯", "合计"]
        assert matrix[1] == ["未启动", "0", "1", "1", "2"]
        assert matrix[2] == ["推进中", "4", "1", "3", "8"]
        assert matrix[5] == ["已退回", "0", "1", "0", "1"]
        assert [row[1] for row in parser.tables["table-lagging-binding"][1:]] == ["生产安全事故死亡人数"] * 2
        assert [row[0] for row in parser.tables["table-overdue"][1:]] == ["T04", "T12", "T15", "T19"]
        assert [row[:2] for row in parser.tables["table-missing-data"][1:]] == [
            ["临汾市", "年均每百万人口因自然灾害死亡率"],
            ["翼城县", "年均每百万人口因自然灾害死亡率"],
        ]
        assert (
            parser.tables["table-measures"][1][2] == "开展危险化学品和道路运输专项整治 <b>"
        )  # escaped, not markup
        assert parser.svgs == 4
        assert parser.svg_rects > 10
        assert parser.external == []
        assert parser.scripts_with_src == 0
        assert "<b>" not in page.split("table-measures")[1].split("</table>")[0].replace("&lt;b&gt;", "")

    def test_explanations_cover_every_line(self, report: ReportData) -> None:
        parser = _Tables()
        parser.feed(render_html(report))
        lines = parser.tables["table-explanations"][1:]
        west_missed = [row for row in lines if row[1] == "翼城县" and row[3] == "-10.00"]
        assert len(west_missed) == 1
        assert "约束性指标严重滞后" in west_missed[0][5]


class TestDocx:
    def test_sections_and_tables(self, report: ReportData) -> None:
        document = docx.Document(io.BytesIO(render_docx(report)))
        headings = [
            p.text for p in document.paragraphs if p.style is not None and p.style.name.startswith("Heading")
        ]
        assert headings[:2] == ["一、总体情况", "二、核心指标完成情况"]
        assert "六、改进措施" in headings
        assert document.paragraphs[0].text == report.title
        tables = [[[cell.text for cell in row.cells] for row in table.rows] for table in document.tables]
        core = tables[0]
        assert core[0][4:8] == ["基期值", "目标值", "当前值", "序时进度要求"]
        assert core[1] == ["1", "生产安全事故死亡人数", "约束性", "人", "40", "下降15%", "37", "37", "滞后"]
        assert tables[1][2] == ["推进中", "4", "1", "3", "8"]
        assert tables[1][0] == ["状态", "绿灯", "黄灯", "红灯", "合计"]
        region_ranking = tables[2]
        assert [row[1:3] for row in region_ranking[1:]] == [
            ["曲沃县", "81.00"],
            ["襄汾县", "73.50"],
            ["翼城县", "39.50"],
        ]
        department_ranking = tables[3]
        assert [row[0] for row in department_ranking[1:]] == ["1", "2", "2", "4"]
        overdue = next(t for t in tables if t[0][0] == "编号")
        assert [row[0] for row in overdue[1:]] == ["T04", "T12", "T15", "T19"]
        measures = tables[-1]
        assert measures[1][1:] == [
            "翼城县生产安全事故死亡人数不降反升",
            "开展危险化学品和道路运输专项整治 <b>",
            "翼城县应急管理局",
            "2023-12-31",
        ]


class TestXlsx:
    def test_one_sheet_per_section_with_exact_numbers(self, report: ReportData) -> None:
        workbook = openpyxl.load_workbook(io.BytesIO(render_xlsx(report)))
        assert workbook.sheetnames == [
            "总体情况",
            "核心指标",
            "各地区指标",
            "任务状态与亮灯",
            "任务清单",
            "地区排名",
            "牵头单位排名",
            "得分说明",
            "约束性指标滞后",
            "逾期任务",
            "缺少数据",
            "改进措施",
        ]
        rows = lambda name: [list(r) for r in workbook[name].iter_rows(values_only=True)]  # noqa: E731
        assert rows("核心指标")[1][1:] == [
            "生产安全事故死亡人数",
            "约束性",
            "人",
            "40",
            "下降15%",
            "37",
            "37",
            "滞后",
        ]
        assert len(rows("各地区指标")) == 1 + 15
        assert len(rows("任务清单")) == 1 + 20
        regions = rows("地区排名")
        assert [(r[0], r[1], r[2]) for r in regions[1:]] == [
            (1, "曲沃县", 81),
            (2, "襄汾县", 73.5),
            (3, "翼城县", 39.5),
        ]
        assert regions[3][5] == -13  # 翼城县: −10 binding, −2 overdue, −1 returned
        explanations = rows("得分说明")
        east = [r for r in explanations[1:] if r[1] == "曲沃县"]
        assert sum(Decimal(str(r[3])) for r in east) == Decimal("81")
        assert [r[0] for r in rows("逾期任务")[1:]] == ["T04", "T12", "T15", "T19"]
        assert rows("改进措施")[1][3] == "翼城县应急管理局"
