"""Events this feature consumes: the data half's own value events, to re-judge target status.

The data half writes values and enqueues `indicator.value.changed` (one value) or
`indicator.values.loaded` (a bulk batch) in the same transaction; this consumer receives them once
committed and re-judges the active targets that read those figures (`service.on_values_changed`), in
one transaction with the processed-event record. The status is recomputed from the data as it is now,
not from the event's payload, so late, repeated or out-of-order events all end in the same state, and
the comparison with the stored status publishes one event per real change.
"""

from __future__ import annotations

from itertools import product

from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.events import CloudEvent, catalogue
from emplan_shared.messaging.consumer import Consumer
from indicator_engine.results import service


async def on_value_changed(session: AsyncSession, event: CloudEvent) -> None:
    value = catalogue.INDICATOR_VALUE_CHANGED.parse(event)
    if value.month is not None:
        return  # results read whole-year figures only
    await service.on_values_changed(session, [(value.region_code, value.element_code, value.year)])


async def on_values_loaded(session: AsyncSession, event: CloudEvent) -> None:
    batch = catalogue.INDICATOR_VALUES_LOADED.parse(event)
    # on_values_changed only uses the sets of regions and elements: the product is never materialised
    # beyond one year per pair.
    years = batch.years[:1]
    await service.on_values_changed(session, product(batch.region_codes, batch.element_codes, years))


def values_consumer(*, max_attempts: int) -> Consumer:
    return Consumer(
        durable="indicator-engine-results",
        handlers={
            catalogue.INDICATOR_VALUE_CHANGED.type: on_value_changed,
            catalogue.INDICATOR_VALUES_LOADED.type: on_values_loaded,
        },
        max_attempts=max_attempts,
    )
