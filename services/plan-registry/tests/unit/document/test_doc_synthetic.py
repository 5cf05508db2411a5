"""A made-up county implementation plan exercising every rule on a few lines each."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from plan_registry.document import DocumentError, ParsedPlan, parse_text
from plan_registry.document.tasks import deadline

COUNTY_PLAN = "\n".join(
    [
        "[bookmark: _Toc1001]青石县贯彻落实“十四五”应急管理规划实施方案",  # 1
        "青政办发〔2022〕12号",  # 2
        "",  # 3
        "为贯彻落实《云岭市“十四五”应急管理体系和本质安全能力建设规划》（以下简称《规划》），制定本实施方案。",  # 4
        "## 一、目标指标",  # 5
        "（一）核心指标",  # 6
        "“十四五”核心指标\t\t\t",  # 7
        "序号\t指标内容\t2020年现状值\t2025年目标值\t指标性质\t责任单位",  # 8
        "1\t生产安全事故死亡人数\t12\t下降１５％\t约束性\t县应急局牵头，县安委会成员单位按职责分工负责",  # 9
        "2\t亿元地区生产总值生产安全事故死亡率\t0.05\t＜0.03\t约束性\t县应急局",  # 10
        "3\t乡镇应急管理机构规范化建设达标率\t—\txx%\t预期性\t县应急局、县委编办",  # 11
        "4\t年均每十万人受灾人次",  # 12
        "（二）分项目标",  # 13
        "县应急局牵头，县减灾委成员单位按职责分工负责。",  # 14
        "1.基层能力显著增强。乡镇应急管理机构装备达标率达到85%，灾害事故发生后受灾人员基本生活12小时内得到有效救助。",  # 15
        "2.救援力量不断壮大。专职消防员不少于60人，应急救援队伍建队率达到 100%。",  # 16
        "## 二、重点任务",  # 17
        "（一）健全体制机制",  # 18
        "1.完善指挥体制。2023年底前建立县级应急指挥部。（县应急局牵头，县委编办、各乡〈镇、街道〉人民政府按职责分工负",  # 19
        "",  # 20
        "责）",  # 21
        "2.压实安全责任。（县应急局、县安委办牵头，县直有关部门等按职责分工负责）",  # 22
        "安全生产治本攻坚重点：2022年完成专项整治三年行动。",  # 23
        "1.危险化学品。（县应急局牵头，县公安局、县交通局配合）",  # 24
        "2.城镇燃气。（县住建局牵头，县市场监管局参与）",  # 25
        "（二）强化救援保障",  # 26
        "3.建设物资储备库。2024年建成县级应急物资储备库。（县应急局牵头，县发改局和县财政局按职责分工负责）",  # 27
        "## 三、重点工程",  # 28
        "到2025年，各项工程全部完成。",  # 29
        "1.应急指挥平台建设工程。（县应急局牵头，县工信局配合）",  # 30
        "2.避难场所建设工程。2024年完成中心城区避难场所建设。（县住建局牵头，县自然资源和规划局配合）",  # 31
        "",  # 32
        "青石县人民政府办公室",  # 33
        "2022年3月8日",  # 34
        "主办:县应急管理局",  # 35
    ]
)


@pytest.fixture(scope="module")
def plan() -> ParsedPlan:
    return parse_text(COUNTY_PLAN)


def test_metadata(plan: ParsedPlan) -> None:
    assert plan.title == "青石县贯彻落实“十四五”应急管理规划实施方案"
    assert plan.kind == "implementation_plan"
    assert (plan.region.name, plan.region.level, plan.region.code) == ("青石县", "county", None)
    assert (plan.period.start, plan.period.end) == (2021, 2025)
    assert plan.doc_number == "青政办发〔2022〕12号"
    assert plan.issuing_body == "青石县人民政府办公室"
    assert plan.issued_on == date(2022, 3, 8)
    assert plan.parent_plans == ["云岭市“十四五”应急管理体系和本质安全能力建设规划"]


def test_section_tree(plan: ParsedPlan) -> None:
    assert [(s.number, s.title, s.level) for s in plan.sections] == [
        ("一、", "目标指标", 1),
        ("二、", "重点任务", 1),
        ("三、", "重点工程", 1),
    ]
    goals, tasks = plan.sections[0], plan.sections[1]
    assert [c.title for c in goals.children] == ["核心指标", "分项目标"]
    assert [(c.number, c.source_lines) for c in goals.children[1].children] == [("1.", [15]), ("2.", [16])]
    first_group = tasks.children[0]
    assert [(c.number, c.title) for c in first_group.children] == [
        ("1.", "完善指挥体制"),
        ("2.", "压实安全责任"),
        (None, "安全生产治本攻坚重点"),
    ]
    assert first_group.children[0].source_lines == [19, 21]


def test_core_indicators_from_tab_separated_table(plan: ParsedPlan) -> None:
    core = [i for i in plan.indicators if i.group == "core"]
    assert [i.name for i in core] == [
        "生产安全事故死亡人数",
        "亿元地区生产总值生产安全事故死亡率",
        "乡镇应急管理机构规范化建设达标率",
    ]
    deaths, rate, placeholder = core
    assert deaths.target_text == "下降１５％"  # as written, full width kept
    assert (deaths.target.type, deaths.target.value, deaths.target.unit) == ("decrease_pct", Decimal(15), "%")
    assert deaths.nature == "binding"
    assert deaths.baseline_text == "12"
    assert deaths.responsible is not None
    assert (deaths.responsible.lead, deaths.responsible.co) == (["县应急局"], ["县安委会成员单位"])
    assert deaths.source_lines == [9]
    assert (rate.target.type, rate.target.value, rate.target.strict) == ("max", Decimal("0.03"), True)
    assert rate.responsible is not None
    assert rate.responsible.lead == ["县应急局"]
    assert placeholder.target.type == "placeholder"
    assert placeholder.target.value is None
    assert placeholder.nature == "expected"


def test_warnings_for_placeholder_and_missing_cells(plan: ParsedPlan) -> None:
    found = {(w.code, w.line) for w in plan.warnings}
    assert ("placeholder_target", 11) in found
    assert ("table_row_incomplete", 12) in found
    assert all(w.detail for w in plan.warnings)


def test_sub_goal_indicators_take_the_section_note(plan: ParsedPlan) -> None:
    subs = [
        (i.name, i.target_text, i.target.type, i.target.value, i.target.unit)
        for i in plan.indicators
        if i.group == "sub_goal"
    ]
    assert subs == [
        ("乡镇应急管理机构装备达标率", "达到85%", "min", Decimal(85), "%"),
        ("灾害事故发生后受灾人员基本生活得到有效救助", "12小时内", "max", Decimal(12), "hours"),
        ("专职消防员", "不少于60人", "min", Decimal(60), "people"),
        ("应急救援队伍建队率", "达到 100%", "min", Decimal(100), "%"),
    ]
    first = next(i for i in plan.indicators if i.group == "sub_goal")
    assert first.responsible is not None
    assert (first.responsible.lead, first.responsible.co) == (["县应急局"], ["县减灾委成员单位"])
    assert [g.source_lines for g in plan.goals] == [[15], [16]]


def test_tasks(plan: ParsedPlan) -> None:
    summary = [(t.kind, t.code, t.title, t.deadline_year, t.lead, t.co) for t in plan.tasks]
    assert summary == [
        ("key_task", "1.", "完善指挥体制", 2023, ["县应急局"], ["县委编办", "各乡〈镇、街道〉人民政府"]),
        ("key_task", "2.", "压实安全责任", None, ["县应急局", "县安委办"], ["县直有关部门"]),
        ("focus_area", "1.", "危险化学品", 2022, ["县应急局"], ["县公安局", "县交通局"]),
        ("focus_area", "2.", "城镇燃气", 2022, ["县住建局"], ["县市场监管局"]),
        ("key_task", "3.", "建设物资储备库", 2024, ["县应急局"], ["县发改局", "县财政局"]),
        ("key_project", "1.", "应急指挥平台建设工程", 2025, ["县应急局"], ["县工信局"]),
        ("key_project", "2.", "避难场所建设工程", 2024, ["县住建局"], ["县自然资源和规划局"]),
    ]
    first = plan.tasks[0]
    assert first.deadline_text == "2023年底前"
    assert first.description == "2023年底前建立县级应急指挥部。"
    assert first.source_lines == [19, 21]
    assert [(s.number, s.title) for s in first.section] == [("二、", "重点任务"), ("(一)", "健全体制机制")]


CELL_TABLE_PLAN = "\n".join(
    [
        "白河区“十四五”安全生产规划",
        "一、规划目标",
        "\t专栏1  主要指标",
        "\t序号",
        "\t指标名称",
        "\t目标值",
        "\t属性",
        "\t1",
        "\t工矿商贸就业人员十万人生产安全事故死亡率",
        "\t下降20%",
        "\t约束性",
        "\t2",
        "\t道路交通万车死亡率",
        "\t约束性",
        "\t3",
        "\t年均每百万人口因自然灾害死亡率",
        "\t＜1",
        "\t预期性",
        "注：基期值为2020年数值。",
    ]
)


def test_cell_per_line_table_without_blank_lines() -> None:
    plan = parse_text(CELL_TABLE_PLAN)
    assert [(i.name, i.target.type, i.nature, i.source_lines) for i in plan.indicators] == [
        ("工矿商贸就业人员十万人生产安全事故死亡率", "decrease_pct", "binding", [8, 9, 10, 11]),
        ("年均每百万人口因自然灾害死亡率", "max", "expected", [15, 16, 17, 18]),
    ]
    assert ("table_row_incomplete", 12) in {(w.code, w.line) for w in plan.warnings}
    assert (plan.region.name, plan.region.level) == ("白河区", "county")
    assert plan.sections[0].children[0].number == "专栏1"


def test_markdown_and_web_debris_are_ignored() -> None:
    text = "\n".join(
        [
            "# **红山市“十四五”应急体系规划**",
            "[bookmark: _Toc77][bookmark: _Hlk9]### 一、主要任务",
            "#### （一）夯实基础",
            "1.加强队伍建设。（市应急局负责）",
            "- 3 -",
            "打印本页  关闭窗口",
        ]
    )
    plan = parse_text(text)
    assert plan.title == "红山市“十四五”应急体系规划"
    assert [(s.number, s.title) for s in plan.sections] == [("一、", "主要任务")]
    assert [(t.code, t.title, t.lead) for t in plan.tasks] == [("1.", "加强队伍建设", ["市应急局"])]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty_document"),
        (" \n\t\n", "empty_document"),
        ("只有一段没有编号的文字。\n第二段也没有。", "no_structure"),
    ],
)
def test_unparseable_text(text: str, code: str) -> None:
    with pytest.raises(DocumentError) as raised:
        parse_text(text)
    assert raised.value.code == code


PROJECT_TABLE_PLAN = "\n".join(
    [
        "云溪县“十四五”应急管理规划",
        "第一章 重点工程",
        "第一节 基础设施",
        "表1 重点工程项目表",
        "序号\t项目名称\t建设内容\t牵头单位\t配合单位\t完成时限",
        "1\t县应急指挥中心\t新建指挥大厅\t县应急局\t县财政局、县工信局\t2024年",
        "2\t乡镇应急物资储备点\t建设12个储备点\t各乡镇人民政府\t\t2025年底",
        "第二节 能力提升",
        "① 开展应急演练。每年组织一次。",
    ]
)


def test_project_table_and_chapter_numbering() -> None:
    plan = parse_text(PROJECT_TABLE_PLAN)
    assert [(s.number, s.title, [c.number for c in s.children]) for s in plan.sections] == [
        ("第一章", "重点工程", ["第一节", "第二节"])
    ]
    assert plan.sections[0].children[1].children[0].number == "①"
    table_tasks = [
        (t.kind, t.code, t.title, t.description, t.lead, t.co, t.deadline_year) for t in plan.tasks[:2]
    ]
    assert table_tasks == [
        ("key_project", "1", "县应急指挥中心", "新建指挥大厅", ["县应急局"], ["县财政局", "县工信局"], 2024),
        ("key_project", "2", "乡镇应急物资储备点", "建设12个储备点", ["各乡镇人民政府"], [], 2025),
    ]
    assert plan.tasks[0].source_lines == [6]
    assert [(s.number, s.title) for s in plan.tasks[0].section] == [
        ("第一章", "重点工程"),
        ("第一节", "基础设施"),
    ]
    assert [(t.code, t.title) for t in plan.tasks[2:]] == [("①", "开展应急演练")]


def test_unit_column_completes_the_target() -> None:
    text = "\n".join(
        [
            "一、主要目标",
            "序号\t指标\t单位\t2025年\t属性",
            "1\t专职消防员人数\t人\t120\t预期性",
            "2\t应急广播覆盖率\t%\t≥95\t约束性",
            "3\t救灾物资储备库面积\t平方米\t800\t预期性",
        ]
    )
    plan = parse_text(text)
    assert [(i.name, i.target.type, i.target.value, i.target.unit) for i in plan.indicators] == [
        ("专职消防员人数", "equals", Decimal(120), "people"),
        ("应急广播覆盖率", "min", Decimal(95), "%"),
    ]
    assert ("unsupported_unit", 5) in {(w.code, w.line) for w in plan.warnings}


@pytest.mark.parametrize(
    ("text", "year"),
    [
        ("2023 年建成指挥平台。", 2023),
        ("到 2025 年，全部完成。", 2025),
        ("2019年6月底前，研究建立指标体系。", 2019),
        ("2023 年完成试点；2025 年全面推广。", 2025),
        ("落实第八个五年规划（2021-2025年），开展普法。", None),
        ("规划期为2021—2025年。", None),
        ("建设2023年度项目库。", None),
    ],
)
def test_deadline_years(text: str, year: int | None) -> None:
    found = deadline(text)
    assert (found[0] if found else None) == year
