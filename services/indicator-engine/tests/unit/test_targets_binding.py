"""Binding a plan's indicator names to definitions: by name or alias only, never guessed."""

from __future__ import annotations

import pytest

from indicator_engine.domain.catalogue import CATALOGUE
from indicator_engine.targets.service import match


class TestMatch:
    @pytest.mark.parametrize(
        ("name", "code", "how"),
        [
            ("生产安全事故死亡人数", "ps_deaths", "name"),
            ("亿元地区生产总值生产安全事故死亡率", "ps_death_rate_gdp", "name"),
            ("亿元GDP生产安全事故死亡率", "ps_death_rate_gdp", "alias"),
            ("单位地区生产总值生产安全事故死亡率", "ps_death_rate_gdp", "alias"),
            ("亿元ＧＤＰ生产安全事故死亡率", "ps_death_rate_gdp", "alias"),  # full-width letters
            ("年均每百万人口因自然灾害死亡率", "nd_death_rate", "name"),
        ],
    )
    def test_known_names(self, name: str, code: str, how: str) -> None:
        assert match(CATALOGUE, name) == (code, how)

    @pytest.mark.parametrize(
        "name",
        [
            "每百万人口因自然灾害死亡率",  # without 年均 it names another period: not an alias
            "生产安全事故死亡率",  # which denominator? not guessed
            "应急管理满意度",
        ],
    )
    def test_unknown_names_stay_unbound(self, name: str) -> None:
        assert match(CATALOGUE, name) == (None, "none")
