"""The NATS connection of a service process and the JetStream streams emplan uses."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

logger = logging.getLogger(__name__)

EVENTS_STREAM = "EMPLAN_EVENTS"
EVENTS_SUBJECTS = ["emplan.>"]
DEAD_LETTER_STREAM = "EMPLAN_DEAD_LETTERS"
DEAD_LETTER_PREFIX = "dead."
# JetStream drops a repeated Nats-Msg-Id inside this window: it covers the relay republishing a batch
# whose acknowledgement it lost.
DUPLICATE_WINDOW_SECONDS = 600.0


def dead_letter_subject(consumer: str, event_type: str) -> str:
    return f"{DEAD_LETTER_PREFIX}{consumer}.{event_type}"


STREAMS = [
    StreamConfig(
        name=EVENTS_STREAM,
        subjects=EVENTS_SUBJECTS,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=365 * 24 * 3600.0,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        description="Every domain event emplan publishes (CloudEvents JSON).",
    ),
    StreamConfig(
        name=DEAD_LETTER_STREAM,
        subjects=[DEAD_LETTER_PREFIX + ">"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=90 * 24 * 3600.0,
        description="Events a consumer gave up on, for a person to inspect and replay.",
    ),
]


def stream_configs(replicas: int = 1) -> list[StreamConfig]:
    """The streams with `replicas` copies each (3 on a three-node NATS cluster: one node may be lost)."""
    return [dataclasses.replace(config, num_replicas=replicas) for config in STREAMS]


def server_urls(url: str) -> list[str]:
    """`NATS_URL` may list several servers of a cluster, comma-separated; nats-py tries each in turn."""
    return [part.strip() for part in url.split(",") if part.strip()]


async def ensure_streams(js: JetStreamContext, replicas: int = 1) -> None:
    """Create the streams, or bring their configuration up to date; safe from many processes at once."""
    for config in stream_configs(replicas):
        try:
            await js.add_stream(config)
        except BadRequestError:
            # Exists already with other settings (or a concurrent creator won): converge on ours.
            await js.update_stream(config)


class Broker:
    """One NATS connection, reconnecting for ever; `ready` is set once connected and streams exist."""

    def __init__(self, url: str, name: str, stream_replicas: int = 1) -> None:
        self.url = url
        self.name = name
        self.stream_replicas = stream_replicas
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    def start(self) -> None:
        self._task = asyncio.create_task(self._connect_until_up(), name=f"nats-connect-{self.name}")

    async def _connect_until_up(self) -> None:
        delay = 0.2
        while True:
            try:
                self.nc = await nats.connect(
                    server_urls(self.url),
                    name=self.name,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    connect_timeout=2,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                )
                self.js = self.nc.jetstream(timeout=5)
                await ensure_streams(self.js, self.stream_replicas)
                self.ready.set()
                logger.info("connected to NATS", extra={"nats_url": self.url})
                return
            except Exception as exc:
                logger.warning("NATS not reachable yet, retrying", extra={"error": repr(exc)})
                if self.nc is not None:
                    await self.nc.close()
                    self.nc = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 3.0)

    async def _on_error(self, exc: Exception) -> None:
        logger.warning("NATS error", extra={"error": repr(exc)})

    async def _on_disconnected(self) -> None:
        logger.warning("disconnected from NATS")

    async def _on_reconnected(self) -> None:
        logger.info("reconnected to NATS")
        # A server that came back without its store (a new node, a wiped volume) has no streams:
        # recreate them before the relay publishes into nothing.
        if self.js is not None:
            try:
                await ensure_streams(self.js, self.stream_replicas)
            except Exception as exc:
                logger.warning("could not ensure streams after reconnect", extra={"error": repr(exc)})

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self.nc is not None and not self.nc.is_closed:
            # Consumers are stopped before this and ack what they finished, so there is nothing to
            # drain; close() flushes pending publishes and returns at once.
            try:
                await asyncio.wait_for(self.nc.close(), timeout=3)
            except Exception as exc:
                logger.warning("NATS close failed", extra={"error": repr(exc)})
