"""One error base for every expected failure, rendered as RFC 9457 problem+json.

Services raise `EmplanError` subclasses with a stable English `code` and a Chinese `detail`; the
handlers installed by `install_error_handlers` turn those, FastAPI's validation errors and
Starlette's routing errors into the same body shape, so a client handles every failure one way.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from emplan_shared.context import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"

logger = logging.getLogger(__name__)


class ProblemItem(BaseModel):
    """One thing wrong with the input: the field (dotted path) or document line at fault."""

    field: str | None = Field(None, description="dotted path of the field at fault, e.g. `body.period.start`")
    line: int | None = Field(None, description="1-based line of the uploaded document at fault")
    code: str | None = Field(None, description="stable code of this item")
    detail: str = Field(description="what is wrong, in Chinese")


class Problem(BaseModel):
    """An RFC 9457 problem document, the body of every error response."""

    type: str = Field(description="URI naming the problem kind: `urn:emplan:problem:<code>`")
    title: str = Field(description="short summary of the problem kind")
    status: int = Field(description="HTTP status code")
    code: str = Field(description="stable machine-readable code", examples=["not_found"])
    detail: str = Field(description="what went wrong, in Chinese")
    instance: str | None = Field(None, description="the request path")
    request_id: str | None = Field(None, description="request id, for the logs")
    errors: list[ProblemItem] = Field(default_factory=list, description="the fields or lines at fault")


@dataclass(frozen=True)
class RefusedRegion:
    """A region a request named (a parameter, a body field) outside the caller's jurisdiction.

    Carried by the error that refuses it, whatever its status (404 for a filter, 422 or 403 for a
    body field), so the one error handler tells the service's audit trail
    (`emplan_shared.audit.refusals.RegionRefusalAuditor`) and no endpoint records it by hand."""

    region_code: str
    field: str | None


class EmplanError(Exception):
    """An expected failure with a status, a stable code and a Chinese detail."""

    status_code: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        errors: Sequence[ProblemItem] = (),
        headers: dict[str, str] | None = None,
        refused_region: RefusedRegion | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.errors = list(errors)
        self.headers = headers or {}
        self.refused_region = refused_region


class BadRequest(EmplanError):
    status_code, code = 400, "bad_request"


class Unauthorized(EmplanError):
    status_code, code = 401, "unauthorized"

    def __init__(self, detail: str = "需要有效的访问令牌", *, code: str | None = None) -> None:
        super().__init__(detail, code=code, headers={"WWW-Authenticate": 'Bearer realm="emplan"'})


class Forbidden(EmplanError):
    status_code, code = 403, "forbidden"


class NotFound(EmplanError):
    status_code, code = 404, "not_found"


class Conflict(EmplanError):
    status_code, code = 409, "conflict"


class PreconditionFailed(EmplanError):
    status_code, code = 412, "precondition_failed"


class PreconditionRequired(EmplanError):
    """428: an edit without If-Match (RFC 6585), so nobody overwrites a change they never read."""

    status_code, code = 428, "precondition_required"


class PayloadTooLarge(EmplanError):
    status_code, code = 413, "payload_too_large"


class UnprocessableEntity(EmplanError):
    status_code, code = 422, "validation_failed"


class ServiceUnavailable(EmplanError):
    status_code, code = 503, "service_unavailable"


def problem_response(
    *,
    status: int,
    code: str,
    detail: str,
    instance: str | None = None,
    errors: Sequence[ProblemItem] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    problem = Problem(
        type=f"urn:emplan:problem:{code}",
        title=_title(status),
        status=status,
        code=code,
        detail=detail,
        instance=instance,
        request_id=current_request_id(),
        errors=list(errors),
    )
    return JSONResponse(
        problem.model_dump(mode="json"), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# Chinese wording for the pydantic error types clients meet most; the rest fall back to a generic line.
_PYDANTIC_MESSAGES = {
    "missing": "缺少必填字段",
    "json_invalid": "JSON 格式错误",
    "string_type": "应为字符串",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "decimal_parsing": "应为数值",
    "float_parsing": "应为数值",
    "bool_parsing": "应为布尔值",
    "date_from_datetime_parsing": "应为日期（YYYY-MM-DD）",
    "date_parsing": "应为日期（YYYY-MM-DD）",
    "datetime_parsing": "应为日期时间（ISO 8601）",
    "enum": "取值不在允许范围内",
    "literal_error": "取值不在允许范围内",
    "string_too_short": "字符串过短",
    "string_too_long": "字符串过长",
    "greater_than_equal": "数值过小",
    "less_than_equal": "数值过大",
    "greater_than": "数值过小",
    "less_than": "数值过大",
    "extra_forbidden": "不允许的字段",
    "model_attributes_type": "应为对象",
    "dict_type": "应为对象",
    "list_type": "应为数组",
    "uuid_parsing": "应为 UUID",
    "string_pattern_mismatch": "格式不正确",
    "value_error": "取值无效",
}


def _validation_items(errors: Sequence[Any]) -> list[ProblemItem]:
    items = []
    for error in errors:
        loc = ".".join(str(part) for part in error.get("loc", ()))
        kind = str(error.get("type", ""))
        detail = _PYDANTIC_MESSAGES.get(kind, "取值无效")
        context = error.get("ctx") or {}
        if kind == "value_error" and "error" in context:
            detail = str(context["error"])
        items.append(ProblemItem(field=loc or None, code=kind or None, detail=detail))
    return items


# Set on `app.state.on_region_refused` (by `audit_refusals`, and the gateway's revocation lifespan):
# told of every error that refuses a region outside the jurisdiction, before the problem is sent.
RegionRefusalHook = Callable[[Request, EmplanError], Awaitable[None]]


async def _tell_region_refused(request: Request, exc: EmplanError) -> None:
    hook: RegionRefusalHook | None = getattr(request.app.state, "on_region_refused", None)
    if hook is None:
        return
    try:
        await hook(request, exc)
    except Exception as error:  # the refusal is the answer; a failing trail must not make it a 500
        logger.warning("could not tell the audit trail of a refused region", extra={"error": repr(error)})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(EmplanError)
    async def _emplan_error(request: Request, exc: EmplanError) -> JSONResponse:
        if exc.refused_region is not None:
            await _tell_region_refused(request, exc)
        return problem_response(
            status=exc.status_code,
            code=exc.code,
            detail=exc.detail,
            instance=request.url.path,
            errors=exc.errors,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return problem_response(
                status=400,
                code="malformed_json",
                detail="请求体不是合法的 JSON",
                instance=request.url.path,
                errors=_validation_items(errors),
            )
        return problem_response(
            status=422,
            code="validation_failed",
            detail="请求数据未通过校验",
            instance=request.url.path,
            errors=_validation_items(errors),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers) if exc.headers else {}
        if exc.status_code == 405:
            # Starlette names only the first matching route's methods; a path often has several.
            headers["Allow"] = ", ".join(_allowed_methods(request))
        code, detail = {
            404: ("route_not_found", "请求的路径不存在"),
            405: ("method_not_allowed", "该路径不支持此请求方法"),
            413: ("payload_too_large", "请求体超过大小限制"),
        }.get(exc.status_code, ("http_error", str(exc.detail)))
        return problem_response(
            status=exc.status_code,
            code=code,
            detail=detail,
            instance=request.url.path,
            headers=headers or None,
        )


def _allowed_methods(request: Request) -> list[str]:
    from starlette.routing import Match, Route

    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches({"type": "http", "path": request.url.path, "method": ""})
            if match != Match.NONE:
                methods |= route.methods
    return sorted(methods)


# Declared on routes (`responses=PROBLEM_RESPONSES`) so the OpenAPI document names the error body.
def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "model": Problem,
            "description": _title(status),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
