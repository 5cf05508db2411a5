"""The status workflow of a task, as pure rules.

not_started → in_progress (the first report, or `start`) → completed (claimed by the lead) → closed
(销号: the owner bureau reviews and accepts) or returned with a reason (back to work; the next report
puts it in progress again, and the lead may claim completion once more). Closed is final.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from emplan_shared.errors import Conflict, EmplanError, Forbidden, ProblemItem, UnprocessableEntity


class TaskStatus(StrEnum):
    not_started = "not_started"
    in_progress = "in_progress"
    completed = "completed"
    closed = "closed"
    returned = "returned"


# Statuses in which work is still owed: these can be overdue and are counted in reminders.
OPEN_STATUSES = frozenset({TaskStatus.not_started, TaskStatus.in_progress, TaskStatus.returned})


class Action(StrEnum):
    start = "start"
    claim_completion = "claim_completion"
    close = "close"
    return_ = "return"


class Capacity(StrEnum):
    """In which capacity the caller acts on a task."""

    lead = "lead"  # a department assigned as lead unit (牵头)
    co = "co"  # a department assigned as co-operating unit (配合)
    bureau = "bureau"  # the plan's owner bureau (a planner whose jurisdiction holds the task)


@dataclass(frozen=True)
class Transition:
    action: Action
    sources: frozenset[TaskStatus]
    target: TaskStatus
    capacities: frozenset[Capacity]
    needs_reason: bool = False


TRANSITIONS: dict[Action, Transition] = {
    t.action: t
    for t in (
        Transition(
            Action.start,
            frozenset({TaskStatus.not_started}),
            TaskStatus.in_progress,
            frozenset({Capacity.lead, Capacity.co, Capacity.bureau}),
        ),
        Transition(
            Action.claim_completion,
            frozenset({TaskStatus.in_progress, TaskStatus.returned}),
            TaskStatus.completed,
            frozenset({Capacity.lead}),
        ),
        Transition(
            Action.close, frozenset({TaskStatus.completed}), TaskStatus.closed, frozenset({Capacity.bureau})
        ),
        Transition(
            Action.return_,
            frozenset({TaskStatus.completed}),
            TaskStatus.returned,
            frozenset({Capacity.bureau}),
            needs_reason=True,
        ),
    )
}

_STATUS_NAMES = {
    TaskStatus.not_started: "未开始",
    TaskStatus.in_progress: "进行中",
    TaskStatus.completed: "已完成（待销号）",
    TaskStatus.closed: "已销号",
    TaskStatus.returned: "已退回",
}
_CAPACITY_NAMES = {Capacity.lead: "牵头单位", Capacity.co: "配合单位", Capacity.bureau: "规划所属应急管理局"}


class TaskClosed(Conflict):
    code = "task_closed"


class TransitionNotAllowed(Conflict):
    code = "transition_not_allowed"


def status_name(status: TaskStatus) -> str:
    return _STATUS_NAMES[status]


def apply(
    status: TaskStatus, action: Action, capacities: Collection[Capacity], reason: str | None = None
) -> TaskStatus:
    """The status after `action`, or the error that refuses it (nothing is changed by this function)."""
    transition = TRANSITIONS[action]
    if not set(capacities) & transition.capacities:
        allowed = "、".join(_CAPACITY_NAMES[c] for c in sorted(transition.capacities))
        raise Forbidden(f"只有{allowed}可以执行此操作", code="action_not_permitted")
    if status == TaskStatus.closed:
        raise TaskClosed("任务已销号，不能再变更状态")
    if status not in transition.sources:
        sources = "、".join(status_name(s) for s in sorted(transition.sources))
        raise TransitionNotAllowed(
            f"任务当前状态为「{status_name(status)}」，此操作只适用于「{sources}」的任务",
            errors=[ProblemItem(field="body.action", detail=f"当前状态：{status_name(status)}")],
        )
    if transition.needs_reason and not (reason and reason.strip()):
        raise UnprocessableEntity(
            "退回须说明理由",
            code="reason_required",
            errors=[ProblemItem(field="body.reason", code="missing", detail="缺少退回理由")],
        )
    return transition.target


def status_after_report(status: TaskStatus) -> TaskStatus | None:
    """A report starts the work (or resumes it after a return); on a closed task it is refused."""
    if status == TaskStatus.closed:
        raise report_on_closed()
    if status in (TaskStatus.not_started, TaskStatus.returned):
        return TaskStatus.in_progress
    return None


def report_on_closed() -> EmplanError:
    return TaskClosed("任务已销号，不再接受进展报送")
