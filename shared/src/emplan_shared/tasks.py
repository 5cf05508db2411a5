"""Stopping background tasks for sure.

Python 3.11's `asyncio.wait_for` can swallow a cancellation that races the awaitable it waits for
(gh-86296), and nats-py's `fetch` waits that way: a single `task.cancel()` then leaves a consumer
loop running, and a shutdown that awaits it hangs for ever (seen as tests stuck in teardown, and a
service that would not stop on SIGTERM). `cancel_and_wait` cancels again until the task has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

logger = logging.getLogger(__name__)


async def cancel_and_wait(task: asyncio.Task[object] | None, *, give_up_after: float = 30.0) -> None:
    """Cancel `task` and wait until it has ended, cancelling again every half second; after
    `give_up_after` seconds log it and return rather than hold the shutdown up for ever."""
    if task is None:
        return
    deadline = asyncio.get_running_loop().time() + give_up_after
    while not task.done():
        if asyncio.get_running_loop().time() > deadline:
            logger.error("background task would not stop", extra={"task": task.get_name()})
            return
        task.cancel()
        await asyncio.wait({task}, timeout=0.5)
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
