"""Every service hears of revoked tokens: the gateway publishes `emplan.auth.access.revoked`
(through its outbox, in the transaction that disabled the account or rotated the secret), and each
process follows that subject with an ordered, ephemeral JetStream consumer that starts an access
token's lifetime in the past, so a process that (re)starts knows every revocation that still
matters. The revocations land in the process's `TokenVerifier.revocations`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy

from emplan_shared.auth import RevocationList
from emplan_shared.events.catalogue import AUTH_ACCESS_REVOKED
from emplan_shared.events.envelope import CloudEvent
from emplan_shared.messaging.broker import Broker
from emplan_shared.tasks import cancel_and_wait

logger = logging.getLogger(__name__)


class RevocationFeed:
    def __init__(self, broker: Broker, revocations: RevocationList, lookback_seconds: float = 3600.0) -> None:
        self.broker = broker
        self.revocations = revocations
        self.lookback_seconds = lookback_seconds
        self.applied = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="revocation-feed")

    async def _run(self) -> None:
        await self.broker.ready.wait()
        assert self.broker.js is not None
        since = datetime.now(UTC) - timedelta(seconds=self.lookback_seconds)
        while True:
            try:
                await self.broker.js.subscribe(
                    AUTH_ACCESS_REVOKED.type,
                    cb=self._on_message,
                    ordered_consumer=True,
                    idle_heartbeat=5.0,
                    config=ConsumerConfig(
                        deliver_policy=DeliverPolicy.BY_START_TIME,
                        opt_start_time=since,
                    ),
                )
                return
            except Exception as exc:  # the stream not there yet, the server restarting
                logger.warning("revocation feed not subscribed yet", extra={"error": repr(exc)})
                await asyncio.sleep(1.0)

    async def _on_message(self, message: Msg) -> None:
        try:
            revoked = AUTH_ACCESS_REVOKED.parse(CloudEvent.model_validate_json(message.data))
        except Exception as exc:
            logger.warning("unreadable revocation event", extra={"error": repr(exc)})
            return
        self.revocations.revoke(revoked.kind, revoked.subject, min_version=revoked.min_version)
        self.applied += 1

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
