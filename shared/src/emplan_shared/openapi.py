"""Every service's OpenAPI document, made fit for client generators in one place.

FastAPI documents its own 422 as `application/json` with its HTTPValidationError schema; emplan
answers every error as `application/problem+json` with the `Problem` schema. This rewrites the
generated document once so that what it says is what the service does, for client generators and
for schemathesis alike. It also gives the schemas FastAPI names mechanically (`Body_importPlanDocument`,
`Page_PlanSummary_`) names a generated client can use (`ImportPlanDocumentRequest`, `PlanSummaryPage`),
and operations without an explicit `operation_id` a camelCase one from their function's name.
tests/e2e/test_openapi_contract.py checks the merged document for all of this.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from emplan_shared.errors import PROBLEM_MEDIA_TYPE, Problem, ProblemItem

SCHEMA_PREFIX = "#/components/schemas/"
PROBLEM_REF = {"$ref": SCHEMA_PREFIX + "Problem"}
# What any operation can answer, whatever it does: bad JSON, a token problem, a body over the limit,
# a payload that fails validation, an unexpected failure.
COMMON_ERRORS = (400, 401, 413, 422, 500)
BODYLESS_METHODS = {"get", "delete", "head", "options"}
HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}
# Tags that routers from this package give operations in every service.
SHARED_TAGS = {
    "audit": "审计记录：谁在何时改了什么（改动前后的内容）",
    "exchange": "与省级平台的数据交换：按管辖范围以游标增量拉取",
}


def camel_case_operation_id(route: APIRoute) -> str:
    """`list_plan_versions` → `listPlanVersions`: FastAPI's default (`list_plan_versions_api_v1_…_get`)
    makes clumsy method names in generated clients. Explicit `operation_id`s take precedence."""
    head, *rest = route.name.strip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _schema_renames(schemas: dict[str, Any]) -> dict[str, str]:
    renames: dict[str, str] = {}
    for name in schemas:
        if name.startswith("Body_"):
            operation = name.removeprefix("Body_")
            renames[name] = operation[:1].upper() + operation[1:] + "Request"
        elif (page := re.fullmatch(r"Page_(\w+)_", name)) is not None:
            renames[name] = page.group(1) + "Page"
    return {old: new for old, new in renames.items() if new not in schemas}


def rename_schema_refs(node: Any, renames: dict[str, str]) -> Any:
    """`node` with every `$ref` to a component schema in `renames` pointing at its new name."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(SCHEMA_PREFIX):
                name = value.removeprefix(SCHEMA_PREFIX)
                out[key] = SCHEMA_PREFIX + renames.get(name, name)
            else:
                out[key] = rename_schema_refs(value, renames)
        return out
    if isinstance(node, list):
        return [rename_schema_refs(item, renames) for item in node]
    return node


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
    declared = {tag["name"] for tag in document.get("tags", [])}
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            for tag in operation.get("tags", []):
                if tag not in declared and tag in SHARED_TAGS:
                    document.setdefault("tags", []).append({"name": tag, "description": SHARED_TAGS[tag]})
                    declared.add(tag)
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
    renames = _schema_renames(schemas)
    if renames:
        document = rename_schema_refs(document, renames)
        document["components"]["schemas"] = {
            renames.get(name, name): schema for name, schema in document["components"]["schemas"].items()
        }
        for new in renames.values():
            document["components"]["schemas"][new]["title"] = new
    app.openapi_schema = document
    return document


def install_problem_openapi(app: FastAPI) -> None:
    app.openapi = lambda: problem_aware_openapi(app)  # type: ignore[method-assign]
