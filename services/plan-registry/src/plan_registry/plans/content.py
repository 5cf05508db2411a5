"""A parsed document as the plan's stored content, and back: pure functions, no database.

Content is one JSON document per plan version (`plan.content`): the section tree, goals, indicators
and tasks, each item with a stable id that later versions keep, values as exact decimal strings.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from emplan_shared.errors import ProblemItem, UnprocessableEntity
from plan_registry import document
from plan_registry.directory.schemas import UnitResolution
from plan_registry.plans import schemas


def decimal_text(value: Decimal | None) -> str | None:
    """An exact decimal without exponent (2E+4 → 20000, 0.040 → 0.040)."""
    return None if value is None else format(value, "f")


def _target(target: document.Target) -> dict[str, Any]:
    return {
        "type": target.type,
        "value": decimal_text(target.value),
        "unit": target.unit,
        "strict": target.strict,
    }


def from_parsed(parsed: document.ParsedPlan) -> dict[str, Any]:
    """The content of a freshly parsed document, every item with a new id."""
    return {
        "sections": [s.model_dump(mode="json") for s in parsed.sections],
        "goals": [g.model_dump(mode="json") for g in parsed.goals],
        "indicators": [
            {
                "id": str(uuid.uuid4()),
                "name": i.name,
                "target_text": i.target_text,
                "target": _target(i.target),
                "nature": i.nature,
                "group": i.group,
                "baseline_text": i.baseline_text,
                "responsible": i.responsible.model_dump(mode="json") if i.responsible else None,
                "source_lines": i.source_lines,
            }
            for i in parsed.indicators
        ],
        "tasks": [{"id": str(uuid.uuid4()), **t.model_dump(mode="json")} for t in parsed.tasks],
    }


def _with_ids(items: Iterable[Any], field: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        data = item.model_dump(mode="json")
        data["id"] = data["id"] or str(uuid.uuid4())
        if data["id"] in seen:
            raise UnprocessableEntity(
                "同一规划中的条目 id 不能重复",
                code="duplicate_item_id",
                errors=[ProblemItem(field=f"body.{field}[{index}].id", detail="id 重复")],
            )
        seen.add(data["id"])
        found.append(data)
    return found


def indicators_from_input(items: Sequence[schemas.IndicatorIn]) -> list[dict[str, Any]]:
    return _with_ids(items, "indicators")


def tasks_from_input(items: Sequence[schemas.TaskIn]) -> list[dict[str, Any]]:
    return _with_ids(items, "tasks")


def unit_lines(content: dict[str, Any]) -> dict[str, int | None]:
    """Every unit name the plan's indicators and tasks write, in document order, with its first line."""
    found: dict[str, int | None] = {}

    def add(names: Iterable[str], lines: Sequence[int]) -> None:
        for name in names:
            found.setdefault(name, lines[0] if lines else None)

    for indicator in content["indicators"]:
        if indicator.get("responsible"):
            add(indicator["responsible"]["lead"], indicator["source_lines"])
            add(indicator["responsible"]["co"], indicator["source_lines"])
    for task in content["tasks"]:
        add(task["lead"], task["source_lines"])
        add(task["co"], task["source_lines"])
    return found


UNIT_WARNINGS = frozenset({"unresolved_unit", "region_unresolved"})


def unit_warnings(
    resolutions: Sequence[UnitResolution], lines: dict[str, int | None]
) -> list[dict[str, Any]]:
    """A warning for each name no department answers to (groups such as 有关部门 are not warned)."""
    return [
        {
            "code": "unresolved_unit",
            "line": lines.get(r.name),
            "text": r.name,
            "detail": f"“{r.name}”未能对应到本地区部门目录中的部门（无此部门或有多个同样接近的部门），"
            "请在部门目录中添加该部门或别名",
        }
        for r in resolutions
        if r.match == "none"
    ]


def sort_warnings(warnings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(warnings, key=lambda w: (w["line"] is None, w["line"] or 0))


def target_of(data: dict[str, Any]) -> document.Target:
    value = data["value"]
    return document.Target(
        type=data["type"],
        value=None if value is None else Decimal(value),
        unit=data["unit"],
        strict=data["strict"],
    )
