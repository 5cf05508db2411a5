from __future__ import annotations

from fastapi import FastAPI

from emplan_shared.app import create_service_app
from indicator_engine.database import messaging
from indicator_engine.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings=settings or Settings(),
        title="emplan indicator-engine",
        description="指标定义、分地区分年度数据、规划目标绑定、计算结果（基期值、当前值、序时进度、状态）。",
        routers=[],
        messaging=messaging,
    )
