"""State Council documents in shared/fixtures/task-division: other ways of writing who does what."""

from __future__ import annotations

from pathlib import Path

from plan_registry.document import ParsedPlan, parse_text

NONGJIHUA = "national_nongjihua_zhuanxingshengji_zhidaoyijian_2018.txt"
WUFEI = "national_wufeichengshi_shidian_gongzuofangan_2018.txt"
BAOSHUIQU = "national_zonghebaoshuiqu_ruoganyijian_2019.txt"


def _plan(folder: Path, name: str) -> ParsedPlan:
    return parse_text((folder / name).read_text(encoding="utf-8"))


def _split(plan: ParsedPlan) -> dict[str, tuple[list[str], list[str]]]:
    return {task.code: (task.lead, task.co) for task in plan.tasks}


def test_first_listed_unit_leads_from_then_on(task_division: Path) -> None:
    """（A、B、C等负责。列第一位者为牵头单位，下同）"""
    plan = _plan(task_division, NONGJIHUA)
    split = _split(plan)
    assert [task.code for task in plan.tasks] == [
        f"({n})" for n in "三 四 五 六 七 八 九 十 十一 十二 十三 十四 十五 十六 十七 十八 十九 二十".split()
    ]
    assert split["(三)"] == (["工业和信息化部"], ["发展改革委", "科技部", "农业农村部"])
    assert split["(六)"] == (["市场监管总局"], ["工业和信息化部", "发展改革委", "农业农村部"])  # 下同
    assert split["(十一)"] == (["农业农村部"], ["工业和信息化部"])
    assert split["(十六)"] == (["教育部"], ["工业和信息化部", "农业农村部"])
    assert split["(十八)"] == (["农业农村部", "工业和信息化部"], [])  # explicit 牵头负责: both lead
    assert split["(十九)"] == (["各省级人民政府"], [])
    assert (plan.doc_number, plan.issuing_body, str(plan.issued_on)) == (
        "国发〔2018〕42号",
        "国务院",
        "2018-12-21",
    )
    assert plan.title == "国务院关于加快推进农业机械化和农机装备产业转型升级的指导意见"


def test_first_department_is_lead_department(task_division: Path) -> None:
    """（…负责，排在第一位的部门为牵头部门，下同）"""
    split = _split(_plan(task_division, BAOSHUIQU))
    assert list(split) == [f"{n}." for n in range(1, 22)]
    assert split["1."] == (["税务总局"], ["财政部", "海关总署"])
    assert split["5."] == (["海关总署"], [])
    assert split["13."] == (["海关总署"], ["文化和旅游部", "文物局"])
    assert split["18."] == (["商务部"], ["海关总署"])  # …等有关部门负责
    assert split["21."] == (["海关总署"], ["商务部"])


def test_mixed_wording_one_task_per_note(task_division: Path) -> None:
    """（生态环境部牵头，…参与） / …指导 / 指导 + 负责落实, several notes in one item."""
    plan = _plan(task_division, WUFEI)
    split = _split(plan)
    assert plan.title == "“无废城市”建设试点工作方案"
    assert plan.issuing_body == "国务院办公厅"
    first = plan.tasks[0]
    assert first.code == "(一)-1"
    assert (first.lead, first.co) == (
        ["生态环境部"],
        ["国家发展改革委", "工业和信息化部", "住房城乡建设部", "农业农村部", "国家统计局"],
    )
    assert (first.deadline_year, first.deadline_text) == (2019, "2019年6月底前")
    # 生态环境部指导，试点城市政府负责落实。以下均需试点城市政府落实，不再列出
    assert split["(一)-2"] == (["生态环境部"], ["试点城市政府"])
    assert split["(二)-1"] == (["自然资源部", "工业和信息化部"], ["试点城市政府"])
    assert split["(二)-4"] == (["市场监管总局", "工业和信息化部"], ["试点城市政府"])
    assert split["(六)-8"] == (["商务部"], ["供销合作总社", "试点城市政府"])
    assert [code for code in split if code.startswith("(二)")] == [f"(二)-{n}" for n in range(1, 7)]
    assert all(task.lead for task in plan.tasks)
