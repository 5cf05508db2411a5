"""How names of regions and departments are compared: pure rules, no database.

Documents write the same unit in many ways (市应急管理局 / 市应急局 / 忻州市应急管理局,
市规划和自然资源局 / 市规划自然资源局, 各县（市、区） / 各县〈市、区〉). The rules here turn a name
into comparison keys; none of them knows any one city's wording:

- `fold`: full-width → half-width (NFKC), every kind of bracket → `()`, whitespace, the connectors
  和 / 与 / 及 and list punctuation dropped. Two names with the same fold are the same name.
- `region_cores`: the name without the region designation in front — the region's full name
  (忻州市), its short name (忻州), or the level word alone (市) when it is the region's own
  (市 in a city, 县 in a county, 区 in a district). A designation of another level is kept, so 县水利局
  never matches a city's 市水利局.
- `is_group`: names that stand for several units (各县〈市、区〉人民政府, 市安委会有关成员单位,
  有关部门): reported as a group, never resolved to a department.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Longest first: a name is cut at the first suffix that leaves at least two characters.
REGION_SUFFIXES = (
    "特别行政区",
    "自治区",
    "自治州",
    "自治县",
    "自治旗",
    "地区",
    "林区",
    "特区",
    "新区",
    "矿区",
    "省",
    "市",
    "县",
    "区",
    "旗",
    "盟",
    "州",
)

# The 55 minority nationalities, as they appear inside autonomous-region names
# (广西壮族自治区, 延边朝鲜族自治州, 长阳土家族自治县, 新疆维吾尔自治区).
NATIONALITIES = (
    "蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 拉祜 水 东乡 纳西 "
    "景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 怒 乌孜别克 俄罗斯 鄂温克 "
    "德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺"
).split()
_NATIONALITY_TAIL = re.compile(
    "(?:" + "|".join(sorted((re.escape(n) for n in NATIONALITIES), key=len, reverse=True)) + ")族?$"
)

_OPEN = "(（〈《【[［「〔｛{<＜"
_CLOSE = ")）〉》】]］」〕｝}>＞"
_BRACKETS = str.maketrans(dict.fromkeys(_OPEN, "(") | dict.fromkeys(_CLOSE, ")"))
# Connectors between parts of one name, list punctuation and every kind of space.
_DROPPED = re.compile(r"[\s和与及、,，·・.。;；:：\"'“”‘’]")


def fold(name: str) -> str:
    """The comparison form of a name (see module docstring)."""
    text = unicodedata.normalize("NFKC", name).translate(_BRACKETS)
    return _DROPPED.sub("", text)


def clean_region_name(name: str) -> str:
    """A region name as typed or extracted: half-width, no whitespace (region names keep 和 / 与)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name))


def region_short_name(name: str) -> str:
    """忻州市 → 忻州, 广西壮族自治区 → 广西, 长阳土家族自治县 → 长阳; names that would shrink to one
    character (和县, 城区) stay whole."""
    for suffix in REGION_SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            short = name[: -len(suffix)]
            if "自治" in suffix:
                while (match := _NATIONALITY_TAIL.search(short)) and match.start() >= 2:
                    short = short[: match.start()]
            return short
    return name


# The word in front of a region's own departments, by the suffix of the region's name: 市应急管理局
# in 忻州市, 县水利局 in 汶上县, 区 in 忻府区 and 浦东新区, 州 in an autonomous prefecture, 地区 in 阿里地区.
_DEPARTMENT_WORD = {
    "特别行政区": None,
    "自治区": "自治区",
    "自治州": "州",
    "自治县": "县",
    "自治旗": "旗",
    "地区": "地区",
    "林区": "林区",
    "特区": "特区",
    "新区": "区",
    "矿区": "区",
}


def region_level_word(name: str) -> str | None:
    """The word a region's own departments start with (市 for 忻州市, 县 for 汶上县, 区 for 忻府区);
    None for a name without a known suffix."""
    for suffix in REGION_SUFFIXES:
        if name.endswith(suffix):
            return _DEPARTMENT_WORD.get(suffix, suffix)
    return None


def region_designations(region_name: str) -> list[str]:
    """Prefixes that name the region itself, longest first: 忻州市, 忻州, 市."""
    found = [fold(region_name), fold(region_short_name(region_name))]
    word = region_level_word(region_name)
    if word:
        found.append(word)
    return sorted(set(found), key=len, reverse=True)


def region_cores(name: str, designations: Iterable[str]) -> set[str]:
    """The folded name, and the folded name without one designation of the region in front.

    Both forms are kept because a level word may also begin a name (市场监督管理局): 市市场监督管理局
    and 市场监督管理局 share the core 市场监督管理局.
    """
    folded = fold(name)
    cores = {folded}
    for designation in designations:
        if designation and folded.startswith(designation) and len(folded) - len(designation) >= 2:
            cores.add(folded[len(designation) :])
    return cores


_GROUP = re.compile(
    r"^各"  # 各县（市、区）人民政府, 各乡镇, 各有关部门
    r"|有关|相关|其他|其它|所属|涉及|成员单位|各级|等部门|等单位"  # 市安委会有关成员单位
    r"|(?:部门|单位|企业|乡镇|街道|机构)$"  # 行业主管部门, 重点企业
)


def is_group(name: str) -> bool:
    """True for a name that stands for several units rather than one department."""
    return bool(_GROUP.search(fold(name)))
