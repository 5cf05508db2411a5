"""Prometheus metrics and the detailed health view, the same for every service (wired by the app factory).

- Requests: `emplan_http_requests_total{method,route,status}` and
  `emplan_http_request_duration_seconds{method,route}`, labelled by the route *template*
  (`/api/v1/plans/{plan_id}`), never the raw path, so the label set stays bounded; a path no route
  matches is `<unmatched>`.
- The outbox and the consumers, sampled in the background every `metrics_sample_seconds` (one
  indexed count on the outbox, one JetStream request per consumer and one for the dead letters), so a
  scrape only renders numbers already in memory and stays well under a millisecond or two:
  `emplan_outbox_backlog` (committed events not yet published), `emplan_outbox_oldest_unpublished_age_seconds`,
  `emplan_consumer_pending` (JetStream's num_pending: events in the stream this consumer has not
  been delivered yet), `emplan_consumer_ack_pending`, `emplan_consumer_redelivered` (server side),
  `emplan_dead_letters` (messages held in the dead-letter stream for the consumer).
- Counters kept by this process, read at scrape time from the shared `ConsumerStats` and the relay:
  `emplan_consumer_events_total{consumer,outcome}`, `emplan_consumer_redeliveries_total`,
  `emplan_consumer_failures_total`, `emplan_consumer_dead_lettered_total`, `emplan_outbox_published_total`.

`/metrics` and `/readyz/details` are operator endpoints: see `require_operator`.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emplan_shared.auth import Role, principal_from_claims
from emplan_shared.db import utcnow
from emplan_shared.errors import Forbidden, Unauthorized
from emplan_shared.health import readiness_checks
from emplan_shared.messaging.broker import DEAD_LETTER_PREFIX, DEAD_LETTER_STREAM, EVENTS_STREAM
from emplan_shared.tasks import cancel_and_wait

logger = logging.getLogger(__name__)

UNMATCHED = "<unmatched>"
# Latency buckets (seconds): most reads answer in a few ms; imports and reports take seconds.
BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Paths whose requests are not counted: the scrape itself and the orchestrator's probes.
NOT_COUNTED = frozenset({"/metrics", "/healthz", "/readyz", "/readyz/details"})
_CONVERTOR = re.compile(r"\{([^}:]+):[^}]+\}")

# `*_created` series (a timestamp per counter and histogram series) would add a third to every scrape
# for nothing the alerts use; Prometheus takes counter resets from the values themselves.
disable_created_metrics()  # type: ignore[no-untyped-call]

RouteLabel = Callable[[str], str | None]
# Adds to the /readyz/details body before it is sent (the gateway adds the services behind it).
DetailsHook = Callable[[Request, dict[str, Any]], Awaitable[None]]


def route_template(path: str) -> str:
    """`/api/v1/plans/{plan_id:uuid}` → `/api/v1/plans/{plan_id}`."""
    return _CONVERTOR.sub(r"{\1}", path)


class Metrics:
    """The registry of one app (not the process-global one: tests build several apps in a process)."""

    def __init__(self, app: FastAPI) -> None:
        self._labels: dict[tuple[tuple[str, str], ...], str] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter(
            "emplan_http_requests",
            "HTTP requests answered, by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "emplan_http_request_duration_seconds",
            "Time from receiving a request to the end of its response body",
            ["method", "route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.sampler = Sampler(app)
        self.registry.register(_StateCollector(app, self.sampler))

    def render(self) -> bytes:
        return render_text(self.registry, self._labels)


def _go_float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _escape(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return value


def render_text(registry: CollectorRegistry, labels_cache: dict[tuple[tuple[str, str], ...], str]) -> bytes:
    """The Prometheus text format (0.0.4) of the registry, as prometheus_client's `generate_latest`
    writes it, less its per-sample validation and escaping of label *names* (ours are fixed
    identifiers): that costs most of a scrape there (tens of µs a sample). Label sets are formatted
    once and kept (the set is bounded: route templates, statuses, consumers, buckets)."""
    out: list[str] = []
    for family in registry.collect():
        name = family.name + "_total" if family.type == "counter" else family.name
        kind = "untyped" if family.type == "unknown" else family.type
        documentation = family.documentation.replace("\\", "\\\\").replace("\n", "\\n")
        out.append(f"# HELP {name} {documentation}\n# TYPE {name} {kind}\n")
        for sample in family.samples:
            if sample.labels:
                key = tuple(sample.labels.items())
                text = labels_cache.get(key)
                if text is None:
                    if len(labels_cache) > 50_000:
                        labels_cache.clear()
                    text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(sample.labels.items()))
                    labels_cache[key] = text
                out.append(f"{sample.name}{{{text}}} {_go_float(sample.value)}\n")
            else:
                out.append(f"{sample.name} {_go_float(sample.value)}\n")
    return "".join(out).encode()


class MetricsMiddleware:
    """Pure ASGI: counts and times every request by its route template. `route_label` names the
    requests no route of the app answers (the gateway's proxied ones) from their path."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, route_label: RouteLabel | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.route_label = route_label

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in NOT_COUNTED:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None)
            if path is not None:
                label = route_template(path)
            else:
                label = (self.route_label(scope["path"]) if self.route_label else None) or UNMATCHED
            method = scope["method"]
            self.metrics.requests.labels(method, label, str(status)).inc()
            self.metrics.latency.labels(method, label).observe(time.perf_counter() - started)


