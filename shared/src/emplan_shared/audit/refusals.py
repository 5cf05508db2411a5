"""Refused tokens (expired, forged, `alg: none`, wrong audience, revoked) in a service's audit trail.

One entry per reason and claimed subject a minute, not one per request: a client retrying with an
expired token, or an attacker replaying a forged one, must not turn the trail into a log of its
traffic, nor make each refused request cost a database write.

The gateway refuses most bad tokens before they reach a service; a service records the ones sent
to it directly (a forged or replayed internal call) in its own trail, through `audit_refusals`.

Regions named outside the caller's jurisdiction (a filter, a body field: any error carrying a
`RefusedRegion`) are recorded the same way by `RegionRefusalAuditor`, which the shared error
handler calls: one entry per caller, region and field a minute, and at most `per_actor` entries per
caller a minute, so a client walking the region list costs a bounded number of writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import jwt
from fastapi import FastAPI, Request
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from emplan_shared.audit.context import Actor, actor_var, current_actor, set_actor
from emplan_shared.audit.recorder import record
from emplan_shared.errors import EmplanError, Unauthorized

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


class RegionRefusalAuditor:
    """`region_refused` entries: who named which region outside their jurisdiction, in which field
    of which operation, and how it was answered. Written in a transaction of their own (the
    request's rolls back with the error) and never raising: the refusal stands when the trail
    cannot be written.

    The entry's `region_code` is the caller's region, not the refused one: the auditors of the
    caller's jurisdiction are the ones who answer for what their accounts try."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        table: Table,
        window_seconds: float = 60.0,
        per_actor: int = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.table = table
        self.window = window_seconds
        self.per_actor = per_actor
        self.clock = clock
        self._recent: dict[tuple[str, str, str], float] = {}
        # Per caller: (end of its window, entries written in it), and refusals left unrecorded
        # because the budget was spent (told in the caller's next entry).
        self._budget: dict[str, tuple[float, int]] = {}
        self._suppressed: dict[str, int] = {}

    async def __call__(self, request: Request, error: EmplanError) -> None:
        refused = error.refused_region
        if refused is None:
            return
        actor = _request_actor(request)
        subject = f"{actor.kind}:{actor.subject or ''}"
        key = (subject, refused.region_code, refused.field or "")
        now = self.clock()
        if self._recent.get(key, 0.0) > now:
            return
        if len(self._recent) > 10_000:
            self._recent = {k: v for k, v in self._recent.items() if v > now}
            self._budget = {k: v for k, v in self._budget.items() if v[0] > now}
            self._suppressed = {k: v for k, v in self._suppressed.items() if k in self._budget}
        window_end, written = self._budget.get(subject, (0.0, 0))
        if window_end <= now:
            window_end, written = now + self.window, 0
        if written >= self.per_actor:
            suppressed = self._suppressed.get(subject, 0) + 1
            self._suppressed[subject] = suppressed
            if suppressed == 1:
                logger.warning(
                    "refused regions of one caller no longer recorded this minute",
                    extra={"actor": actor.subject, "per_actor": self.per_actor},
                )
            return
        self._budget[subject] = (window_end, written + 1)
        self._recent[key] = now + self.window
        suppressed = self._suppressed.pop(subject, 0)
        route = request.scope.get("route")
        after = {
            "field": refused.field,
            "method": request.method,
            "path": request.url.path[:300],
            "operation": getattr(route, "unique_id", None),
            "reason": error.code,
            "status": error.status_code,
        }
        if suppressed:
            after["unrecorded_before"] = suppressed
        token = set_actor(actor)
        try:
            async with self.sessionmaker() as session, session.begin():
                await record(
                    session,
                    self.table,
                    action="region_refused",
                    object_type="region",
                    object_id=refused.region_code[:200],
                    region_code=actor.region_code,
                    after=after,
                )
        except Exception as exc:  # the refusal stands even when the trail cannot be written
            logger.warning("could not record a refused region", extra={"error": repr(exc)})
        finally:
            actor_var.reset(token)


def _request_actor(request: Request) -> Actor:
    """The caller `current_principal` verified (kept on the request, so the answer does not depend
    on where the error handler's context was copied from)."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        return current_actor()
    return Actor(
        subject=principal.subject,
        kind="client" if principal.is_client else "user",
        name=principal.name,
        region_code=principal.region_code,
    )


def audit_refusals(table: Table) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A lifespan for `create_service_app(lifespans=...)`: the service records in `table` (its
    `audit_log`) the tokens its verifier refuses and the regions outside the jurisdiction its
    requests name (`app.state.on_region_refused`, called by the shared error handler)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.token_verifier.on_refused = RefusalAuditor(app.state.sessionmaker, table)
        app.state.on_region_refused = RegionRefusalAuditor(app.state.sessionmaker, table)
        yield

    return lifespan
