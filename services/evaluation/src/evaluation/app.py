from __future__ import annotations

from fastapi import FastAPI

from emplan_shared.app import create_service_app
from evaluation.database import messaging
from evaluation.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings=settings or Settings(),
        title="emplan evaluation",
        description="年度监测分析、中期评估与总结评估：快照、评分、排名、报告与发布。",
        routers=[],
        messaging=messaging,
    )
