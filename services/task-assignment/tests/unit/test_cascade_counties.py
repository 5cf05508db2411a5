"""The county list the cascade uses, checked against the 民政部 divisions known by hand."""

from __future__ import annotations

from task_assignment.tasks.cascade import counties_below


def test_xinzhou_has_fourteen_county_level_divisions() -> None:
    counties = counties_below("140900")
    # 忻府区, 原平市 and 12 counties (定襄 五台 代县 繁峙 宁武 静乐 神池 五寨 岢岚 河曲 保德 偏关).
    assert len(counties) == 14
    names = {county.name for county in counties}
    assert {"忻府区", "原平市", "定襄县", "五台县", "代县", "偏关县"} <= names
    assert {county.code for county in counties} >= {"140902", "140981", "140921", "140932"}


def test_a_province_spans_its_cities_counties() -> None:
    shanxi = counties_below("140000")
    assert len(shanxi) > 100
    assert {county.code[:4] for county in shanxi} >= {"1401", "1409", "1410"}
    assert all(county.code.startswith("14") for county in shanxi)


def test_a_county_has_none_below_it() -> None:
    assert counties_below("140902") == []


def test_city_districts_count_as_counties() -> None:
    # 太原市: 6 districts (小店 迎泽 杏花岭 尖草坪 万柏林 晋源), 3 counties (清徐 阳曲 娄烦), 古交市.
    assert len(counties_below("140100")) == 10
