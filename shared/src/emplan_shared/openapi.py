"""Every operation's OpenAPI entry declares the problem+json errors it can answer with.

FastAPI documents its own 422 as `application/json` with its HTTPValidationError schema; emplan
answers every error as `application/problem+json` with the `Problem` schema. This rewrites the
generated document once so that what it says is what the service does, for client generators and
for schemathesis alike.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from emplan_shared.errors import PROBLEM_MEDIA_TYPE, Problem, ProblemItem

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# What any operation can answer, whatever it does: bad JSON, a token problem, a body over the limit,
# a payload that fails validation, an unexpected failure.
COMMON_ERRORS = (400, 401, 413, 422, 500)
BODYLESS_METHODS = {"get", "delete", "head", "options"}


def _problem_response(status: int) -> dict[str, Any]:
    return {
        "description": HTTPStatus(status).phrase,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}},
    }


def problem_aware_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=app.servers,
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas["Problem"].pop("$defs", None)
    schemas["ProblemItem"] = ProblemItem.model_json_schema()
    schemas["Problem"]["properties"]["errors"]["items"] = {"$ref": "#/components/schemas/ProblemItem"}
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method not in {"get", "put", "post", "patch", "delete", "head", "options"}:
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            for status in COMMON_ERRORS:
                if status in (400, 413) and method in BODYLESS_METHODS and "requestBody" not in operation:
                    continue
                responses.setdefault(str(status), _problem_response(status))
            for code, response in responses.items():
                if code.isdigit() and int(code) >= 400:
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    app.openapi_schema = document
    return document


def install_problem_openapi(app: FastAPI) -> None:
    app.openapi = lambda: problem_aware_openapi(app)  # type: ignore[method-assign]
