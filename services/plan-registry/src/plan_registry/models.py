"""Every model of the service, imported in one place for Alembic and the tests."""

from plan_registry.database import Base, messaging
from plan_registry.directory.models import Department, Region
from plan_registry.plans.models import Plan, PlanDocument

__all__ = ["Base", "Department", "Plan", "PlanDocument", "Region", "messaging"]
