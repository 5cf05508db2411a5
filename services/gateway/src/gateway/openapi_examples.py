"""Examples of the main objects, added to the merged OpenAPI document's schemas.

Front-end teams read them in the docs page and mock servers serve them. They live here, next to the
merge, rather than on each service's models, and tests/e2e/test_openapi_contract.py validates every
one against its schema, so a changed model with a stale example fails the build.
"""

from __future__ import annotations

from typing import Any

PLAN_ID = "5b0f8c1e-3d2a-4b7e-9f1a-2c6d8e4a7b10"
TARGET_ID = "8e2d4f6a-1b3c-4d5e-8f7a-9b0c1d2e3f40"
TASK_ID = "c3a1e5f7-9b2d-4f6a-8c0e-1d3b5a7c9e21"
DEPARTMENT_ID = "0f1e2d3c-4b5a-4968-8776-655443322110"
ROUND_ID = "a7c9e1b3-5d7f-4a2c-9e4b-6d8f0a2c4e61"

EXAMPLES: dict[str, dict[str, Any]] = {
    "PlanSummary": {
        "id": PLAN_ID,
        "lineage_id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
        "version": 1,
        "status": "published",
        "kind": "plan",
        "title": "汶川县“十四五”应急管理体系规划",
        "region": {"name": "汶川县", "code": "513221", "level": "county"},
        "period": {"start": 2021, "end": 2025},
        "doc_number": "汶政字〔2022〕57号",
        "issued_on": "2022-06-30",
        "indicator_count": 12,
        "task_count": 48,
        "warning_count": 0,
        "created_at": "2026-03-02T09:15:00Z",
        "updated_at": "2026-03-05T16:40:12Z",
        "published_at": "2026-03-05T16:40:12Z",
    },
    "TargetRead": {
        "id": TARGET_ID,
        "plan_id": PLAN_ID,
        "lineage_id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
        "plan_version": 1,
        "item_id": "6f5e4d3c-2b1a-4098-8765-43210fedcba9",
        "region_code": "513221",
        "plan_title": "汶川县“十四五”应急管理体系规划",
        "period_start": 2021,
        "period_end": 2025,
        "name": "生产安全事故死亡人数",
        "target_text": "下降15%",
        "type": "decrease_pct",
        "value": "15",
        "unit": "%",
        "strict": False,
        "nature": "binding",
        "definition_code": "production_safety_deaths",
        "binding_method": "name",
        "bound_by": None,
        "bound_at": None,
        "baseline": {"years": [2020], "start_year": 2020},
        "target_year": 2025,
        "state": "active",
        "superseded_by": None,
        "version": 1,
    },
    "DataValueRead": {
        "id": 1042,
        "element_code": "production_safety_deaths",
        "region_code": "513221",
        "year": 2024,
        "month": None,
        "value": "17",
        "source": "县应急管理局统计年报",
        "state": "approved",
        "review_flag": None,
        "version": 3,
        "batch_id": None,
        "entered_by": "wc-stats",
        "entered_at": "2025-01-20T08:30:00Z",
        "updated_by": "aba-reviewer",
        "updated_at": "2025-02-03T10:05:41Z",
    },
    "TaskRead": {
        "id": TASK_ID,
        "plan_id": PLAN_ID,
        "parent_id": None,
        "region_code": "513221",
        "origin": "plan",
        "kind": "key_task",
        "code": "3.2.1",
        "title": "健全自然灾害监测预警体系",
        "description": "完善地质灾害隐患点群测群防，建成县级自然灾害综合监测预警平台。",
        "section": [{"number": "三", "title": "主要任务"}, {"number": "（二）", "title": "提升防灾减灾能力"}],
        "deadline": "2025-12-31",
        "deadline_text": "2025年底前",
        "status": "in_progress",
        "progress_percent": 60,
        "progress_note": "监测预警平台完成招标",
        "current": True,
        "successor_id": None,
        "subtask_count": 0,
        "lead": [
            {
                "department_id": DEPARTMENT_ID,
                "name": "汶川县应急管理局",
                "unit_name": "县应急局",
                "region_code": "513221",
            }
        ],
        "co": [],
        "groups": [],
        "version": 4,
        "created_by": "wc-planner",
        "created_at": "2026-03-05T16:40:13Z",
        "updated_at": "2026-10-09T11:20:00Z",
    },
    "ReportRead": {
        "id": "e1d2c3b4-a596-4877-8695-a4b3c2d1e0f9",
        "task_id": TASK_ID,
        "department_id": DEPARTMENT_ID,
        "capacity": "lead",
        "period": "2026-Q3",
        "percent": 60,
        "milestone": "完成招标",
        "narrative": "县级自然灾害综合监测预警平台已完成招标，正在部署。",
        "submitted_by": "wc-yjj",
        "submitted_by_name": "县应急局 王某",
        "submitted_at": "2026-10-09T11:20:00Z",
        "evidence": [
            {
                "id": "f0e1d2c3-b4a5-4697-8877-695a4b3c2d1e",
                "kind": "file",
                "filename": "中标通知书.pdf",
                "media_type": "application/pdf",
                "size_bytes": 184320,
                "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                "url": None,
                "title": None,
                "uploaded_by": "wc-yjj",
                "created_at": "2026-10-09T11:21:30Z",
            }
        ],
        "status": "in_progress",
    },
    "RoundRead": {
        "id": ROUND_ID,
        "plan_id": PLAN_ID,
        "region_code": "513221",
        "kind": "mid_term",
        "reference_date": "2023-12-31",
        "title": "汶川县“十四五”应急管理体系规划中期评估",
        "status": "published",
        "scheme_id": None,
        "bonus_awards": [],
        "has_snapshot": True,
        "snapshot_at": "2024-01-15T09:00:00Z",
        "snapshot_origin": "read_model",
        "snapshot_sources": {"EMPLAN_EVENTS": 18342},
        "calculation_rules_version": "2024.1",
        "scoring_rules_version": "2024.1",
        "previous_round_id": None,
        "version": 5,
        "created_at": "2024-01-10T08:00:00Z",
        "created_by": "wc-planner",
        "updated_at": "2024-02-01T15:30:00Z",
        "approved_at": "2024-01-28T10:00:00Z",
        "approved_by": "aba-reviewer",
        "published_at": "2024-02-01T15:30:00Z",
        "published_by": "wc-planner",
    },
    "Problem": {
        "type": "urn:emplan:problem:validation_failed",
        "title": "Unprocessable Entity",
        "status": 422,
        "code": "validation_failed",
        "detail": "请求数据未通过校验",
        "instance": "/api/v1/tasks/c3a1e5f7-9b2d-4f6a-8c0e-1d3b5a7c9e21/reports",
        "request_id": "3f2c9a7e5b1d4c8a",
        "errors": [{"field": "body.percent", "line": None, "code": "less_than_equal", "detail": "数值过大"}],
    },
}


def add_examples(document: dict[str, Any]) -> dict[str, Any]:
    """Each example onto its schema (`examples`, JSON Schema 2020-12), unless the schema has its own."""
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    for name, example in EXAMPLES.items():
        if name in schemas and "examples" not in schemas[name]:
            schemas[name]["examples"] = [example]
    return document
