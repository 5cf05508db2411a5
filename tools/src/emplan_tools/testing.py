"""What the services' integration tests share: a migrated database of their own for a test module,
the bearer token a test signs for itself with the stack's key, dropping a test's database, and the
entries of a service's audit trail (`GET /api/v1/<area>/audit`, the same shape in every service).

Each test module keeps its own defaults (which region, which roles, which subject), because they say
what the module is about; how a token is made and a database dropped is the same everywhere.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
from sqlalchemy.engine import make_url

from emplan_shared.migrate import migrate
from emplan_shared.settings import with_database

TOKEN_SECONDS = 600


def bearer(private_key: Any, *, sub: str, region: str, roles: Sequence[str], **claims: Any) -> dict[str, str]:
    """An `Authorization` header with an access token as the gateway issues one (issuer and
    audience `emplan`, EdDSA), valid for ten minutes; `claims` adds or overrides claims."""
    now = int(time.time())
    payload = {
        "iss": "emplan",
        "aud": "emplan",
        "sub": sub,
        "iat": now,
        "exp": now + TOKEN_SECONDS,
        "roles": list(roles),
        "region": region,
        **claims,
    }
    return {"Authorization": f"Bearer {jwt.encode(payload, private_key, algorithm='EdDSA')}"}


def signed_headers(
    private_key: str, subject: str, *, roles: tuple[str, ...], region: str, name: str = "审计测试"
) -> dict[str, str]:
    """A bearer token for a known `subject`, so the audit trail can be asked about it by name."""
    return bearer(private_key, sub=subject, region=region, roles=roles, name=name)


async def audit_entries(
    client: httpx.AsyncClient, area: str, headers: dict[str, str], **query: str
) -> list[dict[str, Any]]:
    """Newest first; fails the test on anything but 200."""
    response = await client.get(f"/api/v1/{area}/audit", params=query, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def drop_database(server_url: str, name: str) -> None:
    """Drop a test's database, closing whatever connections a failed test left open on it."""
    dsn = make_url(server_url).set(drivername="postgresql", database="postgres")
    connection = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@dataclass(frozen=True)
class ScratchDatabase:
    url: str  # the migrated database
    server_url: str  # the server it lives on
    prefix: str  # unique to the module: names of any further databases it creates start with it


@contextmanager
def migrated_database(
    server_url: str, migrations: Path, *, label: str, database: str
) -> Iterator[ScratchDatabase]:
    """A new database `emplan_<label><random>_<database>` on the server, migrated to head with the
    service's own migrations (as `migrate` runs them at start), dropped afterwards."""
    prefix = f"emplan_{label}{uuid.uuid4().hex[:8]}_"
    name = prefix + database
    url = with_database(server_url, name)
    migrate(url, migrations, lock_name=f"test-{name}")
    try:
        yield ScratchDatabase(url=url, server_url=server_url, prefix=prefix)
    finally:
        asyncio.run(drop_database(server_url, name))
