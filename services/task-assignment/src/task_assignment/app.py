from __future__ import annotations

from fastapi import FastAPI

from emplan_shared.app import create_service_app
from emplan_shared.audit.refusals import audit_refusals
from emplan_shared.audit.router import audit_router
from task_assignment.database import audit_log, messaging
from task_assignment.departments.endpoints import router as departments_router
from task_assignment.departments.handlers import directory_consumer
from task_assignment.settings import Settings
from task_assignment.tasks.endpoints import router as tasks_router
from task_assignment.tasks.exchange import router as exchange_router
from task_assignment.tasks.handlers import plans_consumer
from task_assignment.work.endpoints import router as work_router
from task_assignment.work.scheduler import work_scans


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        settings=settings,
        title="emplan task-assignment",
        description="重点任务、重点工程与治本攻坚重点的分工（牵头单位、配合单位）、进展报送、销号与亮灯。",
        routers=[
            audit_router("tasks", audit_log, tag="audit"),
            departments_router,
            tasks_router,
            work_router,
            exchange_router,
        ],
        lifespans=[work_scans, audit_refusals(audit_log)],
        messaging=messaging,
        consumers=[
            directory_consumer(max_attempts=settings.consumer_max_attempts),
            plans_consumer(max_attempts=settings.consumer_max_attempts),
        ],
        openapi_tags=[
            {"name": "departments", "description": "部门及其任务工作量"},
            {"name": "tasks", "description": "任务、分工（牵头、配合）、下沉到县、任务分工台账"},
            {
                "name": "task-work",
                "description": "进展报送与证明材料、状态流转（销号、退回）、逾期、亮灯、催报",
            },
        ],
    )
