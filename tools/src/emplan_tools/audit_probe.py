"""Helpers for the services' audit tests: a signed caller with a known subject, and the entries of
a service's `GET /api/v1/<area>/audit` (the same shape in every service)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt


def signed_headers(
    private_key: str, subject: str, *, roles: tuple[str, ...], region: str, name: str = "审计测试"
) -> dict[str, str]:
    """An Authorization header for `subject` (so the trail can be asked about it by name)."""
    now = int(time.time())
    claims = {
        "iss": "emplan",
        "aud": "emplan",
        "sub": subject,
        "name": name,
        "iat": now,
        "exp": now + 600,
        "roles": list(roles),
        "region": region,
    }
    return {"Authorization": f"Bearer {jwt.encode(claims, private_key, algorithm='EdDSA')}"}


async def audit_entries(
    client: httpx.AsyncClient, area: str, headers: dict[str, str], **query: str
) -> list[dict[str, Any]]:
    """Newest first; fails the test on anything but 200."""
    response = await client.get(f"/api/v1/{area}/audit", params=query, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items
