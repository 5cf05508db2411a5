"""What the gateway's server runs: proxied requests take a short path, everything else the app.

A request for a service (`/api/v1/<prefix>/…`) needs the request id, the access log line, the
body limit, the metrics, the token check and the proxy, and nothing else of FastAPI: its exception
middleware, its router and its dependencies answer none of them. Passing them through the app's
whole stack cost about 0.5 ms of CPU a request on two cores, on the path whose overhead is a
target of its own (issue 2: < 1 ms added; `bench/gateway_overhead.py`). So the server's app is
this dispatcher: the same middleware classes, in the same order, around the same proxy, built once
from the app's state, and the app itself for the gateway's own endpoints and the lifespan.
`create_app` keeps the proxy inside its own stack too, so an app driven in-process (tests) routes
the same way.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from emplan_shared.metrics import MetricsMiddleware
from emplan_shared.middleware import BodyLimitMiddleware, RequestContextMiddleware
from gateway.proxy import ProxyMiddleware
from gateway.routing import route_label, service_for
from gateway.settings import Settings


class Edge:
    def __init__(self, app: FastAPI, *, cors: dict[str, Any] | None) -> None:
        """`cors`: CORSMiddleware's arguments when the deployment allows other origins (the same
        the app's own stack uses, `gateway.app.cors_options`)."""
        self.app = app
        settings: Settings = app.state.settings
        chain: ASGIApp = ProxyMiddleware(
            app, upstreams=settings.upstreams(), response_timeout=settings.upstream_read_timeout
        )
        chain = MetricsMiddleware(chain, metrics=app.state.metrics, route_label=route_label)
        chain = BodyLimitMiddleware(chain, max_body_bytes=settings.max_body_bytes)
        chain = RequestContextMiddleware(chain)
        if cors is not None:
            chain = CORSMiddleware(chain, **cors)
        self.proxied = chain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and service_for(scope["path"]) is not None:
            # The proxy finds its client session and token verifier in the app's state.
            scope["app"] = self.app
            await self.proxied(scope, receive, send)
            return
        await self.app(scope, receive, send)
