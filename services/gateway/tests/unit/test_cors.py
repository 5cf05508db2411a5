"""CORS at the gateway: off unless a deployment names origins, and then preflights are answered by the
gateway itself (the services behind it are not even running here)."""

from __future__ import annotations

import httpx
import pytest

from gateway.app import create_app, create_edge
from gateway.settings import Settings

FRONT_END = "https://yjj.example.gov.cn"
# Nothing listens here: a preflight that reached the proxy would be answered 502.
NOWHERE = "http://127.0.0.1:9"


def _client(*, edge: bool = False, **cors: object) -> httpx.AsyncClient:
    """The app in-process; `edge`: behind the dispatcher the gateway's server runs (gateway.edge),
    where proxied paths take the short path."""
    settings = Settings(
        plan_registry_url=NOWHERE,
        indicator_engine_url=NOWHERE,
        task_assignment_url=NOWHERE,
        evaluation_url=NOWHERE,
        **cors,  # type: ignore[arg-type]
    )
    app = create_edge(settings) if edge else create_app(settings)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")


def _preflight(
    method: str, headers: str = "authorization,content-type", origin: str = FRONT_END
) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


async def test_off_by_default() -> None:
    async with _client() as client:
        preflight = await client.options("/api/v1/auth/token", headers=_preflight("POST"))
        simple = await client.get("/healthz", headers={"Origin": FRONT_END})
    assert preflight.status_code == 405
    assert "access-control-allow-origin" not in preflight.headers
    assert simple.status_code == 200
    assert "access-control-allow-origin" not in simple.headers


@pytest.mark.parametrize("edge", [False, True], ids=["app", "edge"])
async def test_preflight_for_a_service_path_is_answered_by_the_gateway(edge: bool) -> None:
    async with _client(edge=edge, cors_origins=[FRONT_END]) as client:
        response = await client.options(
            "/api/v1/tasks/5b0f8c1e-3d2a-4b7e-9f1a-2c6d8e4a7b10",
            headers=_preflight("PATCH", "authorization,content-type,if-match"),
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == FRONT_END
    assert set(response.headers["access-control-allow-methods"].split(", ")) == {
        "GET",
        "POST",
        "PUT",
        "PATCH",
        "DELETE",
    }
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "if-match"} <= allowed
    assert response.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        (_preflight("GET", origin="https://evil.example.com"), "Disallowed CORS origin"),
        (_preflight("DELETE"), "Disallowed CORS method"),
        (_preflight("GET", "authorization,x-secret"), "Disallowed CORS headers"),
    ],
)
async def test_preflight_outside_the_configuration_is_refused(headers: dict[str, str], why: str) -> None:
    async with _client(
        cors_origins=[FRONT_END], cors_methods=["GET", "POST"], cors_headers=["Authorization"]
    ) as client:
        response = await client.options("/api/v1/plans", headers=headers)
    # A browser sees the refusal (no 2xx) and never sends the request.
    assert response.status_code == 400
    assert response.text == why
    assert "DELETE" not in response.headers.get("access-control-allow-methods", "")
    assert "x-secret" not in response.headers.get("access-control-allow-headers", "").lower()


async def test_actual_response_names_the_origin_and_exposes_the_useful_headers() -> None:
    async with _client(cors_origins=[FRONT_END], cors_max_age=60) as client:
        allowed = await client.get("/healthz", headers={"Origin": FRONT_END})
        other = await client.get("/healthz", headers={"Origin": "https://evil.example.com"})
    assert allowed.headers["access-control-allow-origin"] == FRONT_END
    exposed = {h.strip().lower() for h in allowed.headers["access-control-expose-headers"].split(",")}
    assert {"x-request-id", "etag", "location", "retry-after", "content-disposition"} <= exposed
    assert "access-control-allow-origin" not in other.headers


def test_settings_read_json_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_CORS_ORIGINS", '["https://a.example.cn", "https://b.example.cn"]')
    monkeypatch.setenv("GATEWAY_CORS_METHODS", '["GET"]')
    monkeypatch.setenv("GATEWAY_CORS_MAX_AGE", "30")
    settings = Settings()
    assert settings.cors_origins == ["https://a.example.cn", "https://b.example.cn"]
    assert settings.cors_methods == ["GET"]
    assert settings.cors_max_age == 30
    assert settings.cors_headers == [
        "Authorization",
        "Content-Type",
        "If-Match",
        "X-Request-Id",
    ]
