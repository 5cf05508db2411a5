"""Refused tokens (expired, forged, `alg: none`, wrong audience, revoked) and regions named outside
the caller's jurisdiction (the accounts' and clients' filters and bodies) in the gateway's audit
trail: the shared recorders (one entry per reason and claimed subject, or per caller, region and
field, a minute) on its table."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from emplan_shared.audit.refusals import RefusalAuditor as _RefusalAuditor
from emplan_shared.audit.refusals import RegionRefusalAuditor as _RegionRefusalAuditor
from gateway.database import audit_log


class RefusalAuditor(_RefusalAuditor):
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], window_seconds: float = 60.0) -> None:
        super().__init__(sessionmaker, audit_log, window_seconds)


class RegionRefusalAuditor(_RegionRefusalAuditor):
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], window_seconds: float = 60.0) -> None:
        super().__init__(sessionmaker, audit_log, window_seconds)
