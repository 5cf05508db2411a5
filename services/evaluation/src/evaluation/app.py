from __future__ import annotations

from fastapi import FastAPI

from emplan_shared.app import create_service_app
from emplan_shared.audit.refusals import audit_refusals
from emplan_shared.audit.router import audit_router
from evaluation.database import audit_log, messaging
from evaluation.plans.handlers import plans_consumer
from evaluation.readmodel.handlers import read_model_consumer
from evaluation.rounds.endpoints import public_router
from evaluation.rounds.endpoints import router as rounds_router
from evaluation.rounds.exchange import router as exchange_router
from evaluation.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        settings=settings,
        title="emplan evaluation",
        description="年度监测分析、中期评估与总结评估：快照、评分、排名、报告与发布。",
        routers=[
            audit_router("evaluations", audit_log, tag="audit"),
            rounds_router,
            public_router,
            exchange_router,
        ],
        messaging=messaging,
        lifespans=[audit_refusals(audit_log)],
        consumers=[
            plans_consumer(max_attempts=settings.consumer_max_attempts),
            read_model_consumer(max_attempts=settings.consumer_max_attempts),
        ],
        openapi_tags=[
            {"name": "evaluations", "description": "评分方案、评估轮次、快照、评分排名、改进措施与评估报告"},
            {"name": "evaluation-reports", "description": "已发布的评估报告（无需登录）"},
        ],
    )
