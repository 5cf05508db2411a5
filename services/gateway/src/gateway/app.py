from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.middleware import Middleware

from emplan_shared.app import create_service_app
from emplan_shared.audit.router import audit_router
from gateway.accounts.endpoints import router as accounts_router
from gateway.database import audit_log, messaging
from gateway.docs import mount_docs
from gateway.edge import Edge
from gateway.openapi import OpenApiCache
from gateway.proxy import ProxyMiddleware
from gateway.revocation import revocation
from gateway.routing import route_label
from gateway.settings import Settings
from gateway.tokens.endpoints import router as tokens_router
from gateway.tokens.signer import TokenSigner
from gateway.upstreams import http_client, services_details, services_ready

# Response headers a cross-origin script may read: request id, ETag for If-Match, new object's URL,
# rate-limit wait, download file name.
CORS_EXPOSED_HEADERS = ["X-Request-Id", "ETag", "Location", "Retry-After", "Content-Disposition"]


def cors_options(settings: Settings) -> dict[str, Any]:
    """CORSMiddleware's arguments, for the app and for the gateway's short path (gateway.edge)."""
    return {
        "allow_origins": settings.cors_origins,
        "allow_methods": settings.cors_methods,
        "allow_headers": settings.cors_headers,
        "expose_headers": CORS_EXPOSED_HEADERS,
        "max_age": settings.cors_max_age,
    }


@contextlib.asynccontextmanager
async def openapi_cache(app: FastAPI) -> AsyncIterator[None]:
    app.state.openapi_cache = OpenApiCache(app.state.http_client, app.state.settings.upstreams())
    yield


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = create_service_app(
        settings=settings,
        title="emplan API",
        description=(
            "emplan：应急管理“十四五”规划的导入、指标计算、任务分工、进展报送与评估。"
            "所有接口经由本网关访问；错误以 application/problem+json 返回。"
        ),
        routers=[tokens_router, accounts_router, audit_router("auth", audit_log, tag="accounts")],
        messaging=messaging,
        openapi_tags=[
            {"name": "auth", "description": "令牌签发与当前用户"},
            {"name": "accounts", "description": "人员账号与机器客户端的管理（限管辖范围内），及其审计记录"},
        ],
        readiness_checks=[services_ready],
        lifespans=[http_client, openapi_cache, revocation],
        # Inside the request-id and body-limit middleware, so proxied requests get both.
        middleware=[
            Middleware(
                ProxyMiddleware,
                upstreams=settings.upstreams(),
                response_timeout=settings.upstream_read_timeout,
            )
        ],
        # Served by gateway.docs instead: the gateway's own document merged with every service's.
        openapi_url=None,
        # The public port: /metrics and /readyz/details need the metrics token or a system admin.
        operator_open=False,
        metrics_route_label=route_label,
        details_hook=services_details,
    )
    if settings.cors_origins:
        # Outermost, so preflights are answered here and never reach a service. Tokens travel in the
        # Authorization header, not cookies: no credentials mode.
        app.add_middleware(CORSMiddleware, **cors_options(settings))
    app.state.token_signer = (
        TokenSigner(settings.jwt_private_key_file, issuer=settings.jwt_issuer, audience=settings.jwt_audience)
        if settings.jwt_private_key_file is not None
        else None
    )
    mount_docs(app)
    return app


def create_edge(settings: Settings | None = None) -> Edge:
    """The app the gateway's server runs (`python -m gateway serve`): `create_app` behind the short
    path for proxied requests (gateway.edge)."""
    app = create_app(settings)
    return Edge(app, cors=cors_options(app.state.settings) if app.state.settings.cors_origins else None)
