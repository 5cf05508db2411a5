"""Every event type emplan publishes, with its payload schema: the contract between services.

Producers publish through `EventSpec.build`, consumers read through `EventSpec.parse`, and the AsyncAPI
document is generated from this catalogue, so the three cannot drift apart.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

from emplan_shared.events import payloads
from emplan_shared.events.envelope import CloudEvent, new_event

P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True)
class EventSpec(Generic[P]):
    type: str
    payload: builtins.type[P]
    producer: str
    summary: str
    version: int = 1

    def build(self, data: P, *, subject: str | None = None, region_code: str | None = None) -> CloudEvent:
        return new_event(
            type=self.type,
            source=f"/emplan/{self.producer}",
            data=data,
            subject=subject,
            region_code=region_code,
            schema_version=self.version,
        )

    def parse(self, event: CloudEvent) -> P:
        return self.payload.model_validate(event.data)


CATALOGUE: dict[str, EventSpec[BaseModel]] = {}


def _register(spec: EventSpec[P]) -> EventSpec[P]:
    CATALOGUE[spec.type] = spec  # type: ignore[assignment]
    return spec


DEPARTMENT_CREATED = _register(
    EventSpec(
        type="emplan.directory.department.created",
        payload=payloads.Department,
        producer="plan-registry",
        summary="A department was added to a region's directory.",
    )
)
DEPARTMENT_UPDATED = _register(
    EventSpec(
        type="emplan.directory.department.updated",
        payload=payloads.Department,
        producer="plan-registry",
        summary="A department's name, aliases or state changed.",
    )
)
PLAN_PUBLISHED = _register(
    EventSpec(
        type="emplan.plan.published",
        payload=payloads.PlanPublished,
        producer="plan-registry",
        summary="A plan version was published, with its indicators, targets and tasks.",
    )
)
PLAN_SUPERSEDED = _register(
    EventSpec(
        type="emplan.plan.superseded",
        payload=payloads.PlanSuperseded,
        producer="plan-registry",
        summary="A published plan version was replaced by a newer published version.",
    )
)

# -------------------------------------------------------------------------------- indicator results
INDICATOR_STATUS_CHANGED = _register(
    EventSpec(
        type="emplan.indicator.status.changed",
        payload=payloads.IndicatorStatusChanged,
        producer="indicator-engine",
        summary="A plan target's status (met / on track / lagging / seriously lagging) changed.",
    )
)
INDICATOR_TARGET_JUDGED = _register(
    EventSpec(
        type="emplan.indicator.target.judged",
        payload=payloads.IndicatorTargetJudged,
        producer="indicator-engine",
        summary="A plan target's judgement (status, value, baseline, 序时进度 value) changed in any part.",
    )
)
INDICATOR_WARNING_RAISED = _register(
    EventSpec(
        type="emplan.indicator.warning.raised",
        payload=payloads.IndicatorWarningRaised,
        producer="indicator-engine",
        summary="A binding target is projected to miss its target year (early warning).",
    )
)

# -------------------------------------------------------------------------------------------- tasks
TASK_STATUS_CHANGED = _register(
    EventSpec(
        type="emplan.task.status.changed",
        payload=payloads.TaskStatusChanged,
        producer="task-assignment",
        summary="A task's status changed: first report, completion claimed, closed (销号) or returned.",
    )
)
TASK_STATE_CHANGED = _register(
    EventSpec(
        type="emplan.task.state.changed",
        payload=payloads.TaskStateChanged,
        producer="task-assignment",
        summary="A task's whole state (status, progress, deadline, units, last report) after any change.",
    )
)
TASK_OVERDUE = _register(
    EventSpec(
        type="emplan.task.overdue",
        payload=payloads.TaskOverdue,
        producer="task-assignment",
        summary="A task passed its deadline with work still owed (once per task and deadline).",
    )
)
TASK_REMINDER_DUE = _register(
    EventSpec(
        type="emplan.task.reminder.due",
        payload=payloads.TaskReminderDue,
        producer="task-assignment",
        summary="A department's periodic summary of due, overdue and unreported tasks (once per period).",
    )
)

# ------------------------------------------------------------------------------------ indicator data
INDICATOR_VALUE_CHANGED = _register(
    EventSpec(
        type="emplan.indicator.value.changed",
        payload=payloads.IndicatorValueChanged,
        producer="indicator-engine",
        summary="A data value was created, corrected, submitted, approved, unapproved or deleted.",
    )
)
INDICATOR_VALUES_LOADED = _register(
    EventSpec(
        type="emplan.indicator.values.loaded",
        payload=payloads.IndicatorValuesLoaded,
        producer="indicator-engine",
        summary="A bulk load stored many data values at once (one event per batch).",
    )
)

# ---------------------------------------------------------------------------------------- evaluation
EVALUATION_PUBLISHED = _register(
    EventSpec(
        type="emplan.evaluation.published",
        payload=payloads.EvaluationPublished,
        producer="evaluation",
        summary="An approved evaluation round was published with its rankings; the report is public.",
    )
)

# ---------------------------------------------------------------------------------------------- auth
AUTH_ACCESS_REVOKED = _register(
    EventSpec(
        type="emplan.auth.access.revoked",
        payload=payloads.AccessRevoked,
        producer="gateway",
        summary="An account's or machine client's earlier tokens were revoked; services refuse them.",
    )
)
