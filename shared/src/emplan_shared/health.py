"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: its database and NATS answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

router = APIRouter(include_in_schema=False)

# Extra readiness checks an app adds (the gateway checks every service behind it): name → status.
ReadinessCheck = Callable[[Request], Awaitable[dict[str, str]]]


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str]


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    checks = await readiness_checks(request)
    ready = all(value == "ok" for value in checks.values())
    body = Readiness(status="ready" if ready else "not_ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


async def readiness_checks(request: Request) -> dict[str, str]:
    """Name → "ok" or what is wrong: the database, NATS and the app's extra checks."""
    checks = {"database": await _check_database(request), "nats": _check_nats(request)}
    for extra in getattr(request.app.state, "readiness_checks", []):
        checks.update(await extra(request))
    return checks


async def _check_database(request: Request) -> str:
    try:
        async with asyncio.timeout(2):
            async with request.app.state.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:
        return f"unavailable: {type(exc).__name__}"


def _check_nats(request: Request) -> str:
    broker = request.app.state.broker
    if broker.connected and broker.ready.is_set():
        return "ok"
    return "unavailable"
