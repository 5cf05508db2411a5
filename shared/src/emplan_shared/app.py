"""The app factory every service uses, so all five are wired the same way.

Engines, the NATS connection, the outbox relay and the consumers are created in the lifespan, never
at import, and closed in reverse order.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.middleware import Middleware

from emplan_shared import health, metrics
from emplan_shared.auth import TokenVerifier
from emplan_shared.db import create_engine, create_sessionmaker
from emplan_shared.errors import install_error_handlers
from emplan_shared.logging import configure_logging
from emplan_shared.messaging.broker import Broker
from emplan_shared.messaging.consumer import Consumer, ConsumerRunner
from emplan_shared.messaging.outbox import OutboxRelay
from emplan_shared.messaging.tables import MessagingTables
from emplan_shared.middleware import BodyLimitMiddleware, RequestContextMiddleware
from emplan_shared.openapi import camel_case_operation_id, install_problem_openapi
from emplan_shared.revocation_feed import RevocationFeed
from emplan_shared.settings import ServiceSettings


def create_service_app(
    *,
    settings: ServiceSettings,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    messaging: MessagingTables,
    consumers: Sequence[Consumer] = (),
    openapi_tags: list[dict[str, Any]] | None = None,
    readiness_checks: Sequence[health.ReadinessCheck] = (),
    middleware: Sequence[Middleware] = (),
    lifespans: Sequence[Callable[[FastAPI], AbstractAsyncContextManager[None]]] = (),
    version: str = "0.1.0",
    openapi_url: str | None = "/openapi.json",
    operator_open: bool = True,
    metrics_route_label: metrics.RouteLabel | None = None,
    details_hook: metrics.DetailsHook | None = None,
) -> FastAPI:
    """A service app. `middleware` runs inside the shared request-id and body-limit middleware;
    `lifespans` run after the shared resources are up and stop before they close.

    Every app serves `/metrics` and `/readyz/details` (emplan_shared.metrics): `operator_open=False`
    (the gateway, on the public port) refuses them to anonymous callers even without a metrics token;
    `metrics_route_label` labels the requests no route answers (the gateway's proxied ones);
    `details_hook` adds to the details body (the gateway adds every service's)."""
    configure_logging(settings.service_name, settings.log_level, settings.log_format)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(
            settings.async_database_url,
            pool_size=settings.db_pool_size,
            application_name=settings.service_name,
        )
        sessionmaker = create_sessionmaker(engine)
        broker = Broker(
            settings.nats_url, name=settings.service_name, stream_replicas=settings.nats_stream_replicas
        )
        relay = OutboxRelay(engine=engine, outbox=messaging.outbox_event, broker=broker)
        runners = [
            ConsumerRunner(
                consumer=consumer,
                broker=broker,
                sessionmaker=sessionmaker,
                processed_event=messaging.processed_event,
            )
            for consumer in consumers
        ]
        app.state.engine = engine
        app.state.sessionmaker = sessionmaker
        app.state.broker = broker
        app.state.relay = relay
        app.state.consumers = runners
        # Revoked tokens, heard from the gateway, so this service refuses them too.
        revocation_feed = RevocationFeed(broker, app.state.token_verifier.revocations)
        app.state.revocation_feed = revocation_feed
        broker.start()
        revocation_feed.start()
        relay.start()
        for runner in runners:
            runner.start()
        app.state.metrics.sampler.start(settings.metrics_sample_seconds)
        try:
            async with contextlib.AsyncExitStack() as extras:
                for extra in lifespans:
                    await extras.enter_async_context(extra(app))
                yield
        finally:
            await app.state.metrics.sampler.stop()
            for runner in runners:
                await runner.stop()
            await relay.stop()
            await revocation_feed.stop()
            await broker.close()
            await engine.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        openapi_tags=openapi_tags,
        openapi_url=openapi_url,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=camel_case_operation_id,
    )
    app.state.settings = settings
    app.state.messaging = messaging
    app.state.token_verifier = TokenVerifier(settings)
    app.state.readiness_checks = list(readiness_checks)
    app.state.metrics = metrics.Metrics(app)
    app.state.operator_open = operator_open
    app.state.details_hook = details_hook
    install_error_handlers(app)
    install_problem_openapi(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    for router in routers:
        app.include_router(router)
    for item in reversed(middleware):
        app.add_middleware(item.cls, *item.args, **item.kwargs)
    # Outside the apps' own middleware (the gateway's proxy), so proxied requests are counted too.
    app.add_middleware(metrics.MetricsMiddleware, metrics=app.state.metrics, route_label=metrics_route_label)
    # Added last so it runs first: the body limit and request id wrap everything, errors included.
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    return app
