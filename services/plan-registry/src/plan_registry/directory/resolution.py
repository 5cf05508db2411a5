"""Resolution of a document's unit names onto one region's departments: pure rules, no database."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from plan_registry.directory import names as rules
from plan_registry.directory.catalogue import SYNONYMS
from plan_registry.directory.schemas import UnitMatch, UnitResolution


class DepartmentLike(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def name(self) -> str: ...
    @property
    def aliases(self) -> list[str]: ...


@dataclass(frozen=True)
class _Keys:
    """One department's comparison keys, tier by tier."""

    department: DepartmentLike
    aliases: frozenset[str]
    normalized: frozenset[str]  # cores of its name and aliases
    catalogue: frozenset[str]  # cores the shipped catalogue says are the same body


def _expand(cores: Iterable[str], designations: Sequence[str]) -> set[str]:
    """Catalogue synonyms of each core, and of each core without the region's designation."""
    found: set[str] = set()
    for core in cores:
        for key in rules.region_cores(core, designations):
            found |= SYNONYMS.get(key, frozenset())
    return found


def department_keys(department: DepartmentLike, designations: Sequence[str]) -> _Keys:
    written = [department.name, *department.aliases]
    normalized: set[str] = set()
    for name in written:
        normalized |= rules.region_cores(name, designations)
    return _Keys(
        department=department,
        aliases=frozenset(department.aliases),
        normalized=frozenset(normalized),
        catalogue=frozenset(_expand(normalized, designations)),
    )


def resolve_names(
    region_name: str, departments: Sequence[DepartmentLike], names: Sequence[str]
) -> list[UnitResolution]:
    designations = rules.region_designations(region_name)
    keyed = [department_keys(d, designations) for d in departments]
    return [_resolve(name, keyed, designations) for name in names]


def _resolve(name: str, keyed: Sequence[_Keys], designations: Sequence[str]) -> UnitResolution:
    written = name.strip()
    tiers: list[tuple[UnitMatch, list[_Keys]]] = [
        ("exact", [k for k in keyed if k.department.name == written]),
        ("alias", [k for k in keyed if written in k.aliases]),
    ]
    for match, found in tiers:
        if found:
            return _answer(name, match, found)
    if not written or rules.is_group(written):
        return UnitResolution(
            name=name, department_id=None, department_name=None, match="group" if written else "none"
        )
    cores = rules.region_cores(written, designations)
    normalized = [k for k in keyed if cores & k.normalized]
    if normalized:
        return _answer(name, "normalized", normalized)
    return _answer(name, "alias", [k for k in keyed if cores & k.catalogue])


def _answer(name: str, match: UnitMatch, found: Sequence[_Keys]) -> UnitResolution:
    if len(found) != 1:
        # Nothing, or several departments equally close: reported, never guessed.
        return UnitResolution(name=name, department_id=None, department_name=None, match="none")
    department = found[0].department
    return UnitResolution(
        name=name, department_id=department.id, department_name=department.name, match=match
    )
