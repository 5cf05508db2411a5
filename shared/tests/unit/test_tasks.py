"""`cancel_and_wait`: a background task that swallows a cancellation is still stopped."""

from __future__ import annotations

import asyncio

from emplan_shared.tasks import cancel_and_wait


async def test_a_task_that_swallows_the_first_cancellation_is_stopped() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed == 0:  # as asyncio.wait_for can in Python 3.11 (gh-86296)
                    swallowed += 1
                    continue
                raise

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait(task), timeout=5)
    assert task.cancelled()
    assert swallowed == 1


async def test_a_task_that_never_stops_is_given_up_on() -> None:
    async def immortal() -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(immortal())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait(task, give_up_after=1.0), timeout=5)
    assert not task.done()
    task.get_coro().close()  # type: ignore[union-attr]
