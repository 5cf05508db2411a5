"""The merged OpenAPI document is something a front-end team generates a client from without hand fixes.

Checked over the document the gateway serves, so an endpoint added anywhere is held to the same rules:
meaningful unique operationIds, declared tags, named schemas (no anonymous objects), problem+json on
every error, examples on the main objects that match their schemas, enums for every status. Then the
proof: openapi-typescript generates a client from it and `tsc` type-checks clients/typescript/src,
a small program doing the main workflows (list plans, import a document, read a target's status,
report task progress).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from emplan_tools.stack import Stack

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CLIENT_DIR = ROOT / "clients" / "typescript"
METHODS = ("get", "put", "post", "patch", "delete")
SCHEMA_PREFIX = "#/components/schemas/"
# The objects a front-end shows most; each must carry an example that validates against its schema.
MAIN_OBJECTS = {
    "PlanSummary": "plan",
    "TargetRead": "target",
    "DataValueRead": "data value",
    "TaskRead": "task",
    "ReportRead": "progress report",
    "RoundRead": "evaluation round",
}
# Properties and parameters whose values are a closed set of states.
STATUS_NAME = re.compile(r"(^|_)(status|state|light|verdict)$")
# Request and response bodies that are not JSON objects: files and rendered reports.
BINARY_TYPES = re.compile(r"^(application/(octet-stream|pdf|vnd\..*)|text/(html|csv|plain)|image/.*)$")


@pytest.fixture(scope="module")
def document(system: Stack) -> dict[str, Any]:
    response = httpx.get(f"{system.gateway_url}/openapi.json", timeout=30)
    assert response.status_code == 200
    assert "emplan-missing-services" not in response.headers, "a service's document is missing"
    return response.json()  # type: ignore[no-any-return]


def operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


def test_operation_ids_are_unique_camel_case_names(document: dict[str, Any]) -> None:
    seen: dict[str, str] = {}
    bad = []
    for where, op in operations(document):
        operation_id = op.get("operationId", "")
        # FastAPI's default (`list_plans_api_v1_plans_get`) has underscores and fails here.
        if not re.fullmatch(r"[a-z][a-z0-9]*([A-Z][a-z0-9]*)+|[a-z][a-z0-9]+", operation_id):
            bad.append(f"{where}: {operation_id!r}")
        if operation_id in seen:
            bad.append(f"{where}: {operation_id!r} also names {seen[operation_id]}")
        seen[operation_id] = where
    assert not bad, "operationIds that make poor client method names:\n" + "\n".join(bad)
    assert len(seen) > 100


def test_every_operation_has_a_declared_described_tag(document: dict[str, Any]) -> None:
    declared = {tag["name"]: tag.get("description", "") for tag in document["tags"]}
    assert len(declared) == len(document["tags"]), "a tag is declared twice"
    bad = []
    for where, op in operations(document):
        if not op.get("tags"):
            bad.append(f"{where}: no tag")
        for tag in op.get("tags", []):
            if not declared.get(tag):
                bad.append(f"{where}: tag {tag!r} not declared with a description")
            if not re.fullmatch(r"[a-z]+(-[a-z]+)*", tag):
                bad.append(f"{where}: tag {tag!r} is not kebab-case")
    assert not bad, "\n".join(bad)


def _anonymous_object(schema: dict[str, Any]) -> bool:
    """An object spelled out in place instead of referring to a named schema. A free-form map
    (`additionalProperties` or `patternProperties` without `properties`) is not one: it has no
    fields to name."""
    if "$ref" in schema:
        return False
    if "properties" in schema:
        return True
    if schema.get("type") == "object" and not (
        "additionalProperties" in schema or "patternProperties" in schema
    ):
        return True
    if schema.get("type") == "array":
        return _anonymous_object(schema.get("items", {}))
    return any(_anonymous_object(s) for key in ("anyOf", "oneOf", "allOf") for s in schema.get(key, []))


def _named(schema: dict[str, Any]) -> bool:
    """A named schema, an array or union of named schemas, or a plain scalar."""
    if "$ref" in schema or schema.get("type") in ("string", "integer", "number", "boolean", "null"):
        return True
    if schema.get("type") == "array":
        return _named(schema.get("items", {}))
    union: list[dict[str, Any]] = schema.get("anyOf") or schema.get("oneOf") or []
    return bool(union) and all(_named(option) for option in union)


def test_bodies_use_named_schemas(document: dict[str, Any]) -> None:
    bad = []
    for where, op in operations(document):
        bodies = [("request", op["requestBody"])] if "requestBody" in op else []
        bodies += [(f"response {code}", response) for code, response in op["responses"].items()]
        for which, body in bodies:
            for media_type, content in body.get("content", {}).items():
                schema = content.get("schema")
                if BINARY_TYPES.match(media_type):
                    continue
                if schema is None or schema == {}:
                    bad.append(f"{where} {which} {media_type}: no schema")
                elif _anonymous_object(schema) or not _named(schema):
                    bad.append(f"{where} {which} {media_type}: {json.dumps(schema)[:100]}")
    for name, schema in document["components"]["schemas"].items():
        for field, field_schema in schema.get("properties", {}).items():
            if _anonymous_object(field_schema):
                bad.append(f"schema {name}.{field}: {json.dumps(field_schema)[:100]}")
    assert not bad, "anonymous schemas (give them a pydantic model):\n" + "\n".join(bad)
    # Generated names that say nothing are renamed centrally (emplan_shared.openapi).
    mechanical = [name for name in document["components"]["schemas"] if re.match(r"Body_|Page_", name)]
    assert not mechanical


def test_every_error_is_declared_as_problem_json(document: dict[str, Any]) -> None:
    problem = {"application/problem+json": {"schema": {"$ref": SCHEMA_PREFIX + "Problem"}}}
    bad = []
    for where, op in operations(document):
        responses = op["responses"]
        # A token problem, invalid input and an unexpected failure can meet any operation.
        for status in ("401", "422", "500"):
            if status not in responses:
                bad.append(f"{where}: no {status}")
        for status, response in responses.items():
            if status[0] in "45" and response.get("content") != problem:
                bad.append(f"{where} {status}: {json.dumps(response.get('content'))[:100]}")
            if status == "default":
                bad.append(f"{where}: `default` response hides what can happen")
        if "requestBody" in op and "413" not in responses:
            bad.append(f"{where}: takes a body but declares no 413")
    assert not bad, "\n".join(bad)


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].removeprefix(SCHEMA_PREFIX)]
    return schema


def _closed_set(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    """Enum or const, possibly nullable; non-string values (an HTTP status, a level number) pass."""
    options = schema.get("anyOf", [schema])
    for option in options:
        option = _resolve(document, option)
        if option.get("type") == "null":
            continue
        if "enum" not in option and "const" not in option and option.get("type") in ("string", None):
            return False
    return True


def test_every_status_is_an_enum(document: dict[str, Any]) -> None:
    bad = []
    for name, schema in document["components"]["schemas"].items():
        for field, field_schema in schema.get("properties", {}).items():
            if STATUS_NAME.search(field) and not _closed_set(document, field_schema):
                bad.append(f"schema {name}.{field}")
    for where, op in operations(document):
        for parameter in op.get("parameters", []):
            if STATUS_NAME.search(parameter["name"]) and not _closed_set(document, parameter["schema"]):
                bad.append(f"{where} parameter {parameter['name']}")
    assert not bad, "free-text statuses (use an Enum or Literal):\n" + "\n".join(bad)


def test_main_objects_carry_examples_that_match_their_schemas(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    registry: Registry[Any] = Registry().with_resource(
        "urn:emplan:openapi", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    missing = [f"{name} ({what})" for name, what in MAIN_OBJECTS.items() if not schemas[name].get("examples")]
    assert not missing, f"no example: {missing}"
    errors = []
    for name, schema in schemas.items():
        for example in schema.get("examples", []):
            if not isinstance(example, dict):
                continue
            validator = Draft202012Validator(
                {"$ref": f"urn:emplan:openapi#/components/schemas/{name}"},
                registry=registry,
                format_checker=Draft202012Validator.FORMAT_CHECKER,
            )
            errors += [
                f"{name}: {error.json_path}: {error.message}" for error in validator.iter_errors(example)
            ]
            # Every field the schema requires is shown, so the example is a whole object.
            errors += [f"{name}: example lacks {f}" for f in schema.get("required", []) if f not in example]
    assert not errors, "examples that no longer fit (services/gateway/src/gateway/openapi_examples.py):\n" + (
        "\n".join(errors)
    )


def test_examples_check_catches_a_stale_example(document: dict[str, Any]) -> None:
    """The example check fails on an example that no longer fits: an unknown status."""
    registry: Registry[Any] = Registry().with_resource(
        "urn:emplan:openapi", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    validator = Draft202012Validator(
        {"$ref": "urn:emplan:openapi#/components/schemas/TaskRead"}, registry=registry
    )
    stale = document["components"]["schemas"]["TaskRead"]["examples"][0] | {"status": "finished"}
    assert [error.json_path for error in validator.iter_errors(stale)] == ["$.status"]


# ------------------------------------------------------------------ the proof: a generated TS client


def npm_ci() -> None:
    """`npm ci` once per lock file: node_modules stays in the clone and is reused while the lock holds."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("npm/node are not installed: the TypeScript client check needs Node 20 and npm")
    lock = CLIENT_DIR / "package-lock.json"
    marker = CLIENT_DIR / "node_modules" / ".emplan-lock-sha256"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if marker.exists() and marker.read_text() == digest:
        return
    _run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], timeout=300)
    marker.write_text(digest)


def _run(argv: list[str], timeout: float = 120) -> None:
    result = subprocess.run(argv, cwd=CLIENT_DIR, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}"


def test_typescript_client_generates_and_type_checks(document: dict[str, Any]) -> None:
    npm_ci()
    build = CLIENT_DIR / "build"
    build.mkdir(exist_ok=True)
    (build / "openapi.json").write_text(json.dumps(document, ensure_ascii=False))
    _run(["node_modules/.bin/openapi-typescript", "build/openapi.json", "--output", "build/emplan-api.ts"])
    generated = (build / "emplan-api.ts").read_text()
    # The statuses arrive as unions of literals, not `string`.
    assert re.search(
        r'TaskStatus: "not_started" \| "in_progress" \| "completed" \| "closed" \| "returned"', generated
    )
    _run(["node_modules/.bin/tsc", "--noEmit", "-p", "tsconfig.json"])
