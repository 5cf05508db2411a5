"""Pure ASGI middleware shared by every service and the gateway: request id, access log, body limit.

Pure ASGI rather than BaseHTTPMiddleware, so request and response bodies keep streaming.
"""

from __future__ import annotations

import logging
import time

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emplan_shared.context import REQUEST_ID_HEADER, accept_request_id, request_id_var
from emplan_shared.errors import problem_response

access_logger = logging.getLogger("emplan.access")
logger = logging.getLogger(__name__)


class RequestContextMiddleware:
    """Adopts or creates the request id, returns it in `X-Request-Id`, and logs one line a request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = accept_request_id(headers.get(REQUEST_ID_HEADER))
        token = request_id_var.set(request_id)
        # Downstream code (proxying, outgoing calls) reads the header; make it the adopted one.
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k != REQUEST_ID_HEADER.encode()] + [
            (REQUEST_ID_HEADER.encode(), request_id.encode())
        ]
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        response_started = False

        async def send_tracking(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send_with_id(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception:
            # Rendered here, inside the request's context, so the 500 carries its request id too.
            logger.exception("unhandled error", extra={"path": scope.get("path")})
            if not response_started:
                response = problem_response(
                    status=500,
                    code="internal_error",
                    detail="服务器内部错误，请凭请求编号联系管理员",
                    instance=scope.get("path"),
                )
                await response(scope, receive, send_with_id)
        finally:
            if scope.get("path") not in ("/healthz", "/readyz", "/metrics"):
                access_logger.info(
                    "request",
                    extra={
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "status": status_holder["status"],
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
            request_id_var.reset(token)


class BodyLimitMiddleware:
    """Refuses bodies over the limit with 413 problem+json, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        response_started = False
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # Answer now: the app may swallow an exception raised while it reads the body.
                    refused = True
                    if not response_started:
                        await self._refuse(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if refused:
                return  # the 413 has been sent; whatever the app answers after is dropped
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not refused:
                raise

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit_mb = self.max_body_bytes / (1024 * 1024)
        response = problem_response(
            status=413,
            code="payload_too_large",
            detail=f"请求体超过 {limit_mb:g} MB 的上限",
            instance=scope.get("path"),
        )
        await response(scope, receive, send)
