"""The three real plans in shared/seeds, checked against what a reader finds in them.

Expectations were written by reading the documents, not by copying parser output.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from plan_registry.document import ParsedPlan, Task, parse_text

YUNCHENG = "000_0c809ad9eba66790.txt"
XINZHOU = "001_e042361886956950.txt"
ANYANG = "002_5040169b34f97ba4.txt"

_cache: dict[str, ParsedPlan] = {}


def _plan(seeds: Path, name: str) -> ParsedPlan:
    if name not in _cache:
        _cache[name] = parse_text((seeds / name).read_text(encoding="utf-8"))
    return _cache[name]


def _title_line(seeds: Path, name: str, ends_with: str) -> str:
    """The title as the document itself writes it: the first line that ends with `ends_with`,
    without the spaces and Markdown emphasis a reader ignores (the seeds' text stays in the seeds)."""
    for line in (seeds / name).read_text(encoding="utf-8").splitlines():
        cleaned = re.sub(r"[\s*#]", "", line)
        if cleaned.endswith(ends_with):
            return cleaned
    raise AssertionError(f"{name}: no line ends with {ends_with}")


def _of(plan: ParsedPlan, kind: str) -> list[Task]:
    return [t for t in plan.tasks if t.kind == kind]


class TestXinzhou:
    """忻州 implementation plan: 7 core indicators, 33 key tasks, 9 focus areas, 22 key projects."""

    def test_metadata(self, seeds: Path) -> None:
        plan = _plan(seeds, XINZHOU)
        # The title line has a stray space inside it; the title has none.
        assert plan.title == _title_line(seeds, XINZHOU, "实施方案")
        assert " " not in plan.title
        assert plan.kind == "implementation_plan"
        assert (plan.region.name, plan.region.level) == ("忻州市", "city")
        assert (plan.period.start, plan.period.end) == (2021, 2025)
        assert plan.parent_plans == [
            "“十四五”国家应急体系规划",
            "山西省“十四五”应急管理体系和本质安全能力建设规划",
            "忻州市“十四五”应急管理体系和本质安全能力建设规划",
        ]

    def test_core_indicators_with_responsible_units(self, seeds: Path) -> None:
        core = [i for i in _plan(seeds, XINZHOU).indicators if i.group == "core"]
        safety = (["市应急局"], ["市安委会有关成员单位"])
        disaster = (["市应急局"], ["市规划和自然资源局", "市水利局"])
        expected = [
            ("生产安全事故死亡人数", "下降15%", "decrease_pct", "15", "%", False, safety),
            ("亿元地区生产总值生产安全事故死亡率", "下降33%", "decrease_pct", "33", "%", False, safety),
            ("工矿商贸就业人员十万人生产安全事故死亡率", "下降10%", "decrease_pct", "10", "%", False, safety),
            ("煤矿百万吨死亡率", "<0.04", "max", "0.04", None, True, (["市应急局"], ["市能源局"])),
            ("年均每百万人口因自然灾害死亡率", "<0.8", "max", "0.8", None, True, disaster),
            ("年均每十万人受灾人次", "<20000", "max", "20000", None, True, disaster),
            ("年均因自然灾害直接经济损失占地区生产总值比例", "<0.8%", "max", "0.8", "%", True, disaster),
        ]
        assert len(core) == 7
        for indicator, (name, text, kind, value, unit, strict, (lead, co)) in zip(
            core, expected, strict=True
        ):
            assert (indicator.name, indicator.target_text) == (name, text)
            assert (indicator.target.type, indicator.target.value) == (kind, Decimal(value))
            assert (indicator.target.unit, indicator.target.strict) == (unit, strict)
            assert indicator.responsible is not None
            assert (indicator.responsible.lead, indicator.responsible.co) == (lead, co)
            assert indicator.nature is None  # the table has no 指标性质 column
        assert [i.source_lines for i in core] == [[line] for line in range(29, 36)]

    def test_sub_goals_carry_the_goal_section_note(self, seeds: Path) -> None:
        subs = [i for i in _plan(seeds, XINZHOU).indicators if i.group == "sub_goal"]
        assert [(i.name, i.target.type, i.target.value, i.target.unit) for i in subs] == [
            ("县级以上应急管理部门装备达标率", "min", Decimal(80), "%"),
            ("灾害事故信息发布公众覆盖率", "min", Decimal(90), "%"),
            ("专职消防人员占全市总人口的比例", "min", Decimal("0.4"), "‰"),
            ("灾害事故发生后受灾人员得到有效救助", "max", Decimal(10), "hours"),
            ("县级以上应急管理部门专业人才占比", "min", Decimal(60), "%"),
            ("重点行业规模以上企业新增从业人员安全技能培训率", "min", Decimal(100), "%"),
        ]
        assert subs[4].target.strict  # 超过 60%
        assert subs[4].source_lines == [47, 49]  # the statement is broken across lines
        assert all(i.responsible and i.responsible.lead == ["市应急局"] for i in subs)
        assert all(i.responsible and i.responsible.co == ["市应急救援总指挥部成员单位"] for i in subs)

    def test_33_key_tasks(self, seeds: Path) -> None:
        tasks = _of(_plan(seeds, XINZHOU), "key_task")
        assert [t.code for t in tasks] == [f"({n})" for n in range(1, 34)]
        emergency = ["市应急局"]
        leads = {
            5: ["市司法局"],
            8: ["市司法局"],
            11: ["市发展改革委", "市能源局"],
            16: ["市住建局"],
            17: ["市应急局", "市消防救援支队"],
            25: ["市交通局"],
            26: ["市发展改革委"],
            27: ["市科技局", "市应急局"],
            28: ["市应急局", "市人社局"],
            29: ["市工信局"],
            31: ["市应急局", "市民政局"],
        }
        assert [t.lead for t in tasks] == [leads.get(n, emergency) for n in range(1, 34)]
        assert [t.deadline_year for t in tasks] == [None if n == 5 else 2023 for n in range(1, 34)]
        first, last = tasks[0], tasks[-1]
        assert first.title == "完善领导指挥体制"
        assert first.co == ["市应急救援总指挥部成员单位", "各县〈市、区〉人民政府"]
        assert first.description.startswith("2023 年")
        assert "牵头" not in first.description
        assert [(s.number, s.title) for s in first.section] == [
            ("二、", "工作分工"),
            ("(二)", "重点任务"),
            ("1.", "完善应急管理体制机制建设"),
        ]
        assert last.title == "发挥市场主体作用"
        assert last.co == ["市民政局", "市住建局", "市交通局", "市市场监管局", "忻州银保监分局"]
        broken = tasks[14]  # (15): its unit list is broken across two lines
        assert broken.source_lines == [113, 115]
        assert broken.co == [
            "市教育局", "市规划和自然资源局", "市住建局", "市城市管理局", "市交通局",
            "市水利局", "市农业农村局", "市文旅局", "市气象局",
        ]  # fmt: skip
        assert tasks[1].co == ["市规划和自然资源局", "市水利局", "各县〈市、区〉人民政府"]
        assert tasks[8].co == ["市市场监管局"]
        assert tasks[8].source_lines == [75, 77]
        assert tasks[10].co == ["市工信局", "市生态环境局", "市交通局", "市应急局", "市市场监管局"]
        assert tasks[17].co[-1] == "各县〈市、区〉政府"
        assert tasks[24].co == ["市委政法委", "市工信局", "市财政局", "市应急局", "市邮政管理局"]

    def test_9_focus_areas(self, seeds: Path) -> None:
        areas = _of(_plan(seeds, XINZHOU), "focus_area")
        assert [t.title for t in areas] == [
            "危险化学品", "矿山", "工贸", "消防", "道路运输", "其他交通运输", "城市建设", "危险废物", "开发区（产业园区）",
        ]  # fmt: skip
        assert [t.lead for t in areas] == [
            ["市应急局"], ["市应急局"], ["市应急局"], ["市消防救援支队"], ["市交通局"],
            ["市交通局"], ["市住建局"], ["市生态环境局"], ["市商务局"],
        ]  # fmt: skip
        assert [t.deadline_year for t in areas] == [2022] * 9  # from 治本攻坚重点：2022 年达到…
        assert areas[0].co == ["市工信局", "市公安局", "市生态环境局", "市交通局"]
        assert areas[2].co == ["市工信局"]  # 市应急局牵头、市工信局按职责分工负责
        assert areas[8].co == ["市交通局", "市工信局", "市应急局", "市发展改革委", "市科技局", "市住建局"]
        assert areas[0].section[-1].title == "安全生产治本攻坚重点"
        assert [t.source_lines for t in areas] == [[line] for line in range(91, 108, 2)]

    def test_22_key_projects(self, seeds: Path) -> None:
        projects = _of(_plan(seeds, XINZHOU), "key_project")
        assert [t.code for t in projects] == [f"({n})" for n in range(1, 23)]
        five = ["市住建局", "市工信局", "市交通局", "市水利局", "市应急局"]
        leads = {
            2: five,
            3: five,
            4: ["市水利局"],
            5: ["市规划和自然资源局"],
            8: ["市工信局", "市科技局", "市应急局"],
            12: ["市消防救援支队"],
            13: ["市应急局", "市财政局", "市发展改革委"],
            15: ["市应急局", "市财政局", "市发展改革委"],
            17: ["市应急局", "市消防救援支队"],
            19: ["市气象局"],
            20: ["市应急局", "市审批局", "市发展改革委"],
        }
        assert [t.lead for t in projects] == [leads.get(n, ["市应急局"]) for n in range(1, 23)]
        # (1)–(9) state no year: their group says 2025 年各项工程建设任务全部完成.
        years = [2025] * 9 + [2023, 2023, 2023, 2025, 2022, 2023, 2023, 2023, 2023, 2023, 2023, 2023, 2025]
        assert [t.deadline_year for t in projects] == years
        assert projects[0].title == "灾害风险调查和重点隐患排查工程"
        assert projects[4].source_lines == [179, 181]
        assert projects[4].co == [
            "市发展改革委", "市财政局", "市生态环境局", "市住建局", "市水利局",
            "市农业农村局", "市应急局", "各县〈市、区〉人民政府",
        ]  # fmt: skip
        assert projects[19].co[-1] == "各县（市、区）人民政府"
        assert projects[19].source_lines == [221, 223]
        assert projects[-1].title == "公众科普宣教能力建设工程"
        assert projects[-1].co == ["市安委会成员单位", "市应急救援总指挥部成员单位"]

    def test_no_warnings(self, seeds: Path) -> None:
        assert _plan(seeds, XINZHOU).warnings == []


class TestYuncheng:
    """运城 city plan: 专栏1 cells one per line, with 指标性质."""

    def test_metadata(self, seeds: Path) -> None:
        plan = _plan(seeds, YUNCHENG)
        assert plan.title is None  # the text starts with the preamble
        assert "title_not_found" in {w.code for w in plan.warnings}
        assert plan.kind == "plan"
        assert (plan.region.name, plan.region.level) == ("运城市", "city")
        assert (plan.period.start, plan.period.end) == (2021, 2025)
        assert plan.parent_plans == [
            "山西省“十四五”应急管理体系和本质安全能力建设规划",
            "运城市国民经济和社会发展第十四个五年规划和二〇三五年远景目标纲要",
        ]

    def test_core_indicators(self, seeds: Path) -> None:
        core = [i for i in _plan(seeds, YUNCHENG).indicators if i.group == "core"]
        assert [
            (i.name, i.target_text, i.target.type, i.target.value, i.target.unit, i.target.strict, i.nature)
            for i in core
        ] == [
            ("生产安全事故死亡人数", "下降15%", "decrease_pct", Decimal(15), "%", False, "binding"),
            ("亿元地区生产总值生产安全事故死亡率", "＜0.03", "max", Decimal("0.03"), None, True, "binding"),
            ("煤矿百万吨死亡率", "＜0.04", "max", Decimal("0.04"), None, True, "binding"),
            ("年均每百万人口因自然灾害死亡率", "＜0.8", "max", Decimal("0.8"), None, True, "expected"),
            ("年均每十万人受灾人次", "＜13000", "max", Decimal(13000), None, True, "expected"),
            (
                "年均因自然灾害直接经济损失占地区生产总值比例",
                "＜0.8%",
                "max",
                Decimal("0.8"),
                "%",
                True,
                "expected",
            ),
        ]
        assert core[0].source_lines == [32, 33, 34, 35]
        assert all(i.responsible is None for i in core)

    def test_sub_goals(self, seeds: Path) -> None:
        subs = [i for i in _plan(seeds, YUNCHENG).indicators if i.group == "sub_goal"]
        assert [(i.target_text, i.target.type, i.target.unit, i.target.strict) for i in subs] == [
            ("达到80%", "min", "%", False),
            ("达到90%", "min", "%", False),
            ("达到0.4‰", "min", "‰", False),
            ("10小时内", "max", "hours", False),
            ("超过60%", "min", "%", True),
        ]

    def test_tasks(self, seeds: Path) -> None:
        plan = _plan(seeds, YUNCHENG)
        tasks, areas, projects = (_of(plan, kind) for kind in ("key_task", "focus_area", "key_project"))
        assert [t.code for t in tasks] == [f"{n}." for n in range(1, 29)]
        assert (tasks[0].title, tasks[-1].title) == ("完善领导指挥体制", "发挥市场主体作用")
        assert tasks[0].source_lines == [72, 73]  # heading line and its body
        assert tasks[10].source_lines == [99, 100]  # 专栏2 below it is not part of the task
        assert [t.title for t in areas][:3] == ["危险化学品", "矿山", "工贸"]
        assert len(areas) == 9
        assert areas[0].section[-1].number == "专栏2"
        assert len(projects) == 16
        assert (projects[0].title, projects[-1].title) == (
            "灾害风险调查和重点隐患排查工程",
            "基层应急能力建设工程",
        )
        assert all(not t.lead for t in plan.tasks)  # a plan, not a division of work


class TestAnyang:
    """安阳 city plan: tab-separated 专栏1, a 印发 notice before the title, key projects by county."""

    def test_metadata(self, seeds: Path) -> None:
        plan = _plan(seeds, ANYANG)
        # The title is the `## **…**` heading after the 印发 notice, not the notice's 《…》.
        assert plan.title == _title_line(seeds, ANYANG, "建设规划")
        assert not plan.title.startswith("现将")
        assert (plan.region.name, plan.region.level) == ("安阳市", "city")
        assert (plan.period.start, plan.period.end) == (2021, 2025)
        assert plan.issued_on is not None
        assert plan.issued_on.isoformat() == "2022-06-11"
        assert plan.parent_plans == [
            "河南省“十四五”应急管理体系和本质安全能力建设规划",
            "安阳市国民经济和社会发展的第十四个五年规划和二〇三五年远景目标纲要",
        ]
        assert plan.sections[0].title == "现状和形势"  # the Markdown title is not a section

    def test_core_indicators(self, seeds: Path) -> None:
        core = [i for i in _plan(seeds, ANYANG).indicators if i.group == "core"]
        assert [(i.target.type, i.target.value, i.target.unit, i.nature) for i in core] == [
            ("decrease_pct", Decimal(16), "%", "binding"),
            ("decrease_pct", Decimal(34), "%", "binding"),
            ("decrease_pct", Decimal(21), "%", "binding"),
            ("max", Decimal("1.2"), "%", "expected"),
            ("max", Decimal("1.2"), None, "expected"),
            ("max", Decimal(15000), None, "expected"),
        ]
        assert core[0].name == "生产安全事故死亡人数"
        assert core[0].target_text == "下降 16%"
        assert core[3].name == "年均因自然灾害直接经济损失占地区生产总值的比例"

    def test_sub_goals(self, seeds: Path) -> None:
        subs = [i for i in _plan(seeds, ANYANG).indicators if i.group == "sub_goal"]
        names = [i.name for i in subs]
        assert "专业应急救援队伍防护装备配备率" in names  # the clause is broken across lines 84/86
        assert "县（市、区）综合救援力量建队率" in names
        rescue = next(i for i in subs if i.target.unit == "hours")
        assert (rescue.target_text, rescue.target.type, rescue.target.strict) == (
            "缩短至 10 小时以内",
            "max",
            False,
        )

    def test_tasks(self, seeds: Path) -> None:
        plan = _plan(seeds, ANYANG)
        tasks, areas, projects = (_of(plan, kind) for kind in ("key_task", "focus_area", "key_project"))
        assert [t.code for t in tasks] == [f"{n}." for n in range(1, 32)]
        assert tasks[7].title == "提升企业本质安全水平"  # right after the 专栏2 box
        assert [t.title for t in areas] == [
            "危险化学品", "煤矿", "非煤矿山", "消防", "道路运输", "交通运输和渔业船舶", "城乡建设", "工业园区", "危险废物",
            "地震灾害", "地质灾害", "气象灾害", "水旱灾害", "森林草原火灾",
        ]  # fmt: skip
        assert areas[4].source_lines == [138, 140]
        numbered = [
            t for t in projects if t.section[-1].number is None or not t.section[-1].number.startswith("专栏")
        ]
        assert [t.code for t in numbered] == [f"{n}." for n in range(1, 12)]
        county = [t.title for t in projects if t.section[-1].number == "专栏5"]
        assert county == [
            "安阳县应急物资储备库", "安阳县应急指挥平台", "滑县防灾减灾教育科技馆",
            "滑县应急指挥平台", "汤阴县应急物资储备库", "殷都区应急物资储备库",
        ]  # fmt: skip
        assert len(projects) == 11 + 4 + 6 + 3 + 4


@pytest.mark.parametrize("name", [YUNCHENG, XINZHOU, ANYANG])
def test_parse_time(seeds: Path, name: str, record_property: Callable[[str, object], None]) -> None:
    """Reported, not asserted: the budget is far below 300 ms per ~64 KB document."""
    text = (seeds / name).read_text(encoding="utf-8")
    parse_text(text)
    started = time.perf_counter()
    parse_text(text)
    elapsed_ms = (time.perf_counter() - started) * 1000
    record_property("parse_ms", round(elapsed_ms, 1))
    print(f"{name}: {len(text.encode())} bytes parsed in {elapsed_ms:.1f} ms")  # noqa: T201
