"""One real service through the same machinery `make run` uses: migrate, serve, ready, crash, restart."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from emplan_tools.stack import AsyncStack

pytestmark = pytest.mark.integration


async def test_a_service_is_migrated_served_killed_and_restarted(tmp_path: Path) -> None:
    stack = AsyncStack(tmp_path, ports="auto", services=["evaluation"])
    await stack.start_all()
    try:
        url = stack.url("evaluation")
        async with httpx.AsyncClient(base_url=url, trust_env=False) as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["checks"] == {"database": "ok", "nats": "ok"}
            assert set(stack.timings) >= {
                "postgres ready",
                "nats ready",
                "evaluation ready",
            }
            # `serve --migrate` applied the migrations before it listened.
            log = (tmp_path / "logs" / "evaluation.log").read_text()
            assert "Running upgrade" in log

            first_pid = stack.processes["evaluation"].pid
            await stack.kill_service("evaluation")
            with pytest.raises(httpx.ConnectError):
                await client.get("/healthz")
            await stack.start_service("evaluation")
            assert stack.processes["evaluation"].pid != first_pid
            assert (await client.get("/readyz")).status_code == 200
        assert stack.unexpected_exits == []

        # Migrating again (the restart above did too) finds nothing to do.
        upgrades = (tmp_path / "logs" / "evaluation.log").read_text().count("Running upgrade")
        await stack.run_migrations()
        assert (tmp_path / "logs" / "evaluation.log").read_text().count("Running upgrade") == upgrades
    finally:
        await stack.stop_all()
    assert not stack.processes["evaluation"].running
