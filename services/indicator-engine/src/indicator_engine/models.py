"""Every model of the service, imported in one place for Alembic and the tests."""

from indicator_engine.data.models import DataBatch, DataValue, DataValueHistory, DataValueTombstone
from indicator_engine.database import Base, messaging
from indicator_engine.definitions.models import DataElementRow, IndicatorDefinitionRow
from indicator_engine.results.models import TargetStatus
from indicator_engine.targets.models import IndicatorTarget

__all__ = [
    "Base",
    "DataBatch",
    "DataElementRow",
    "DataValue",
    "DataValueHistory",
    "DataValueTombstone",
    "IndicatorDefinitionRow",
    "IndicatorTarget",
    "TargetStatus",
    "messaging",
]
