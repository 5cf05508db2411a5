"""The audit trail of the task service on the real PostgreSQL: an edit of a task is one entry on
the task (who, before and after, the request id) however many statements it took, and its
replaced lead departments are entries on the assignments, placed in the task's region (they have
none of their own) so the trail obeys the same jurisdiction; read through GET /api/v1/tasks/audit."""

from __future__ import annotations

import pytest

from emplan_tools.testing import audit_entries, signed_headers

from .test_tasks_integration import CITY, Env, Published, database, dept_id, env, published  # noqa: F401

pytestmark = pytest.mark.integration
# The fixtures imported above are used as parameters of the same names.
# ruff: noqa: F811


async def test_an_edit_is_one_entry_on_the_task_and_its_assignments_follow(
    env: Env, published: Published
) -> None:
    task_id = published.tasks["t1"]["id"]
    auditor = signed_headers(env.private_key, "auditor-t", roles=("evaluator",), region=CITY)
    [created] = await audit_entries(env.client, "tasks", auditor, object_type="task", object_id=task_id)
    # Made by the consumer of plan.published: the system's doing, no person.
    assert (created["action"], created["actor_kind"], created["actor_subject"]) == ("create", "system", None)

    url = f"/api/v1/tasks/{task_id}"
    tag = (await env.client.get(url, headers=env.token())).headers["etag"]
    planner = signed_headers(env.private_key, "planner-jz", roles=("bureau_planner",), region=CITY)
    changed = await env.client.patch(
        url,
        json={"title": "安全生产专项整治（审计）", "lead": [{"department_id": str(dept_id("市财政局"))}]},
        headers={**planner, "If-Match": tag, "X-Request-Id": "req-task-edit"},
    )
    assert changed.status_code == 200, changed.text

    update, _ = await audit_entries(env.client, "tasks", auditor, object_type="task", object_id=task_id)
    assert (update["action"], update["actor_subject"], update["request_id"]) == (
        "update",
        "planner-jz",
        "req-task-edit",
    )
    assert update["before"]["title"] == published.tasks["t1"]["title"]
    assert update["after"]["title"] == "安全生产专项整治（审计）"
    assert update["region_code"] == CITY

    assignments = [
        e
        for e in await audit_entries(
            env.client, "tasks", auditor, object_type="assignment", actor="planner-jz"
        )
        if (e["after"] or e["before"])["task_id"] == task_id
    ]
    assert {e["request_id"] for e in assignments} == {"req-task-edit"}
    assert {e["region_code"] for e in assignments} == {CITY}
    added = {e["after"]["department_id"] for e in assignments if e["action"] == "create"}
    removed = {e["before"]["department_id"] for e in assignments if e["action"] == "delete"}
    assert str(dept_id("市财政局")) in added
    assert str(dept_id("市应急管理局")) in removed

    # A county beside the city reads none of it.
    beside = signed_headers(env.private_key, "auditor-ty", roles=("evaluator",), region="140100")
    assert await audit_entries(env.client, "tasks", beside, object_id=task_id) == []
