"""What the services' integration tests share: the bearer token a test signs for itself with the
stack's key, and dropping a test's database when the module is done.

Each test module keeps its own defaults (which region, which roles, which subject), because they say
what the module is about; how a token is made and a database dropped is the same everywhere.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import asyncpg
import jwt
from sqlalchemy.engine import make_url

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


async def drop_database(server_url: str, name: str) -> None:
    """Drop a test's database, closing whatever connections a failed test left open on it."""
    dsn = make_url(server_url).set(drivername="postgresql", database="postgres")
    connection = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()
