"""The gateway as a client meets it: routing, tokens, the merged OpenAPI and docs, and bad input
answered with the right status and a problem+json body."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from emplan_tools.stack import Stack

from .conftest import Login, create_user, expired_token

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict:  # type: ignore[type-arg]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["detail"]  # a Chinese sentence for people
    assert body["request_id"] == response.headers["x-request-id"]
    return body  # type: ignore[no-any-return]


class TestReadiness:
    async def test_ready_only_with_every_service_behind_it(
        self, system: Stack, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/readyz")
        assert response.status_code == 200
        checks = response.json()["checks"]
        assert {
            checks[name] for name in ("plan-registry", "indicator-engine", "task-assignment", "evaluation")
        } == {"ok"}

    async def test_not_ready_while_a_service_is_down_and_502_for_its_routes(
        self, system: Stack, client: httpx.AsyncClient, admin: Login
    ) -> None:
        system.kill_service("evaluation")
        try:
            readiness = await client.get("/readyz")
            assert readiness.status_code == 503
            assert readiness.json()["checks"]["evaluation"] != "ok"
            response = await client.get("/api/v1/evaluations/rounds", headers=admin.headers)
            assert_problem(response, 502, "upstream_unavailable")
        finally:
            system.start_service("evaluation")
        assert (await client.get("/readyz")).status_code == 200


class TestTokens:
    async def test_password_grant_and_me(self, system: Stack, client: httpx.AsyncClient) -> None:
        username, password = create_user(system, roles=["bureau_planner"], region="140900")
        token = await client.post(
            "/api/v1/auth/token", data={"grant_type": "password", "username": username, "password": password}
        )
        assert token.status_code == 200
        body = token.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] > 0
        assert body["refresh_token"]
        me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
        assert me.status_code == 200
        assert me.json()["roles"] == ["bureau_planner"]
        assert me.json()["region_code"] == "140900"

    async def test_refresh_token_is_single_use(self, system: Stack, client: httpx.AsyncClient) -> None:
        username, password = create_user(system, roles=["viewer"], region="140900")
        first = (
            await client.post(
                "/api/v1/auth/token",
                data={"grant_type": "password", "username": username, "password": password},
            )
        ).json()
        refreshed = await client.post(
            "/api/v1/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        )
        assert refreshed.status_code == 200
        again = await client.post(
            "/api/v1/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        )
        assert_problem(again, 400, "invalid_grant")

    async def test_wrong_password_then_lockout(self, system: Stack, client: httpx.AsyncClient) -> None:
        username, password = create_user(system, roles=["viewer"], region="140900")
        for _ in range(5):
            wrong = await client.post(
                "/api/v1/auth/token",
                data={"grant_type": "password", "username": username, "password": "nope-123456"},
            )
            assert_problem(wrong, 400, "invalid_grant")
        locked = await client.post(
            "/api/v1/auth/token", data={"grant_type": "password", "username": username, "password": password}
        )
        assert_problem(locked, 423, "account_locked")

    async def test_unknown_grant_type(self, client: httpx.AsyncClient) -> None:
        assert_problem(
            await client.post("/api/v1/auth/token", data={"grant_type": "implicit"}),
            400,
            "unsupported_grant_type",
        )

    async def test_jwks_publishes_the_signing_key(self, client: httpx.AsyncClient) -> None:
        keys = (await client.get("/api/v1/auth/jwks")).json()["keys"]
        assert [(k["kty"], k["crv"], k["alg"]) for k in keys] == [("OKP", "Ed25519", "EdDSA")]


class TestBadInput:
    async def test_unknown_route_at_the_gateway(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get("/api/v1/nowhere"), 404, "route_not_found")

    async def test_unknown_route_inside_a_service(self, client: httpx.AsyncClient, admin: Login) -> None:
        assert_problem(
            await client.get("/api/v1/directory/nowhere", headers=admin.headers), 404, "route_not_found"
        )

    async def test_wrong_method(self, client: httpx.AsyncClient, admin: Login) -> None:
        assert_problem(
            await client.delete("/api/v1/directory/regions", headers=admin.headers), 405, "method_not_allowed"
        )

    async def test_malformed_json(self, client: httpx.AsyncClient, admin: Login) -> None:
        response = await client.post(
            "/api/v1/directory/regions",
            content=b'{"code": "140000", ',
            headers=admin.headers | {"content-type": "application/json"},
        )
        assert_problem(response, 400, "malformed_json")

    async def test_invalid_field_names_the_field(self, client: httpx.AsyncClient, admin: Login) -> None:
        response = await client.post(
            "/api/v1/directory/regions",
            json={"code": "14", "name": "山西省", "level": "province"},
            headers=admin.headers,
        )
        body = assert_problem(response, 422, "validation_failed")
        assert [item["field"] for item in body["errors"]] == ["body.code"]

    async def test_oversized_body(self, system: Stack, client: httpx.AsyncClient, admin: Login) -> None:
        limit = system.max_body_bytes
        response = await client.post(
            "/api/v1/directory/regions",
            content=b"x" * (limit + 1),
            headers=admin.headers | {"content-type": "application/json"},
        )
        assert_problem(response, 413, "payload_too_large")

    async def test_missing_token(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/directory/regions/140000")
        assert_problem(response, 401, "token_missing")
        assert response.headers["www-authenticate"].startswith("Bearer")

    async def test_expired_token(self, system: Stack, client: httpx.AsyncClient) -> None:
        response = await client.get(
            "/api/v1/directory/regions/140000", headers={"Authorization": f"Bearer {expired_token(system)}"}
        )
        assert_problem(response, 401, "token_expired")

    async def test_forged_token(self, client: httpx.AsyncClient, admin: Login) -> None:
        header, payload, _signature = admin.token.split(".")
        forged = f"{header}.{payload}.{'A' * 86}"
        response = await client.get(
            "/api/v1/directory/regions/140000", headers={"Authorization": f"Bearer {forged}"}
        )
        assert_problem(response, 401, "token_invalid")

    async def test_role_required(self, system: Stack, client: httpx.AsyncClient) -> None:
        username, password = create_user(system, roles=["viewer"], region="000000")
        token = (
            await client.post(
                "/api/v1/auth/token",
                data={"grant_type": "password", "username": username, "password": password},
            )
        ).json()["access_token"]
        response = await client.post(
            "/api/v1/directory/regions",
            json={"code": "990000", "name": "某省", "level": "province"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert_problem(response, 403, "role_required")


class TestOpenApiAndDocs:
    async def test_merged_document_covers_every_service(self, client: httpx.AsyncClient) -> None:
        document = (await client.get("/openapi.json")).json()
        paths = set(document["paths"])
        assert "/api/v1/auth/token" in paths
        assert "/api/v1/directory/departments" in paths
        assert "/api/v1/tasks/departments/{department_id}/workload" in paths
        operation_ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
        assert len(operation_ids) == len(set(operation_ids))
        assert "Problem" in document["components"]["schemas"]
        assert document["components"]["securitySchemes"]["oauth2"]["flows"]["password"]["tokenUrl"]

    async def test_docs_page_uses_only_local_assets(self, client: httpx.AsyncClient) -> None:
        page = await client.get("/docs")
        assert page.status_code == 200
        assert "http://" not in page.text.replace("http://www.w3.org", "")
        assert "https://" not in page.text
        for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"):
            response = await client.get(asset)
            assert response.status_code == 200
            assert len(response.content) > 10_000

    async def test_request_id_travels_through(self, client: httpx.AsyncClient, admin: Login) -> None:
        response = await client.get(
            "/api/v1/directory/regions/000001", headers=admin.headers | {"x-request-id": "trace-42"}
        )
        assert response.headers["x-request-id"] == "trace-42"
        assert response.json()["request_id"] == "trace-42"


async def test_concurrent_requests_all_answered(client: httpx.AsyncClient, admin: Login) -> None:
    responses = await asyncio.gather(
        *(client.get("/api/v1/auth/me", headers=admin.headers) for _ in range(50))
    )
    assert {r.status_code for r in responses} == {200}
