"""Unit names against the department replica: an id, a name or alias in the plan's region, never a guess."""

from __future__ import annotations

import uuid

from task_assignment.departments.models import Department
from task_assignment.tasks.service import Resolver, Unit


def _department(name: str, *aliases: str, region: str = "140900") -> Department:
    return Department(
        id=uuid.uuid4(), region_code=region, name=name, aliases=list(aliases), active=True, version=1
    )


EMERGENCY = _department("市应急管理局", "市应急局")
PLANNING = _department("市规划和自然资源局")
WATER_A = _department("市水利局")
WATER_B = _department("市水务局", "市水利局")  # two departments answer to 市水利局
RESOLVER = Resolver([EMERGENCY, PLANNING, WATER_A, WATER_B], {EMERGENCY.id: EMERGENCY})


def test_by_id_first() -> None:
    assert RESOLVER.resolve(Unit("随便写的名字", EMERGENCY.id, "exact")) is EMERGENCY


def test_by_name_and_alias_with_brackets_and_width_folded() -> None:
    assert RESOLVER.resolve(Unit("市应急局", None, "none")) is EMERGENCY
    assert RESOLVER.resolve(Unit("市规划和自然资源局", None, "none")) is PLANNING
    assert RESOLVER.resolve(Unit("市规划和自然资源局 ", None, "none")) is PLANNING


def test_two_candidates_resolve_to_none() -> None:
    assert RESOLVER.resolve(Unit("市水利局", None, "none")) is None


def test_groups_and_unknown_names_stay_unresolved() -> None:
    assert RESOLVER.resolve(Unit("市应急局", None, "group")) is None  # the producer said group
    assert RESOLVER.resolve(Unit("市安委会有关成员单位", None, "group")) is None
    assert RESOLVER.resolve(Unit("市应急文化中心", None, "none")) is None


def test_an_id_not_in_the_replica_falls_back_to_the_name() -> None:
    assert RESOLVER.resolve(Unit("市规划和自然资源局", uuid.uuid4(), "exact")) is PLANNING
