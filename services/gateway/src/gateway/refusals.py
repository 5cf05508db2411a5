"""Refused tokens (expired, forged, `alg: none`, wrong audience, revoked) in the gateway's audit
trail: the shared recorder (one entry per reason and claimed subject a minute) on its table."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from emplan_shared.audit.refusals import RefusalAuditor as _RefusalAuditor
from gateway.database import audit_log


class RefusalAuditor(_RefusalAuditor):
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], window_seconds: float = 60.0) -> None:
        super().__init__(sessionmaker, audit_log, window_seconds)
