from __future__ import annotations

from fastapi import FastAPI

from emplan_shared.app import create_service_app
from task_assignment.database import messaging
from task_assignment.departments.endpoints import router as departments_router
from task_assignment.departments.handlers import directory_consumer
from task_assignment.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        settings=settings,
        title="emplan task-assignment",
        description="重点任务、重点工程与治本攻坚重点的分工（牵头单位、配合单位）、进展报送、销号与亮灯。",
        routers=[departments_router],
        messaging=messaging,
        consumers=[directory_consumer(max_attempts=settings.consumer_max_attempts)],
        openapi_tags=[{"name": "departments", "description": "部门及其任务工作量"}],
    )
