"""Every model of the service, imported in one place for Alembic and the tests."""

from gateway.accounts.models import Account, MachineClient, RefreshToken
from gateway.database import Base, audit_log, messaging

__all__ = ["Account", "Base", "MachineClient", "RefreshToken", "audit_log", "messaging"]
