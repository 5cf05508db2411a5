"""Scoring, ranking and comparison on a hand-made city plan, with every expected figure worked out on
paper (the arithmetic is in each docstring), never taken from the code's output.

The sample (`tests/data/city_midterm_snapshot.json`, written for these tests): 临汾市 (141000) with
three counties 曲沃县 141021, 翼城县 141022, 襄汾县 141023; five indicators I1–I5 per county (I1 生产安全事故
死亡人数 is the one binding indicator), and twenty tasks T01–T20 led by four city departments, five each.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from evaluation.domain.comparison import Change, compare
from evaluation.domain.scheme import DEFAULT_SCHEME, MissedBindingMode, MissedBindingRule, ScoringScheme
from evaluation.domain.scoring import (
    BonusAward,
    LineKind,
    SubjectKind,
    UnknownBonusItem,
    rank,
    score,
)
from evaluation.domain.snapshot import Snapshot, TargetStatus

DATA = Path(__file__).resolve().parents[1] / "data" / "city_midterm_snapshot.json"
D = Decimal


def sample() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA.read_text())
    return data


def snapshot(data: dict[str, Any] | None = None) -> Snapshot:
    return Snapshot.model_validate(data or sample())


def by_key(subjects: list[Any]) -> dict[str, Any]:
    return {s.key: s for s in subjects}


class TestMidTermRoundWithDefaultScheme:
    """Default scheme: indicators 60, tasks 40; binding weighs 2, expected 1; credits met/on track 1,
    lagging 0.5, seriously lagging / no data 0; tasks completed/closed 1, in progress 0.5, not started
    / returned 0; −10 per missed binding target, −1 per overdue task, −0.5 per return.

    Regions. Each county has five targets: weights 2+1+1+1+1 = 6, so 60/6 = 10 per unit: I1 is worth
    20, I2–I5 10 each.
    - 曲沃县: I1 met 20, I2 on track 10, I3 met 10, I4 lagging 5, I5 met 10 → 55.
      8 tasks, 40/8 = 5 each: T01 completed 5, T02 closed 5, T03 in progress 2.5, T04 in progress 2.5,
      T05 completed 5, T06 in progress 2.5, T07 not started 0, T08 completed 5 → 27.5.
      T04 overdue −1, T08 returned once −0.5 → −1.5. Total 55 + 27.5 − 1.5 = 81.00.
    - 翼城县: I1 seriously lagging 0, I2 met 10, I3 on track 10, I4 met 10, I5 no data 0 → 30.
      8 tasks at 5: T09 2.5, T10 returned 0, T11 5, T12 not started 0, T13 2.5, T14 5, T15 2.5,
      T16 5 → 22.5. Binding I1 missed −10; T12 and T15 overdue −2; T10 returned twice −1.
      Total 30 + 22.5 − 10 − 2 − 1 = 39.50.
    - 襄汾县: I1 on track 20, I2 lagging 5, I3 seriously lagging 0, I4 met 10, I5 on track 10 → 45.
      4 tasks, 40/4 = 10 each: T17 completed 10, T18 in progress 5, T19 in progress 5, T20 closed 10
      → 30. T19 overdue −1 and returned once −0.5. Total 45 + 30 − 1.5 = 73.50.
    Ranking: 曲沃县 81.00 (1), 襄汾县 73.50 (2), 翼城县 39.50 (3).

    Departments have tasks only, so the task part is 100: five tasks each, 100/5 = 20 per task.
    - 市应急管理局: T01 20, T02 20, T09 10, T10 0, T17 20 = 70; T10 returned twice −1 → 69.00.
    - 市住房和城乡建设局: T03 10, T04 10, T11 20, T12 0, T18 10 = 50; T04, T12 overdue −2 → 48.00.
    - 市水利局: T05 20, T06 10, T13 10, T14 20, T19 10 = 70; T19 overdue −1, returned −0.5 → 68.50.
    - 市交通运输局: T07 0, T08 20, T15 10, T16 20, T20 20 = 70; T08 returned −0.5, T15 overdue −1
      → 68.50.
    Ranking: 市应急管理局 1; 市交通运输局 and 市水利局 tie at 68.50, both rank 2, listed by name
    (交 U+4EA4 before 水 U+6C34); 市住房和城乡建设局 rank 4 (competition ranking skips 3).
    """

    def test_region_scores_and_ranking(self) -> None:
        result = score(snapshot(), DEFAULT_SCHEME)
        assert [(s.name, s.rank, s.total) for s in result.regions] == [
            ("曲沃县", 1, D("81.00")),
            ("襄汾县", 2, D("73.50")),
            ("翼城县", 3, D("39.50")),
        ]
        west = by_key(result.regions)["141022"]
        assert (west.indicator_points, west.task_points, west.deductions) == (D(30), D("22.5"), D(-13))
        assert west.overdue_count == 2
        assert not west.vetoed

    def test_department_scores_ties_and_ranking(self) -> None:
        result = score(snapshot(), DEFAULT_SCHEME)
        assert [(s.name, s.rank, s.total) for s in result.departments] == [
            ("市应急管理局", 1, D("69.00")),
            ("市交通运输局", 2, D("68.50")),
            ("市水利局", 2, D("68.50")),
            ("市住房和城乡建设局", 4, D("48.00")),
        ]

    def test_every_point_is_explained(self) -> None:
        result = score(snapshot(), DEFAULT_SCHEME)
        for subject in result.regions + result.departments:
            assert sum(line.points for line in subject.lines) == subject.total
        west = by_key(result.regions)["141022"]
        missed = [line for line in west.lines if line.kind is LineKind.missed_binding]
        assert [(m.ref, m.points) for m in missed] == [("I1", D(-10))]
        assert "约束性指标严重滞后" in missed[0].reason
        assert [(line.ref, line.points) for line in west.lines if line.kind is LineKind.overdue] == [
            ("T12", D(-1)),
            ("T15", D(-1)),
        ]
        returned = [line for line in west.lines if line.kind is LineKind.returned]
        assert [(r.ref, r.points) for r in returned] == [("T10", D(-1))]
        assert "2 次" in returned[0].reason
        i1 = next(line for line in west.lines if line.kind is LineKind.indicator and line.ref == "I1")
        assert (i1.points, i1.max_points) == (D(0), D(20))

    def test_result_does_not_depend_on_input_order(self) -> None:
        data = sample()
        data["targets"].reverse()
        data["tasks"].reverse()
        assert score(snapshot(data), DEFAULT_SCHEME) == score(snapshot(), DEFAULT_SCHEME)


class TestVeto:
    def test_missed_binding_indicator_vetoes_the_region(self) -> None:
        """Veto instead of −10: 翼城县 earned 30 + 22.5 − 2 − 1 = 49.5 before the veto, which then takes
        49.5 so the total is 0; the others are unchanged (81.00, 73.50)."""
        scheme = DEFAULT_SCHEME.model_copy(
            update={"missed_binding": MissedBindingRule(mode=MissedBindingMode.veto)}
        )
        scheme = ScoringScheme.model_validate(scheme.model_dump())
        result = score(snapshot(), scheme)
        assert [(s.name, s.rank, s.total, s.vetoed) for s in result.regions] == [
            ("曲沃县", 1, D("81.00"), False),
            ("襄汾县", 2, D("73.50"), False),
            ("翼城县", 3, D("0.00"), True),
        ]
        veto = by_key(result.regions)["141022"].lines[-1]
        assert (veto.kind, veto.points) == (LineKind.veto, D("-49.50"))
        assert "一票否决" in veto.reason


class TestBonusesAndFloor:
    def test_bonus_is_capped(self) -> None:
        """曲沃县 gets 3 + 2 + 1 = 6 bonus points; the cap is 5, so a −1 line: 81 + 5 = 86.00."""
        awards = [
            BonusAward(subject_kind=SubjectKind.region, subject_key="141021", item_code=code)
            for code in ("national_commendation", "provincial_commendation", "innovation")
        ]
        east = by_key(score(snapshot(), DEFAULT_SCHEME, awards).regions)["141021"]
        assert east.total == D("86.00")
        assert east.bonus == D(5)
        assert [line.points for line in east.lines if line.kind is LineKind.bonus_cap] == [D(-1)]

    def test_unknown_bonus_item_is_refused(self) -> None:
        with pytest.raises(UnknownBonusItem, match="加分项 gold_medal 不在评分方案中"):
            score(
                snapshot(),
                DEFAULT_SCHEME,
                [BonusAward(subject_kind=SubjectKind.region, subject_key="141021", item_code="gold_medal")],
            )

    def test_total_never_below_zero(self) -> None:
        """襄汾县 with every task not started and overdue and every target seriously lagging: 0 points
        earned, −10 (I1) −4 (overdue) −0.5 (T19) = −14.5, raised to 0 by a +14.5 floor line."""
        data = sample()
        for target in data["targets"]:
            if target["region_code"] == "141023":
                target["status"] = "seriously_lagging"
        for task in data["tasks"]:
            if task["region_code"] == "141023":
                task.update(status="not_started", overdue=True)
        south = by_key(score(snapshot(data), DEFAULT_SCHEME).regions)["141023"]
        assert south.total == D("0.00")
        assert south.lines[-1].kind is LineKind.floor
        assert south.lines[-1].points == D("14.50")


class TestDepartmentWithIndicators:
    def test_department_answering_for_a_target(self) -> None:
        """市应急管理局 answers for 曲沃县's I4 (lagging): indicators 60 (one expected target: 60 × 0.5 = 30)
        and tasks 40 (5 tasks, 8 each: T01 8, T02 8, T09 4, T10 0, T17 8 = 28), T10 returned twice −1:
        30 + 28 − 1 = 57.00."""
        data = sample()
        for target in data["targets"]:
            if target["region_code"] == "141021" and target["target_id"] == "I4":
                target["lead_department"] = "市应急管理局"
        bureau = by_key(score(snapshot(data), DEFAULT_SCHEME).departments)["市应急管理局"]
        assert (bureau.indicator_points, bureau.task_points, bureau.total) == (D(30), D(28), D("57.00"))
        assert bureau.lines[0].label == "曲沃县·灾害信息员覆盖率"


class TestScheme:
    def test_weights_must_add_up_to_100(self) -> None:
        with pytest.raises(ValidationError, match="指标权重（70）与任务权重（40）之和应为 100，当前为 110"):
            ScoringScheme(indicator_weight=D(70), task_weight=D(40))

    def test_every_status_needs_a_credit(self) -> None:
        with pytest.raises(ValidationError, match="指标得分率缺少状态：no_data"):
            ScoringScheme(indicator_credit={s: D(1) for s in TargetStatus if s is not TargetStatus.no_data})

    def test_other_weights_change_the_result(self) -> None:
        """Indicators 50, tasks 50: 曲沃县's indicators 50/6 per unit → I1 16.67 (33.333… → 2 × 8.333…
        rounds to 16.67), I2 8.33, I3 8.33, I4 4.17, I5 8.33 = 45.83; tasks 50/8 = 6.25 each:
        6.25 × 4 + 3.125 × 3 → 6.25, 6.25, 3.13, 3.13, 6.25, 3.13, 0, 6.25 = 34.39; −1.5 → 78.72."""
        scheme = ScoringScheme(indicator_weight=D(50), task_weight=D(50))
        east = by_key(score(snapshot(), scheme).regions)["141021"]
        assert east.total == D("78.72")


class TestRanking:
    def test_ties_share_a_rank_and_the_next_skips(self) -> None:
        result = score(snapshot(), DEFAULT_SCHEME)
        reordered = rank(reversed(result.departments))
        assert [(s.key, s.rank) for s in reordered] == [
            ("市应急管理局", 1),
            ("市交通运输局", 2),
            ("市水利局", 2),
            ("市住房和城乡建设局", 4),
        ]


class TestComparison:
    def test_against_the_previous_round(self) -> None:
        """Previous round: 曲沃县 I4 seriously lagging (0 instead of 5) → 76.00; 襄汾县 I3 on track (10
        instead of 0) → 83.50; 翼城县 the same 39.50. Previous ranking 襄汾县 1, 曲沃县 2, 翼城县 3.
        Now 曲沃县 improved by +5.00 (rank 2 → 1), 襄汾县 fell behind by −10.00 (1 → 2), 翼城县 unchanged;
        departments (same tasks) unchanged."""
        previous_data = sample()
        for target in previous_data["targets"]:
            if (target["region_code"], target["target_id"]) == ("141021", "I4"):
                target["status"] = "seriously_lagging"
            if (target["region_code"], target["target_id"]) == ("141023", "I3"):
                target["status"] = "on_track"
        current, previous = snapshot(), snapshot(previous_data)
        comparison = compare(
            score(current, DEFAULT_SCHEME), score(previous, DEFAULT_SCHEME), current, previous
        )
        regions = {c.key: c for c in comparison.subjects if c.kind is SubjectKind.region}
        assert (regions["141021"].change, regions["141021"].delta) == (Change.improved, D("5.00"))
        assert (regions["141021"].previous_rank, regions["141021"].current_rank) == (2, 1)
        assert (regions["141023"].change, regions["141023"].delta) == (Change.fell_behind, D("-10.00"))
        assert regions["141022"].change is Change.unchanged
        departments = [c for c in comparison.subjects if c.kind is SubjectKind.department]
        assert {c.change for c in departments} == {Change.unchanged}
        targets = {(t.region_code, t.target_id): t.change for t in comparison.targets}
        assert targets[("141021", "I4")] is Change.improved
        assert targets[("141023", "I3")] is Change.fell_behind
        assert targets[("141022", "I5")] is Change.no_data
        assert targets[("141021", "I1")] is Change.unchanged

    def test_new_and_dropped_subjects(self) -> None:
        """Previous round without 襄汾县's tasks and targets, current one without 翼城县's: 襄汾县 is new,
        翼城县 dropped (listed after the current ranking)."""
        previous_data, current_data = sample(), sample()
        for data, county in ((previous_data, "141023"), (current_data, "141022")):
            data["targets"] = [t for t in data["targets"] if t["region_code"] != county]
            data["tasks"] = [t for t in data["tasks"] if t["region_code"] != county]
        current, previous = snapshot(current_data), snapshot(previous_data)
        comparison = compare(
            score(current, DEFAULT_SCHEME), score(previous, DEFAULT_SCHEME), current, previous
        )
        regions = [(c.key, c.change) for c in comparison.subjects if c.kind is SubjectKind.region]
        assert regions == [("141021", Change.unchanged), ("141023", Change.new), ("141022", Change.dropped)]


class TestSnapshotValidation:
    def test_a_value_without_data_must_say_no_data(self) -> None:
        data = sample()
        data["targets"][0].update(current_value=None, status="met")
        with pytest.raises(ValidationError, match="no_data"):
            snapshot(data)

    def test_duplicate_task_refused(self) -> None:
        data = sample()
        data["tasks"].append(dict(data["tasks"][0]))
        with pytest.raises(ValidationError, match="任务 T01（141021）重复"):
            snapshot(data)
