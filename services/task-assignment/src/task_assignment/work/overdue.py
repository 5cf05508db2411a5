"""The overdue scan: every current task that still owes work after its deadline gets exactly one
`task.overdue` per deadline.

Once-only is a database fact, not a timing one: the scan inserts (task, deadline) into
`task_overdue_notice` and writes an event only for the rows it inserted, in the same transaction as
the outbox rows. Two scans at once (two replicas, or the daily run and an admin's) are serialised by
a transaction-level advisory lock, and the key would refuse a second notice anyway; a scan that
crashes writes nothing; a restarted service finds the keys already there.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.db import utcnow
from emplan_shared.events import catalogue, payloads
from task_assignment.tasks.models import Task
from task_assignment.work.workflow import OPEN_STATUSES

# pg_advisory_xact_lock key of the overdue scan ("emplanOD" as a bigint).
OVERDUE_LOCK = 0x656D706C616E4F44

# Two statements do the whole scan. The first reads the open, past-deadline tasks that have no notice
# for their current deadline (an anti-join on the key, so a re-run finds nothing and writes nothing).
# The second inserts their notices and, from what it inserted, their events straight into the outbox.
# They are apart because a statement that anti-joins the table it inserts into re-reads the pages it
# is filling: on the first scan of an unanalysed table that was quadratic (22 s for 26,000 tasks).
# Envelopes are built in SQL: building 10^4 of them in Python measured several times slower
# (bench/task_overdue_scan.py). Their fixed part still comes from the catalogue (`envelope_template`),
# and the tests parse what is written here with the catalogue's payload model.
_CANDIDATES = text(
    """
    SELECT t.id, t.deadline
    FROM task t
    WHERE t.current AND t.status = ANY(:open) AND t.deadline IS NOT NULL AND t.deadline < :today
      AND NOT EXISTS (SELECT 1 FROM task_overdue_notice n WHERE n.task_id = t.id AND n.deadline = t.deadline)
    ORDER BY t.deadline, t.id
    """
)
_NOTIFY = text(
    """
    WITH new AS (
        INSERT INTO task_overdue_notice (task_id, deadline, event_id, detected_on)
        SELECT c.task_id, c.deadline, gen_random_uuid()::text, :today
        FROM unnest(CAST(:task_ids AS uuid[]), CAST(:deadlines AS date[])) WITH ORDINALITY
            AS c(task_id, deadline, n)
        ORDER BY c.n
        ON CONFLICT (task_id, deadline) DO NOTHING
        RETURNING task_id, deadline, event_id
    ),
    written AS (
        INSERT INTO outbox_event (event_id, subject, envelope)
        SELECT new.event_id::uuid, :type, CAST(:template AS jsonb) || jsonb_build_object(
            'id', new.event_id,
            'subject', 'task/' || t.id,
            'time', CAST(:now AS text),
            'regioncode', t.region_code,
            'data', jsonb_build_object(
                'task_id', t.id,
                'plan_id', t.plan_id,
                'region_code', t.region_code,
                'code', t.code,
                'title', t.title,
                'deadline', new.deadline,
                'status', t.status,
                'progress_percent', t.progress_percent,
                'lead_department_ids', coalesce(u.lead_ids, '[]'::jsonb),
                'co_department_ids', coalesce(u.co_ids, '[]'::jsonb),
                'detected_on', CAST(:today AS date)
            )
        )
        FROM new
        JOIN task t ON t.id = new.task_id
        -- the units of all candidates in one pass over the parameter (not the CTE, which has no
        -- statistics): one hash aggregate instead of two index probes per task
        LEFT JOIN (
            SELECT a.task_id,
                   jsonb_agg(a.department_id ORDER BY a.position) FILTER (WHERE a.role = 'lead') AS lead_ids,
                   jsonb_agg(a.department_id ORDER BY a.position) FILTER (WHERE a.role = 'co') AS co_ids
            FROM assignment a
            WHERE a.task_id = ANY(CAST(:task_ids AS uuid[]))
            GROUP BY a.task_id
        ) u ON u.task_id = new.task_id
        ORDER BY new.deadline, t.id
        RETURNING 1
    )
    SELECT count(*) FROM written
    """
)


@dataclass(frozen=True)
class OverdueScan:
    as_of: date
    overdue: int
    notified: int


def envelope_template(today: date) -> dict[str, Any]:
    """The envelope fields every task.overdue shares (spec version, source, type, schema, request id),
    from the catalogue itself; the scan adds the per-task ones."""
    sample = catalogue.TASK_OVERDUE.build(
        payloads.TaskOverdue(
            task_id=uuid.UUID(int=0),
            plan_id=uuid.UUID(int=0),
            region_code="000000",
            code=None,
            title="",
            deadline=today,
            status="not_started",
            progress_percent=0,
            lead_department_ids=[],
            co_department_ids=[],
            detected_on=today,
        )
    )
    envelope = sample.model_dump(mode="json", exclude_none=True)
    for key in ("id", "subject", "time", "regioncode", "data"):
        envelope.pop(key, None)
    return envelope


async def scan_overdue(session: AsyncSession, today: date) -> OverdueScan:
    """Find what is overdue on `today` and write the notices and events; the caller commits."""
    await session.execute(select(func.pg_advisory_xact_lock(OVERDUE_LOCK)))
    open_statuses = sorted(OPEN_STATUSES)
    candidates = (await session.execute(_CANDIDATES, {"today": today, "open": open_statuses})).all()
    notified = 0
    if candidates:
        notified = (
            await session.execute(
                _NOTIFY,
                {
                    "today": today,
                    "task_ids": [row.id for row in candidates],
                    "deadlines": [row.deadline for row in candidates],
                    "type": catalogue.TASK_OVERDUE.type,
                    "template": json.dumps(envelope_template(today)),
                    # one time for the scan's events, formatted as the envelope model writes it
                    "now": utcnow().isoformat().replace("+00:00", "Z"),
                },
            )
        ).scalar_one()
    overdue = await session.execute(
        select(func.count()).where(
            Task.current.is_(True),
            Task.status.in_(open_statuses),
            Task.deadline.is_not(None),
            Task.deadline < today,
        )
    )
    return OverdueScan(as_of=today, overdue=int(overdue.scalar_one()), notified=int(notified))
