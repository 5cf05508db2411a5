"""Every model of the service, imported in one place for Alembic and the tests."""

from evaluation.database import Base, messaging
from evaluation.plans.models import PlanRecord
from evaluation.readmodel.models import PlanIndicatorLead, StreamPosition, TargetJudgement, TaskStateRecord
from evaluation.rounds.models import EvaluationRound, ImprovementMeasure, ScoringSchemeRecord

__all__ = [
    "Base",
    "EvaluationRound",
    "ImprovementMeasure",
    "PlanIndicatorLead",
    "PlanRecord",
    "ScoringSchemeRecord",
    "StreamPosition",
    "TargetJudgement",
    "TaskStateRecord",
    "messaging",
]
