"""The directory's name rules and unit resolution, without a database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest

from plan_registry.directory import names
from plan_registry.directory.catalogue import CATALOGUE, SYNONYMS
from plan_registry.directory.regions_data import COUNTRY_CODE, region_rows
from plan_registry.directory.resolution import resolve_names


@dataclass
class Dept:
    name: str
    aliases: list[str] = field(default_factory=list)
    id: uuid.UUID = field(default_factory=uuid.uuid4)


class TestFold:
    @pytest.mark.parametrize(
        ("a", "b"),
        [
            ("市规划和自然资源局", "市规划自然资源局"),
            ("市规划与自然资源局", "市规划及自然资源局"),
            ("各县〈市、区〉人民政府", "各县（市、区）人民政府"),
            ("各县(市,区)人民政府", "各县（市、区）人民政府"),
            ("市 应急管理局", "市应急管理局"),
            ("市\u3000应急管理局", "市应急管理局"),
            ("ＸＸ市应急局", "XX市应急局"),
        ],
    )
    def test_same_name_written_differently(self, a: str, b: str) -> None:
        assert names.fold(a) == names.fold(b)

    def test_different_names_stay_different(self) -> None:
        assert names.fold("市应急管理局") != names.fold("市应急局")  # aliases, not normalisation
        assert names.fold("县水利局") != names.fold("市水利局")


class TestRegionNames:
    @pytest.mark.parametrize(
        ("name", "short"),
        [
            ("忻州市", "忻州"),
            ("汶上县", "汶上"),
            ("忻府区", "忻府"),
            ("山西省", "山西"),
            ("广西壮族自治区", "广西"),
            ("新疆维吾尔自治区", "新疆"),
            ("宁夏回族自治区", "宁夏"),
            ("内蒙古自治区", "内蒙古"),
            ("延边朝鲜族自治州", "延边"),
            ("恩施土家族苗族自治州", "恩施"),
            ("长阳土家族自治县", "长阳"),
            ("阿拉善盟", "阿拉善"),
            ("阿里地区", "阿里"),
            ("神农架林区", "神农架"),
            ("浦东新区", "浦东"),
            ("香港特别行政区", "香港"),
            ("和县", "和县"),  # one character left: kept whole
            ("城区", "城区"),
        ],
    )
    def test_short_name(self, name: str, short: str) -> None:
        assert names.region_short_name(name) == short

    @pytest.mark.parametrize(
        ("name", "word"),
        [
            ("忻州市", "市"),
            ("原平市", "市"),
            ("汶上县", "县"),
            ("忻府区", "区"),
            ("北京市", "市"),
            ("延边朝鲜族自治州", "州"),
            ("长阳土家族自治县", "县"),
            ("阿拉善盟", "盟"),
            ("鄂托克旗", "旗"),
            ("阿里地区", "地区"),
            ("浦东新区", "区"),
            ("香港特别行政区", None),
        ],
    )
    def test_department_word(self, name: str, word: str | None) -> None:
        assert names.region_level_word(name) == word


class TestGroups:
    @pytest.mark.parametrize(
        "name",
        [
            "各县〈市、区〉人民政府",
            "各县（市、区）政府",
            "市安委会有关成员单位",
            "市应急救援总指挥部成员单位",
            "有关部门",
            "相关单位",
            "各有关部门",
            "行业主管部门",
            "重点企业",
            "各乡镇人民政府",
        ],
    )
    def test_group(self, name: str) -> None:
        assert names.is_group(name)

    @pytest.mark.parametrize(
        "name", ["市应急管理局", "市委宣传部", "县消防救援大队", "市红十字会", "市人民政府办公室"]
    )
    def test_not_group(self, name: str) -> None:
        assert not names.is_group(name)


CITY = [
    Dept("市应急管理局", ["市应急局"]),
    Dept("市规划和自然资源局"),
    Dept("市市场监督管理局"),
    Dept("市住房和城乡建设局"),
    Dept("市消防救援支队"),
    Dept("市水利局"),
]


def _resolve(region: str, departments: list[Dept], name: str) -> tuple[str, str | None]:
    (result,) = resolve_names(region, departments, [name])
    assert result.name == name
    return result.match, result.department_name


class TestResolution:
    @pytest.mark.parametrize(
        ("name", "match", "department"),
        [
            ("市应急管理局", "exact", "市应急管理局"),
            ("市应急局", "alias", "市应急管理局"),
            ("忻州市应急管理局", "normalized", "市应急管理局"),
            ("忻州应急局", "normalized", "市应急管理局"),
            ("应急管理局", "normalized", "市应急管理局"),
            ("市规划自然资源局", "normalized", "市规划和自然资源局"),
            ("市 规划与自然资源局", "normalized", "市规划和自然资源局"),
            ("市自然资源局", "alias", "市规划和自然资源局"),  # the catalogue's alias
            ("市场监督管理局", "normalized", "市市场监督管理局"),  # 市 starts the name itself
            ("市市场监管局", "alias", "市市场监督管理局"),
            ("市住建局", "alias", "市住房和城乡建设局"),
            ("市消防支队", "alias", "市消防救援支队"),
            ("各县〈市、区〉人民政府", "group", None),
            ("市安委会有关成员单位", "group", None),
            ("有关部门", "group", None),
            ("县应急局", "none", None),  # a county's bureau is not the city's
            ("省应急管理厅", "none", None),
            ("市公安局", "none", None),  # not in this directory: reported, not invented
            ("运城市应急管理局", "none", None),  # another city's name in front
        ],
    )
    def test_city(self, name: str, match: str, department: str | None) -> None:
        assert _resolve("忻州市", CITY, name) == (match, department)

    def test_county(self) -> None:
        county = [Dept("县水利局"), Dept("县应急管理局"), Dept("县市场监督管理局"), Dept("县消防救援大队")]
        assert _resolve("汶上县", county, "县水利局") == ("exact", "县水利局")
        assert _resolve("汶上县", county, "汶上县水利局") == ("normalized", "县水利局")
        assert _resolve("汶上县", county, "县应急局") == ("alias", "县应急管理局")
        assert _resolve("汶上县", county, "市场监管局") == ("alias", "县市场监督管理局")
        assert _resolve("汶上县", county, "县消防大队") == ("alias", "县消防救援大队")
        assert _resolve("汶上县", county, "市水利局") == ("none", None)  # the city's bureau
        assert _resolve("汶上县", county, "县消防救援支队") == ("none", None)  # the city's 支队

    def test_county_level_city_and_district(self) -> None:
        assert _resolve("原平市", [Dept("市水利局")], "原平市水利局") == ("normalized", "市水利局")
        assert _resolve("忻府区", [Dept("区水利局")], "忻府区水利局") == ("normalized", "区水利局")
        assert _resolve("忻府区", [Dept("区水利局")], "市水利局") == ("none", None)

    def test_two_equally_close_departments_are_not_guessed(self) -> None:
        departments = [Dept("市自然资源局"), Dept("市规划和自然资源局")]
        assert _resolve("某某市", departments, "市自然资源和规划局") == ("none", None)

    def test_exact_beats_looser_matches(self) -> None:
        departments = [Dept("市自然资源局"), Dept("市规划和自然资源局")]
        assert _resolve("某某市", departments, "市自然资源局") == ("exact", "市自然资源局")

    def test_order_and_duplicates_kept(self) -> None:
        results = resolve_names("忻州市", CITY, ["市水利局", "有关部门", "市水利局"])
        assert [r.match for r in results] == ["exact", "group", "exact"]


class TestCatalogue:
    def test_names_unique_and_aliases_unambiguous(self) -> None:
        seen: dict[str, str] = {}
        for entry in CATALOGUE:
            for name in (entry.name, *entry.aliases):
                key = names.fold(name)
                assert seen.setdefault(key, entry.name) == entry.name, f"{name} names two entries"

    def test_covers_the_usual_emergency_departments(self) -> None:
        for short in ("应急局", "住建局", "发改委", "卫健委", "市场监管局", "消防支队", "水利局", "气象局"):
            assert names.fold(short) in SYNONYMS

    def test_no_entry_is_a_group(self) -> None:
        for entry in CATALOGUE:
            assert not names.is_group("市" + entry.name)


class TestRegionData:
    def test_whole_country_with_parents(self) -> None:
        rows = region_rows()
        codes = {row.code for row in rows}
        assert len(rows) == len(codes) >= 3000
        assert all(row.parent_code in codes for row in rows if row.code != COUNTRY_CODE)
        by_code = {row.code: row for row in rows}
        assert by_code["140900"].name == "忻州市"
        assert by_code["140900"].level == "city"
        assert by_code["110000"].level == "province"  # 直辖市
        assert by_code["110101"].parent_code == "110000"
        assert by_code["429004"].level == "county"  # 省直辖县级市
        assert by_code["429004"].parent_code == "420000"
        counties = {row.name for row in rows if row.parent_code == "140900"}
        assert {"忻府区", "原平市", "定襄县"} <= counties
