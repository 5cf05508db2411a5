"""The services behind the gateway: one pooled HTTP client, and their readiness for `/readyz`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
from fastapi import FastAPI, Request

from gateway.settings import Settings


@contextlib.asynccontextmanager
async def http_client(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    timeout = httpx.Timeout(
        connect=settings.upstream_connect_timeout, read=settings.upstream_read_timeout, write=30.0, pool=5.0
    )
    limits = httpx.Limits(max_connections=20, keepalive_expiry=30)
    connector = aiohttp.TCPConnector(limit=200, keepalive_timeout=60)
    proxy_session = aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None, connect=settings.upstream_connect_timeout, sock_read=None),
        # The proxy passes bodies and headers as they are: no decompression, cookies or added headers.
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept"),
    )
    try:
        # httpx for the gateway's own calls (readiness, OpenAPI); aiohttp for the hot proxy path.
        async with httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False) as client:
            app.state.http_client = client
            app.state.proxy_session = proxy_session
            yield
    finally:
        await proxy_session.close()


async def services_ready(request: Request) -> dict[str, str]:
    """Each service's own `/readyz`: the gateway is ready only when all of them are."""
    settings: Settings = request.app.state.settings
    client: httpx.AsyncClient = request.app.state.http_client

    async def check(url: str) -> str:
        try:
            response = await client.get(f"{url}/readyz", timeout=2)
        except httpx.HTTPError as exc:
            return f"unavailable: {type(exc).__name__}"
        return "ok" if response.status_code == 200 else f"not ready ({response.status_code})"

    upstreams = settings.upstreams()
    results = await asyncio.gather(*(check(url) for url in upstreams.values()))
    return dict(zip(upstreams, results, strict=True))


async def services_details(request: Request, body: dict[str, Any]) -> None:
    """`/readyz/details` at the gateway: each service's own details under `services`, fetched side by
    side with the deployment's metrics token; the gateway is ready only when all of them are."""
    settings: Settings = request.app.state.settings
    client: httpx.AsyncClient = request.app.state.http_client
    headers = (
        {"Authorization": f"Bearer {settings.metrics_token.get_secret_value()}"}
        if settings.metrics_token
        else {}
    )

    async def fetch(url: str) -> dict[str, Any]:
        try:
            response = await client.get(f"{url}/readyz/details", headers=headers, timeout=3)
        except httpx.HTTPError as exc:
            return {"status": "unavailable", "error": type(exc).__name__}
        if response.status_code not in (200, 503):
            return {"status": "unavailable", "error": f"HTTP {response.status_code}"}
        details: dict[str, Any] = response.json()
        return details

    upstreams = settings.upstreams()
    results = await asyncio.gather(*(fetch(url) for url in upstreams.values()))
    body["services"] = dict(zip(upstreams, results, strict=True))
    if any(result.get("status") != "ready" for result in results):
        body["status"] = "not_ready"
