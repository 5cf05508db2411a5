"""Every model of the service, imported in one place for Alembic and the tests."""

from evaluation.database import Base, messaging

__all__ = ["Base", "messaging"]
