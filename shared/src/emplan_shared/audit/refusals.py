"""Refused tokens (expired, forged, `alg: none`, wrong audience, revoked) in a service's audit trail.

One entry per reason and claimed subject a minute, not one per request: a client retrying with an
expired token, or an attacker replaying a forged one, must not turn the trail into a log of its
traffic, nor make each refused request cost a database write.

The gateway refuses most bad tokens before they reach a service; a service records the ones sent
to it directly (a forged or replayed internal call) in its own trail, through `audit_refusals`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import jwt
from fastapi import FastAPI
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from emplan_shared.audit.context import Actor, set_actor
from emplan_shared.audit.recorder import record
from emplan_shared.errors import Unauthorized

logger = logging.getLogger(__name__)


class RefusalAuditor:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], table: Table, window_seconds: float = 60.0
    ) -> None:
        self.sessionmaker = sessionmaker
        self.table = table
        self.window = window_seconds
        self._recent: dict[tuple[str, str], float] = {}

    async def __call__(self, token: str, error: Unauthorized) -> None:
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            claims = {}
        claimed = claims.get("sub")
        # Without a readable subject, the token itself (hashed) is what repeats.
        subject = (
            str(claimed)[:200] if claimed else "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:32]
        )
        key = (error.code, subject)
        now = time.monotonic()
        if self._recent.get(key, 0.0) > now:
            return
        if len(self._recent) > 10_000:
            self._recent = {k: v for k, v in self._recent.items() if v > now}
        self._recent[key] = now + self.window
        set_actor(Actor(subject=None, kind="anonymous"))
        try:
            async with self.sessionmaker() as session, session.begin():
                await record(
                    session,
                    self.table,
                    action="token_refused",
                    object_type="token",
                    object_id=subject,
                    region_code=str(claims["region"])[:6] if isinstance(claims.get("region"), str) else None,
                    after={
                        "reason": error.code,
                        "claimed_subject": claimed if isinstance(claimed, str) else None,
                        "issuer": claims.get("iss") if isinstance(claims.get("iss"), str) else None,
                        "token_id": claims.get("jti") if isinstance(claims.get("jti"), str) else None,
                    },
                )
        except Exception as exc:  # the refusal stands even when the trail cannot be written
            logger.warning("could not record a refused token", extra={"error": repr(exc)})


def audit_refusals(table: Table) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A lifespan for `create_service_app(lifespans=...)`: the service's token verifier records the
    tokens it refuses in `table` (the service's `audit_log`)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.token_verifier.on_refused = RefusalAuditor(app.state.sessionmaker, table)
        yield

    return lifespan