# ---------------------------------------------------------------------------------------------------
# The sampled state: outbox backlog and consumers (also the body of /readyz/details).


@dataclass
class ConsumerState:
    pending: int | None = None
    ack_pending: int | None = None
    redelivered: int | None = None
    dead_letters: int | None = None
    error: str | None = None


@dataclass
class State:
    sampled_at: float = 0.0
    outbox_backlog: int | None = None
    outbox_oldest_age_seconds: float | None = None
    outbox_error: str | None = None
    dead_letters_error: str | None = None
    consumers: dict[str, ConsumerState] = field(default_factory=dict)


class Sampler:
    """Keeps `latest` fresh: one background task per app, started and stopped by the app's lifespan."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.latest = State()
        self._task: asyncio.Task[None] | None = None

    def start(self, interval: float) -> None:
        self._task = asyncio.create_task(self._run(interval), name="metrics-sampler")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _run(self, interval: float) -> None:
        while True:
            try:
                await self.sample()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # pragma: no cover - sample() reports its own failures
                logger.warning("metrics sampling failed", extra={"error": repr(exc)})
            await asyncio.sleep(interval)

    async def sample(self) -> State:
        state = State(sampled_at=time.time())
        await asyncio.gather(self._sample_outbox(state), self._sample_consumers(state))
        self.latest = state
        return state

    async def _sample_outbox(self, state: State) -> None:
        outbox = self.app.state.messaging.outbox_event
        try:
            async with asyncio.timeout(2):
                async with self.app.state.engine.connect() as connection:
                    row = (
                        await connection.execute(
                            select(func.count(), func.min(outbox.c.created_at), func.now()).where(
                                outbox.c.published_at.is_(None)
                            )
                        )
                    ).one()
        except Exception as exc:
            state.outbox_error = f"unavailable: {type(exc).__name__}"
            return
        count, oldest, now = row
        state.outbox_backlog = int(count)
        state.outbox_oldest_age_seconds = (
            max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
        )

    async def _sample_consumers(self, state: State) -> None:
        runners = getattr(self.app.state, "consumers", [])
        durables = [runner.consumer.durable for runner in runners]
        state.consumers = {durable: ConsumerState() for durable in durables}
        if not durables:
            return
        broker = self.app.state.broker
        js = broker.js
        if js is None or not broker.connected:
            for consumer in state.consumers.values():
                consumer.error = "unavailable: NATS is not connected"
            return

        async def one(durable: str) -> None:
            consumer = state.consumers[durable]
            try:
                info = await js.consumer_info(EVENTS_STREAM, durable, timeout=2)
            except Exception as exc:
                consumer.error = f"unavailable: {type(exc).__name__}"
                return
            consumer.pending = int(info.num_pending or 0)
            consumer.ack_pending = int(info.num_ack_pending or 0)
            consumer.redelivered = int(info.num_redelivered or 0)

        async def dead_letters() -> None:
            try:
                async with asyncio.timeout(2):
                    info = await js.stream_info(DEAD_LETTER_STREAM, subjects_filter=DEAD_LETTER_PREFIX + ">")
            except Exception as exc:
                state.dead_letters_error = f"unavailable: {type(exc).__name__}"
                return
            counts = dict.fromkeys(durables, 0)
            for subject, count in (info.state.subjects or {}).items():
                durable = subject[len(DEAD_LETTER_PREFIX) :].split(".", 1)[0]
                if durable in counts:
                    counts[durable] += int(count)
            for durable, count in counts.items():
                state.consumers[durable].dead_letters = count

        await asyncio.gather(*(one(durable) for durable in durables), dead_letters())


class _StateCollector(Collector):
    """Renders the sampled state and this process's counters at scrape time."""

    def __init__(self, app: FastAPI, sampler: Sampler) -> None:
        self.app = app
        self.sampler = sampler

    def collect(self) -> Iterator[Any]:
        state = self.sampler.latest
        backlog = GaugeMetricFamily(
            "emplan_outbox_backlog", "Committed events in the outbox not yet published to JetStream"
        )
        oldest = GaugeMetricFamily(
            "emplan_outbox_oldest_unpublished_age_seconds",
            "Age of the oldest unpublished outbox event (0 when there is none)",
        )
        if state.outbox_backlog is not None:
            backlog.add_metric([], state.outbox_backlog)
        if state.outbox_oldest_age_seconds is not None:
            oldest.add_metric([], state.outbox_oldest_age_seconds)
        yield backlog
        yield oldest
        relay = getattr(self.app.state, "relay", None)
        published = CounterMetricFamily(
            "emplan_outbox_published", "Outbox events this process published since it started"
        )
        if relay is not None:
            published.add_metric([], relay.published_total)
        yield published

        gauges = {
            "pending": GaugeMetricFamily(
                "emplan_consumer_pending",
                "Events in the stream not yet delivered to the durable consumer (JetStream num_pending)",
                labels=["consumer"],
            ),
            "ack_pending": GaugeMetricFamily(
                "emplan_consumer_ack_pending",
                "Events delivered to the consumer and not yet acknowledged",
                labels=["consumer"],
            ),
            "redelivered": GaugeMetricFamily(
                "emplan_consumer_redelivered",
                "Events the server is redelivering to the consumer (JetStream num_redelivered)",
                labels=["consumer"],
            ),
            "dead_letters": GaugeMetricFamily(
                "emplan_dead_letters",
                "Messages held in the dead-letter stream for the consumer",
                labels=["consumer"],
            ),
        }
        for durable, consumer in state.consumers.items():
            for name, family in gauges.items():
                value = getattr(consumer, name)
                if value is not None:
                    family.add_metric([durable], value)
        yield from gauges.values()

        events = CounterMetricFamily(
            "emplan_consumer_events",
            "Events handled by this process's consumers, by outcome",
            labels=["consumer", "outcome"],
        )
        redeliveries = CounterMetricFamily(
            "emplan_consumer_redeliveries",
            "Redelivered events this process received",
            labels=["consumer"],
        )
        failures = CounterMetricFamily(
            "emplan_consumer_failures", "Handler failures (retried or dead-lettered)", labels=["consumer"]
        )
        dead_lettered = CounterMetricFamily(
            "emplan_consumer_dead_lettered",
            "Events this process gave up on and copied to the dead-letter stream",
            labels=["consumer"],
        )
        for runner in getattr(self.app.state, "consumers", []):
            durable = runner.consumer.durable
            stats = runner.consumer.stats
            for outcome in ("applied", "duplicates", "ignored"):
                events.add_metric([durable, outcome], getattr(stats, outcome))
            redeliveries.add_metric([durable], stats.redeliveries)
            failures.add_metric([durable], stats.failures)
            dead_lettered.add_metric([durable], stats.dead_lettered)
        yield events
        yield redeliveries
        yield failures
        yield dead_lettered


