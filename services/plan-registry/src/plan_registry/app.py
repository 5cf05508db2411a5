from __future__ import annotations

from fastapi import FastAPI

from emplan_shared.app import create_service_app
from emplan_shared.audit.refusals import audit_refusals
from emplan_shared.audit.router import audit_router
from plan_registry.database import audit_log, messaging
from plan_registry.directory.endpoints import router as directory_router
from plan_registry.plans.endpoints import router as plans_router
from plan_registry.plans.exchange import router as exchange_router
from plan_registry.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings=settings or Settings(),
        title="emplan plan-registry",
        description="行政区划与部门目录、规划及其内容、规划文件导入。",
        routers=[
            audit_router("plans", audit_log, tag="audit"),
            directory_router,
            plans_router,
            exchange_router,
        ],
        messaging=messaging,
        lifespans=[audit_refusals(audit_log)],
        openapi_tags=[
            {"name": "directory", "description": "行政区划（GB/T 2260）与各级部门目录"},
            {"name": "plans", "description": "规划及其版本、规划文件导入、与上级规划的目标衔接"},
        ],
    )
