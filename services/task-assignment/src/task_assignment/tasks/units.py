"""Unit names of a plan: which stand for the counties below the plan's region, how names compare.

The directory (plan-registry) resolves names when it publishes; this service only looks a name up
again in its replica when the payload carries no department id, and never guesses: a name with no
single match becomes a group assignment for a person to expand.
"""

from __future__ import annotations

import re
import unicodedata

_BRACKETS = re.compile(r"[〈〉（）()【】\[\]《》<>、，,\s]")
# 各县（市、区）人民政府, 各县〈市、区〉政府, 各区县政府, 各县区, 各县（市、区）应急管理局 … after folding the
# brackets away: 各 + a run of 县/市/区 containing 县 (or 各区 alone) + the body those counties act through.
_COUNTIES = re.compile(r"^各(?P<levels>[县市区]{1,3})(?P<body>.*)$")


def fold(name: str) -> str:
    """Width, brackets and list punctuation folded away, for comparing names as people write them."""
    return _BRACKETS.sub("", unicodedata.normalize("NFKC", name))


def county_body(name: str) -> str | None:
    """For a name addressed to every county below the region, the body within each county
    (人民政府 for 各县〈市、区〉人民政府); None for any other name."""
    match = _COUNTIES.match(fold(name))
    if match is None:
        return None
    levels = match.group("levels")
    # 各市 alone in a provincial plan means the cities, not the counties.
    if "县" not in levels and levels != "区":
        return None
    body = match.group("body")
    if body in ("", "政府"):
        body = "人民政府"
    return body