# ---------------------------------------------------------------------------------------------------
# Operator endpoints: /metrics and /readyz/details.


async def require_operator(request: Request) -> None:
    """Who may read /metrics and /readyz/details: the bearer of the deployment's metrics token
    (`EMPLAN_METRICS_TOKEN`, what Prometheus presents) or a signed-in system admin. An internal
    service with no metrics token configured answers anyone who can reach it (its port is on the
    private network only); the gateway (`operator_open=False`) never answers anonymously."""
    settings = request.app.state.settings
    configured = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    if configured and token and hmac.compare_digest(token.encode(), configured.encode()):
        return
    if not token:
        if configured is None and request.app.state.operator_open:
            return
        raise Unauthorized("需要监控令牌或系统管理员的访问令牌", code="token_missing")
    principal = principal_from_claims(await request.app.state.token_verifier.verify(token))
    if Role.system_admin not in principal.roles:
        raise Forbidden("仅系统管理员可查看运行指标与依赖状态", code="role_required")


router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    await require_operator(request)
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


async def service_details(request: Request) -> dict[str, Any]:
    """This service's readiness with its outbox and consumers, sampled now."""
    checks = await readiness_checks(request)
    state = await request.app.state.metrics.sampler.sample()
    settings = request.app.state.settings
    relay = getattr(request.app.state, "relay", None)
    runners = {runner.consumer.durable: runner for runner in getattr(request.app.state, "consumers", [])}
    consumers: dict[str, Any] = {}
    for durable, sampled in state.consumers.items():
        stats = asdict(runners[durable].consumer.stats) if durable in runners else {}
        consumers[durable] = {**{k: v for k, v in asdict(sampled).items() if v is not None}, "stats": stats}
    outbox: dict[str, Any] = {
        "backlog": state.outbox_backlog,
        "oldest_unpublished_age_seconds": state.outbox_oldest_age_seconds,
        "published_since_start": relay.published_total if relay is not None else None,
    }
    if state.outbox_error:
        outbox["error"] = state.outbox_error
    body: dict[str, Any] = {
        "service": settings.service_name,
        "status": "ready" if all(v == "ok" for v in checks.values()) else "not_ready",
        "checked_at": utcnow().isoformat(),
        "checks": checks,
        "outbox": outbox,
        "consumers": consumers,
    }
    if state.dead_letters_error:
        body["dead_letters_error"] = state.dead_letters_error
    return body


@router.get("/readyz/details")
async def readyz_details(request: Request) -> JSONResponse:
    await require_operator(request)
    details_hook = getattr(request.app.state, "details_hook", None)
    body = await service_details(request)
    if details_hook is not None:
        await details_hook(request, body)
    return JSONResponse(body, status_code=200 if body["status"] == "ready" else 503)
