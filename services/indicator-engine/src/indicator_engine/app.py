from __future__ import annotations

from fastapi import FastAPI

from emplan_shared.app import create_service_app
from emplan_shared.audit.refusals import audit_refusals
from emplan_shared.audit.router import audit_router
from indicator_engine.data.endpoints import router as data_router
from indicator_engine.data.exchange import router as exchange_router
from indicator_engine.database import audit_log, messaging
from indicator_engine.definitions.endpoints import router as definitions_router
from indicator_engine.definitions.startup import catalogue_lifespan
from indicator_engine.results.endpoints import router as results_router
from indicator_engine.results.handlers import values_consumer
from indicator_engine.settings import Settings
from indicator_engine.targets.endpoints import router as targets_router
from indicator_engine.targets.handlers import plans_consumer


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        settings=settings,
        title="emplan indicator-engine",
        description="指标定义、分地区分年度数据、规划目标绑定、计算结果（基期值、当前值、序时进度、状态）。",
        routers=[
            audit_router("indicators", audit_log, tag="audit"),
            definitions_router,
            data_router,
            targets_router,
            results_router,
            exchange_router,
        ],
        messaging=messaging,
        openapi_tags=[
            {"name": "indicator-definitions", "description": "指标定义与统计数据元（指标库）"},
            {"name": "indicator-data", "description": "分地区分年度数据的录入、批量导入、逐级审核与修订历史"},
            {
                "name": "indicator-targets",
                "description": "规划目标：与指标定义的绑定、基期值规则、序时进度与状态",
            },
            {"name": "indicator-results", "description": "计算结果：某指标某地区某年的值及其下级地区分解"},
        ],
        lifespans=[catalogue_lifespan, audit_refusals(audit_log)],
        consumers=[
            plans_consumer(max_attempts=settings.consumer_max_attempts),
            values_consumer(max_attempts=settings.consumer_max_attempts),
        ],
    )
