"""The region tree derived from GB/T 2260 code structure, checked against the administrative list."""

from __future__ import annotations

import pytest

from indicator_engine.results import regions


class TestParent:
    @pytest.mark.parametrize(
        ("code", "parent"),
        [
            ("140000", "000000"),  # 山西省 → 全国
            ("140800", "140000"),  # 运城市 → 山西省
            ("140802", "140800"),  # 盐湖区 → 运城市
            ("110101", "110000"),  # 东城区 → 北京市 (直辖市: 1101 is a grouping, not a region)
            ("500229", "500000"),  # 城口县 → 重庆市 (5002 县 grouping)
            ("429004", "420000"),  # 仙桃市, 省直辖县级市 → 湖北省
            ("659001", "650000"),  # 石河子市 (兵团) → 新疆
        ],
    )
    def test_parent_by_code(self, code: str, parent: str) -> None:
        assert regions.parent(code) == parent

    def test_country_has_no_parent(self) -> None:
        assert regions.parent("000000") is None
        assert regions.ancestors("140802") == ["140800", "140000", "000000"]

    def test_prefix(self) -> None:
        assert regions.prefix("000000") == ""
        assert regions.prefix("140000") == "14"
        assert regions.prefix("140800") == "1408"
        assert regions.prefix("140802") == "140802"


class TestTree:
    def test_city_of_three_counties(self) -> None:
        # 鹰潭市 has exactly three county-level divisions in the administrative list.
        assert regions.tree("360600") == {"360600": ["360602", "360603", "360681"]}

    def test_whole_country_has_every_listed_region_once(self) -> None:
        tree = regions.tree("000000")
        placed = [kid for kids in tree.values() for kid in kids]
        assert len(placed) == len(set(placed)) == len(regions.administrative_codes())
        assert len(tree["000000"]) >= 33

    def test_a_code_outside_the_list_still_rolls_up_through_its_city(self) -> None:
        tree = regions.build_children(["990101", "990102"], "990000")
        assert tree == {"990000": ["990100"], "990100": ["990101", "990102"]}
