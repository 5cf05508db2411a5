"""Unit lists and responsibility notes: who leads, who co-operates."""

from __future__ import annotations

import pytest

from plan_registry.document.normalize import norm
from plan_registry.document.units import NoteReader, find_notes, split_units


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("县应急局、县水利局", ["县应急局", "县水利局"]),
        ("县自然资源和规划局、县水利局等", ["县自然资源和规划局", "县水利局"]),
        ("县住建局和各乡〈镇、街道〉人民政府", ["县住建局", "各乡〈镇、街道〉人民政府"]),
        ("县财政局等和各乡（镇、街道）人民政府", ["县财政局", "各乡（镇、街道）人民政府"]),
        ("县卫健委及各乡(镇)人民政府", ["县卫健委", "各乡（镇）人民政府"]),
        ("工业和信息化部、文化和旅游部", ["工业和信息化部", "文化和旅游部"]),
        ("县文化和旅游局，县 公安局", ["县文化和旅游局", "县公安局"]),
        ("海关总署、商务部等有关部门", ["海关总署", "商务部"]),
    ],
)
def test_split_units(text: str, units: list[str]) -> None:
    assert split_units(text) == units


@pytest.mark.parametrize(
    ("note", "lead", "co"),
    [
        ("县应急局牵头，县安委会有关成员单位按职责分工负责", ["县应急局"], ["县安委会有关成员单位"]),
        ("县应急局牵头、县工信局按职责分工负责", ["县应急局"], ["县工信局"]),
        (
            "县应急局、县消防救援大队牵头, 县财政局等按职责分工负责。",
            ["县应急局", "县消防救援大队"],
            ["县财政局"],
        ),
        ("县交通局牵头，县公安局、县农业农村局配合", ["县交通局"], ["县公安局", "县农业农村局"]),
        ("县发改局牵头，县统计局参与", ["县发改局"], ["县统计局"]),
        ("县住建局指导，各乡镇人民政府负责落实", ["县住建局"], ["各乡镇人民政府"]),
        ("县水利局、县气象局负责", ["县水利局", "县气象局"], []),
        ("县应急局、县人社局牵头负责", ["县应急局", "县人社局"], []),
    ],
)
def test_reads_explicit_roles(note: str, lead: list[str], co: list[str]) -> None:
    result = NoteReader().read(note)
    assert result is not None
    assert (result.lead, result.co) == (lead, co)


@pytest.mark.parametrize(
    "text", ["以下简称《规划》", "2016-2019年", "试点县负责编制实施方案并报送", "含 5 个乡镇"]
)
def test_prose_in_brackets_is_not_a_note(text: str) -> None:
    assert NoteReader().read(text) is None


@pytest.mark.parametrize(
    "convention", ["列第一位者为牵头单位，下同", "排在第一位的部门为牵头部门，下同", "列第一位者为牵头单位"]
)
def test_first_listed_leads_when_the_document_says_so(convention: str) -> None:
    reader = NoteReader()
    result = reader.read(f"县应急局、县水利局、县林业局等负责。{convention}")
    assert result is not None
    assert result.lead == ["县应急局"]
    assert result.co == ["县水利局", "县林业局"]


def test_xia_tong_carries_the_convention_forward() -> None:
    reader = NoteReader()
    reader.read("县应急局、县水利局负责，排在第一位的部门为牵头部门，下同")
    later = reader.read("县住建局、县城管局等负责")
    assert later is not None
    assert (later.lead, later.co) == (["县住建局"], ["县城管局"])


def test_convention_without_xia_tong_applies_once() -> None:
    reader = NoteReader()
    reader.read("县应急局、县水利局负责。列第一位者为牵头单位")
    later = reader.read("县住建局、县城管局负责")
    assert later is not None
    assert later.lead == ["县住建局", "县城管局"]


def test_standing_co_operator_is_added_to_later_notes() -> None:
    reader = NoteReader()
    first = reader.read("县生态环境局指导，各乡镇负责落实。以下均需各乡镇落实，不再列出")
    later = reader.read("县农业农村局指导")
    assert first is not None
    assert later is not None
    assert (first.lead, first.co) == (["县生态环境局"], ["各乡镇"])
    assert (later.lead, later.co) == (["县农业农村局"], ["各乡镇"])


def test_finds_notes_with_mixed_and_nested_brackets() -> None:
    text = "建设县级物资储备库。(县应急局牵头，县财政局和各乡（镇）人民政府按职责分工负责）另建专网。（县工信局负责"
    notes = find_notes(text, norm(text), NoteReader())
    assert [(n.responsibility.lead, n.responsibility.co) for n in notes] == [
        (["县应急局"], ["县财政局", "各乡（镇）人民政府"]),
        (["县工信局"], []),
    ]
    assert text[notes[0].start] == "("
    assert text[notes[1].start :].startswith("（县工信局")
