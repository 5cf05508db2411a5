"""The routing hop: requests under a service's prefix are streamed to it and its answer streamed back.

Pure ASGI on a pooled HTTP/1.1 client: bodies are never buffered whole, status codes and headers
pass through (less the hop-by-hop ones), the request id travels on, and a service that is down or
slow is answered 502 or 504 as problem+json.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emplan_shared.auth import TokenVerifier
from emplan_shared.errors import EmplanError, problem_response
from gateway.routing import service_for

logger = logging.getLogger(__name__)

# RFC 9110 §7.6.1: connection-specific headers are not forwarded; host is set for the upstream.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
    }
)


class ProxyMiddleware:
    def __init__(self, app: ASGIApp, *, upstreams: dict[str, str]) -> None:
        self.app = app
        self.upstreams = upstreams
        self.client: httpx.AsyncClient | None = None
        self.verifier: TokenVerifier | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        service = service_for(scope["path"]) if scope["type"] == "http" else None
        if service is None:
            await self.app(scope, receive, send)
            return
        if self.client is None:
            # Created in the lifespan, after the middleware stack; Starlette puts the app in the scope.
            self.client = scope["app"].state.http_client
            self.verifier = scope["app"].state.token_verifier
        try:
            await self._authenticate(scope)
        except EmplanError as exc:
            await problem_response(
                status=exc.status_code, code=exc.code, detail=exc.detail, instance=scope["path"], headers=exc.headers
            )(scope, receive, send)
            return
        await self._forward(service, scope, receive, send)

    async def _authenticate(self, scope: Scope) -> None:
        """Refuse a bad token at the edge; a missing one is the service's call (some reads are public)."""
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and token.strip():
                    assert self.verifier is not None
                    await self.verifier.verify(token.strip())
                return

    async def _forward(self, service: str, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.client is not None
        base = self.upstreams[service]
        query = scope.get("query_string", b"")
        url = base + scope["raw_path"].decode("latin-1") if scope.get("raw_path") else base + scope["path"]
        if query:
            url += "?" + query.decode("latin-1")
        headers = [(k, v) for k, v in scope["headers"] if k not in HOP_BY_HOP]
        client_addr = scope.get("client")
        if client_addr:
            headers.append((b"x-forwarded-for", client_addr[0].encode()))
        headers.append((b"x-forwarded-proto", scope.get("scheme", "http").encode()))
        has_body = scope["method"] not in ("GET", "HEAD", "OPTIONS", "DELETE") or any(
            k in (b"content-length", b"transfer-encoding") for k, _ in scope["headers"]
        )
        request = self.client.build_request(
            scope["method"], url, headers=headers, content=_request_body(receive) if has_body else None
        )
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TimeoutException:
            logger.warning("service timed out", extra={"service": service})
            await problem_response(
                status=504, code="upstream_timeout", detail=f"服务 {service} 响应超时", instance=scope["path"]
            )(scope, receive, send)
            return
        except httpx.TransportError as exc:
            logger.warning("service unreachable", extra={"service": service, "error": repr(exc)})
            await problem_response(
                status=502, code="upstream_unavailable", detail=f"服务 {service} 暂不可用", instance=scope["path"]
            )(scope, receive, send)
            return
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": [(k, v) for k, v in response.headers.raw if k.lower() not in HOP_BY_HOP],
                }
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except httpx.TransportError as exc:
            # Headers are out already; all we can do is end the response early.
            logger.warning("service broke off its response", extra={"service": service, "error": repr(exc)})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()


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
