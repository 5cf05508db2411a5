"""The routing hop: requests under a service's prefix are streamed to it and its answer streamed back.

Pure ASGI on a pooled aiohttp client (measured against httpx and Caddy in
bench/gateway_overhead.py; see docs/decisions.md): bodies are never buffered whole, status codes and
headers pass through (less the hop-by-hop ones), the request id travels on, a bad token is refused
here, and a service that is down or slow is answered 502 or 504 as problem+json.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from yarl import URL

from emplan_shared.auth import TokenVerifier
from emplan_shared.errors import EmplanError, problem_response
from gateway.routing import service_for

logger = logging.getLogger(__name__)

# RFC 9110 §7.6.1: connection-specific headers are not forwarded; host is set for the upstream.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)
# Bodies up to this size with a known length are relayed in one send; larger ones stream.
SMALL_BODY = 64 * 1024


class ProxyMiddleware:
    def __init__(self, app: ASGIApp, *, upstreams: dict[str, str], response_timeout: float) -> None:
        self.app = app
        self.upstreams = upstreams
        self.response_timeout = response_timeout
        self.session: aiohttp.ClientSession | None = None
        self.verifier: TokenVerifier | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        service = service_for(scope["path"]) if scope["type"] == "http" else None
        if service is None:
            await self.app(scope, receive, send)
            return
        if self.session is None:
            # Created in the lifespan, after the middleware stack; Starlette puts the app in the scope.
            self.session = scope["app"].state.proxy_session
            self.verifier = scope["app"].state.token_verifier
        try:
            await self._authenticate(scope)
        except EmplanError as exc:
            await problem_response(
                status=exc.status_code,
                code=exc.code,
                detail=exc.detail,
                instance=scope["path"],
                headers=exc.headers,
            )(scope, receive, send)
            return
        await self._forward(service, scope, receive, send)

    async def _authenticate(self, scope: Scope) -> None:
        """Refuse a bad token at the edge; a missing one is the service's call (some reads are public).
        Each service verifies the token again: a call that bypasses the gateway gains nothing."""
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and token.strip():
                    assert self.verifier is not None
                    await self.verifier.verify(token.strip())
                return

    async def _forward(self, service: str, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.session is not None
        target = self.upstreams[service] + (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k.decode("latin-1") not in HOP_BY_HOP
        ]
        if scope.get("client"):
            headers.append(("x-forwarded-for", scope["client"][0]))
        headers.append(("x-forwarded-proto", scope.get("scheme", "http")))
        body = _request_body(receive) if _has_body(scope) else None
        try:
            async with asyncio.timeout(self.response_timeout):
                response = await self.session.request(
                    scope["method"],
                    URL(target, encoded=True),
                    headers=headers,
                    data=body,
                    allow_redirects=False,
                )
        except TimeoutError:
            logger.warning("service timed out", extra={"service": service})
            await _problem(scope, receive, send, 504, "upstream_timeout", f"服务 {service} 响应超时")
            return
        except (aiohttp.ClientError, OSError) as exc:
            logger.warning("service unreachable", extra={"service": service, "error": repr(exc)})
            await _problem(scope, receive, send, 502, "upstream_unavailable", f"服务 {service} 暂不可用")
            return
        try:
            response_headers = [
                (k.lower(), v)
                for k, v in response.raw_headers
                if k.decode("latin-1").lower() not in HOP_BY_HOP
            ]
            if response.content_length is not None and response.content_length <= SMALL_BODY:
                data = await response.read()
                await send(
                    {"type": "http.response.start", "status": response.status, "headers": response_headers}
                )
                await send({"type": "http.response.body", "body": data})
                return
            await send(
                {"type": "http.response.start", "status": response.status, "headers": response_headers}
            )
            async for chunk in response.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except (aiohttp.ClientError, OSError) as exc:
            # Headers may be out already; all that is left is to end the response early.
            logger.warning("service broke off its response", extra={"service": service, "error": repr(exc)})
            await send({"type": "http.response.body", "body": b""})
        finally:
            response.release()


def _has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return True
    return False


async def _problem(scope: Scope, receive: Receive, send: Send, status: int, code: str, detail: str) -> None:
    await problem_response(status=status, code=code, detail=detail, instance=scope["path"])(
        scope, receive, send
    )


async def _request_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return
        body = message.get("body", b"")
        if body:
            yield body
        if not message.get("more_body", False):
            return
