"""Revocation that takes effect on the next request.

Every access token carries its account's (or client's) `ver`, the token version at issue. Disabling
an account, changing its roles or region, resetting its password, or rotating a client's secret
raises the version, so every token issued before fails at once, on any replica:

- each gateway keeps `subject → (active, version)` in memory, filled from PostgreSQL on a miss (one
  primary-key lookup) and checked on every request, for proxied and own routes alike;
- a trigger on `account` / `machine_client` sends `pg_notify('emplan_revocation', 'user:<id>')`
  when `active` or `token_version` changes; every replica LISTENs and drops the entry, and the
  replica that made the change drops it right after its own commit, before answering;
- a load that started before an invalidation is not cached (an epoch counter), so a read racing a
  revocation cannot put the old state back; while the LISTEN connection is down nothing is cached
  and every request reads the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
from fastapi import FastAPI
from sqlalchemy import event, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from emplan_shared.errors import Unauthorized
from emplan_shared.tasks import cancel_and_wait
from gateway.accounts.models import Account, MachineClient
from gateway.refusals import RefusalAuditor, RegionRefusalAuditor

logger = logging.getLogger(__name__)

CHANNEL = "emplan_revocation"
_SESSION_KEY = "emplan_revoked_subjects"


@dataclass(frozen=True)
class SubjectState:
    active: bool
    version: int


def revoked_error() -> Unauthorized:
    return Unauthorized("访问令牌已被撤销（账号已停用或凭据已更换），请重新登录", code="token_revoked")


class RevocationState:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], ttl_seconds: float = 300.0) -> None:
        self.sessionmaker = sessionmaker
        # A backstop only: notifications do the real invalidation.
        self.ttl_seconds = ttl_seconds
        self._cache: dict[str, tuple[SubjectState | None, float]] = {}
        self._epoch = 0
        self.listening = False
        self.lookups = 0

    def invalidate(self, key: str | None = None) -> None:
        self._epoch += 1
        if key is None:
            self._cache.clear()
        else:
            self._cache.pop(key, None)

    async def check(self, claims: dict[str, Any]) -> None:
        kind = "client" if claims.get("typ") == "client" else "user"
        key = f"{kind}:{claims.get('sub')}"
        state = await self._state(kind, str(claims.get("sub")), key)
        version = claims.get("ver", 0)
        if state is None or not state.active or not isinstance(version, int) or version < state.version:
            raise revoked_error()

    async def _state(self, kind: str, subject: str, key: str) -> SubjectState | None:
        cached = self._cache.get(key)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        epoch = self._epoch
        state = await self._load(kind, subject)
        if self.listening and epoch == self._epoch:
            self._cache[key] = (state, now + self.ttl_seconds)
            if len(self._cache) > 100_000:
                self._cache.clear()
        return state

    async def _load(self, kind: str, subject: str) -> SubjectState | None:
        self.lookups += 1
        async with self.sessionmaker() as session:
            if kind == "client":
                row = (
                    await session.execute(
                        select(MachineClient.active, MachineClient.token_version).where(
                            MachineClient.client_id == subject
                        )
                    )
                ).one_or_none()
            else:
                try:
                    account_id = uuid.UUID(subject)
                except ValueError:
                    return None
                row = (
                    await session.execute(
                        select(Account.active, Account.token_version).where(Account.id == account_id)
                    )
                ).one_or_none()
        return None if row is None else SubjectState(active=row[0], version=row[1])

    async def listen(self, dsn: str) -> None:
        """Keeps a LISTEN connection; reconnects with a backoff; drops the cache while it is down."""
        delay = 0.5
        while True:
            connection: asyncpg.Connection | None = None
            try:
                connection = await asyncpg.connect(dsn)
                await connection.add_listener(CHANNEL, self._notified)
                self.invalidate()
                self.listening = True
                delay = 0.5
                closed = asyncio.Event()
                connection.add_termination_listener(_setter(closed))
                await closed.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database restarting: retry, read through meanwhile
                logger.warning("revocation listener down", extra={"error": repr(exc)})
            finally:
                self.listening = False
                self.invalidate()
                if connection is not None and not connection.is_closed():
                    with contextlib.suppress(Exception):
                        await connection.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    def _notified(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self.invalidate(payload)


def _setter(closed: asyncio.Event) -> Any:
    return lambda _connection: closed.set()


def mark_revoked(session: AsyncSession, key: str) -> None:
    """Drop `key` from this replica's cache right after the session commits."""
    session.info.setdefault(_SESSION_KEY, set()).add(key)


@contextlib.asynccontextmanager
async def revocation(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan: the revocation state, its LISTEN task, and the check on every verified token."""
    state = RevocationState(app.state.sessionmaker)
    app.state.revocation = state

    @event.listens_for(Session, "after_commit")
    def _after_commit(session: Session) -> None:
        for key in session.info.pop(_SESSION_KEY, ()):
            state.invalidate(key)

    if app.state.token_signer is not None:
        # Tokens from an external issuer carry no version of ours; only our own are checked.
        app.state.token_verifier.revocation_check = state.check
    app.state.token_verifier.on_refused = RefusalAuditor(app.state.sessionmaker)
    app.state.on_region_refused = RegionRefusalAuditor(app.state.sessionmaker)
    url = make_url(app.state.settings.async_database_url).set(drivername="postgresql")
    task = asyncio.create_task(state.listen(url.render_as_string(hide_password=False)))
    try:
        yield
    finally:
        event.remove(Session, "after_commit", _after_commit)
        await cancel_and_wait(task)


NOTIFY_FUNCTION = f"""
CREATE OR REPLACE FUNCTION emplan_revocation_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.active IS DISTINCT FROM OLD.active OR NEW.token_version IS DISTINCT FROM OLD.token_version THEN
        IF TG_TABLE_NAME = 'machine_client' THEN
            PERFORM pg_notify('{CHANNEL}', 'client:' || NEW.client_id);
        ELSE
            PERFORM pg_notify('{CHANNEL}', 'user:' || NEW.id::text);
        END IF;
    END IF;
    RETURN NULL;
END;
$$;
"""
NOTIFY_TRIGGERS = (
    "CREATE TRIGGER account_revocation_notify AFTER UPDATE ON account "
    "FOR EACH ROW EXECUTE FUNCTION emplan_revocation_notify()",
    "CREATE TRIGGER machine_client_revocation_notify AFTER UPDATE ON machine_client "
    "FOR EACH ROW EXECUTE FUNCTION emplan_revocation_notify()",
)
DROP_NOTIFY = (
    "DROP TRIGGER IF EXISTS machine_client_revocation_notify ON machine_client",
    "DROP TRIGGER IF EXISTS account_revocation_notify ON account",
    "DROP FUNCTION IF EXISTS emplan_revocation_notify()",
)
