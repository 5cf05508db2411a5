"""What changed since the previous round: subjects that improved or fell behind, and targets whose
status moved.

A subject improved when its total rose, fell behind when it dropped, is `new` when the previous round
did not score it and `dropped` when this one does not. Targets are matched by (region, target id) and
compared on the order met > on track > lagging > seriously lagging; a target with no data in either
round is `no_data` rather than a guess.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from evaluation.domain.scoring import ScoreResult, SubjectKind, SubjectScore
from evaluation.domain.snapshot import Snapshot, TargetStatus


class Change(StrEnum):
    improved = "improved"
    fell_behind = "fell_behind"
    unchanged = "unchanged"
    new = "new"
    dropped = "dropped"
    no_data = "no_data"


CHANGE_LABELS: dict[Change, str] = {
    Change.improved: "进步",
    Change.fell_behind: "退步",
    Change.unchanged: "持平",
    Change.new: "新增",
    Change.dropped: "本轮未参评",
    Change.no_data: "无法比较",
}

_STATUS_ORDER = {
    TargetStatus.met: 3,
    TargetStatus.on_track: 2,
    TargetStatus.lagging: 1,
    TargetStatus.seriously_lagging: 0,
}


class SubjectChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: SubjectKind
    key: str
    name: str
    change: Change
    previous_total: Decimal | None
    current_total: Decimal | None
    delta: Decimal | None
    previous_rank: int | None
    current_rank: int | None


class TargetChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    region_code: str
    region_name: str
    target_id: str
    indicator_name: str
    change: Change
    previous_status: TargetStatus | None
    current_status: TargetStatus | None


class Comparison(BaseModel):
    model_config = ConfigDict(frozen=True)

    subjects: list[SubjectChange]
    targets: list[TargetChange]


def compare(
    current: ScoreResult, previous: ScoreResult, current_snapshot: Snapshot, previous_snapshot: Snapshot
) -> Comparison:
    subjects = _subjects(current.regions, previous.regions) + _subjects(
        current.departments, previous.departments
    )
    return Comparison(subjects=subjects, targets=_targets(current_snapshot, previous_snapshot))


def _subjects(current: list[SubjectScore], previous: list[SubjectScore]) -> list[SubjectChange]:
    before = {s.key: s for s in previous}
    now = {s.key: s for s in current}
    changes: list[SubjectChange] = []
    for subject in current:  # in the current ranking's order, then the dropped ones by key
        old = before.get(subject.key)
        if old is None:
            changes.append(_change(subject.kind, subject.key, subject.name, Change.new, None, subject))
            continue
        delta = subject.total - old.total
        change = Change.improved if delta > 0 else Change.fell_behind if delta < 0 else Change.unchanged
        changes.append(_change(subject.kind, subject.key, subject.name, change, old, subject))
    for key in sorted(set(before) - set(now)):
        old = before[key]
        changes.append(_change(old.kind, old.key, old.name, Change.dropped, old, None))
    return changes


def _change(
    kind: SubjectKind,
    key: str,
    name: str,
    change: Change,
    old: SubjectScore | None,
    new: SubjectScore | None,
) -> SubjectChange:
    return SubjectChange(
        kind=kind,
        key=key,
        name=name,
        change=change,
        previous_total=old.total if old else None,
        current_total=new.total if new else None,
        delta=new.total - old.total if old and new else None,
        previous_rank=old.rank if old else None,
        current_rank=new.rank if new else None,
    )


def _targets(current: Snapshot, previous: Snapshot) -> list[TargetChange]:
    before = {(t.region_code, t.target_id): t for t in previous.targets}
    changes: list[TargetChange] = []
    for target in sorted(current.targets, key=lambda t: (t.region_code, t.target_id)):
        old = before.pop((target.region_code, target.target_id), None)
        if old is None:
            change = Change.new
        elif TargetStatus.no_data in (old.status, target.status):
            change = Change.no_data
        else:
            diff = _STATUS_ORDER[target.status] - _STATUS_ORDER[old.status]
            change = Change.improved if diff > 0 else Change.fell_behind if diff < 0 else Change.unchanged
        changes.append(
            TargetChange(
                region_code=target.region_code,
                region_name=target.region_name,
                target_id=target.target_id,
                indicator_name=target.indicator_name,
                change=change,
                previous_status=old.status if old else None,
                current_status=target.status,
            )
        )
    for (region_code, target_id), old in sorted(before.items()):
        changes.append(
            TargetChange(
                region_code=region_code,
                region_name=old.region_name,
                target_id=target_id,
                indicator_name=old.indicator_name,
                change=Change.dropped,
                previous_status=old.status,
                current_status=None,
            )
        )
    return changes
