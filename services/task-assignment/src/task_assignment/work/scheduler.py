"""The daily overdue scan and the reminder scan, run by every replica in the background.

No scheduler service: each scan is idempotent (unique keys) and serialised by an advisory lock, so
every replica may run them every `scan_interval_seconds`; running at start-up means a service that
was down over midnight catches up at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from emplan_shared.tasks import cancel_and_wait
from task_assignment.settings import Settings
from task_assignment.work.overdue import OverdueScan, scan_overdue
from task_assignment.work.periods import PeriodKind
from task_assignment.work.reminders import ReminderScan, scan_reminders
from task_assignment.work.service import today_in

logger = logging.getLogger(__name__)


async def run_overdue_scan(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> OverdueScan:
    async with sessionmaker() as session, session.begin():
        return await scan_overdue(session, today_in(settings))


async def run_reminder_scan(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> ReminderScan:
    async with sessionmaker() as session, session.begin():
        return await scan_reminders(
            session,
            today_in(settings),
            kind=PeriodKind(settings.reporting_period),
            days_before_end=settings.reminder_days_before_period_end,
            due_within_days=settings.reminder_due_within_days,
            timezone=settings.timezone,
        )


async def _loop(app: FastAPI, settings: Settings) -> None:
    sessionmaker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    while True:
        for name, scan in (("overdue", run_overdue_scan), ("reminder", run_reminder_scan)):
            try:
                result = await scan(sessionmaker, settings)
                logger.info("%s scan done", name, extra={"result": repr(result)})
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be restarting; the next round retries
                logger.warning("%s scan failed", name, extra={"error": repr(exc)})
        await asyncio.sleep(settings.scan_interval_seconds)


@contextlib.asynccontextmanager
async def work_scans(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    task = asyncio.create_task(_loop(app, settings), name="work-scans") if settings.scans_enabled else None
    try:
        yield
    finally:
        await cancel_and_wait(task)
