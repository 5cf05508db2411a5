"""Every failure is problem+json with a stable code, whatever raised it."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from emplan_shared.errors import (
    PROBLEM_MEDIA_TYPE,
    Conflict,
    EmplanError,
    NotFound,
    RefusedRegion,
    install_error_handlers,
)
from emplan_shared.middleware import BodyLimitMiddleware, RequestContextMiddleware


class Item(BaseModel):
    name: str
    count: int


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/items")
    async def create(item: Item) -> Item:
        if item.name == "dup":
            raise Conflict("已存在", code="item_exists")
        if item.name == "boom":
            raise RuntimeError("unexpected")
        if item.name == "elsewhere":
            raise NotFound(
                "地区不存在", code="region_not_found", refused_region=RefusedRegion("620000", "body.name")
            )
        return item

    app.add_middleware(BodyLimitMiddleware, max_body_bytes=1024)
    app.add_middleware(RequestContextMiddleware)
    return app


@pytest.fixture
async def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client  # type: ignore[misc]


class TestProblemJson:
    async def test_domain_error_keeps_its_code_and_status(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/items", json={"name": "dup", "count": 1})
        assert response.status_code == 409
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        body = response.json()
        assert body["code"] == "item_exists"
        assert body["detail"] == "已存在"
        assert body["request_id"] == response.headers["x-request-id"]

    async def test_validation_error_names_the_field(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/items", json={"name": "a", "count": "many"})
        assert response.status_code == 422
        body = response.json()
        assert body["code"] == "validation_failed"
        assert [e["field"] for e in body["errors"]] == ["body.count"]
        assert body["errors"][0]["detail"] == "应为整数"

    async def test_malformed_json_is_400(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/items", content=b'{"name": ', headers={"content-type": "application/json"}
        )
        assert response.status_code == 400
        assert response.json()["code"] == "malformed_json"

    async def test_unknown_route_and_wrong_method(self, client: httpx.AsyncClient) -> None:
        missing = await client.get("/nowhere")
        assert (missing.status_code, missing.json()["code"]) == (404, "route_not_found")
        wrong = await client.get("/items")
        assert (wrong.status_code, wrong.json()["code"]) == (405, "method_not_allowed")

    async def test_unexpected_error_is_500_without_internals(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/items", json={"name": "boom", "count": 1})
        assert response.status_code == 500
        assert response.json()["code"] == "internal_error"
        assert response.json()["request_id"] == response.headers["x-request-id"]
        assert "unexpected" not in response.text

    async def test_oversized_body_by_declared_length(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/items", content=b"x" * 2048, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert response.json()["code"] == "payload_too_large"

    async def test_oversized_streamed_body(self, client: httpx.AsyncClient) -> None:
        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(8):
                yield b"x" * 512

        response = await client.post("/items", content=chunks(), headers={"content-type": "application/json"})
        assert response.status_code == 413

    async def test_request_id_is_adopted_when_sane_and_replaced_when_not(
        self, client: httpx.AsyncClient
    ) -> None:
        kept = await client.get("/nowhere", headers={"x-request-id": "abc-123"})
        assert kept.headers["x-request-id"] == "abc-123"
        replaced = await client.get("/nowhere", headers={"x-request-id": "bad id\nwith newline"})
        assert replaced.headers["x-request-id"] != "bad id\nwith newline"
        assert len(replaced.headers["x-request-id"]) == 32


class TestRefusedRegion:
    async def test_the_hook_hears_it_and_its_failure_is_no_500(self) -> None:
        heard: list[tuple[str, RefusedRegion | None]] = []

        async def hook(request: object, error: EmplanError) -> None:
            heard.append((error.code, error.refused_region))
            raise RuntimeError("the trail is down")

        app = _app()
        app.state.on_region_refused = hook
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            refused = await client.post("/items", json={"name": "elsewhere", "count": 1})
            duplicate = await client.post("/items", json={"name": "dup", "count": 1})
        assert (refused.status_code, refused.json()["code"]) == (404, "region_not_found")
        assert duplicate.status_code == 409
        assert heard == [("region_not_found", RefusedRegion("620000", "body.name"))]
