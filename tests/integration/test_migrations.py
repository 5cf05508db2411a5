"""Every service's migrations: safe when replicas start together, faithful to the models, and
reversible."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import create_async_engine

from emplan_shared.migrate import alembic_config
from emplan_shared.settings import with_database
from emplan_tools.testing import drop_database

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    "plan-registry": "plan_registry",
    "indicator-engine": "indicator_engine",
    "task-assignment": "task_assignment",
    "evaluation": "evaluation",
    "gateway": "gateway",
}


def _metadata(package: str) -> MetaData:
    module = __import__(f"{package}.models", fromlist=["Base"])
    metadata: MetaData = module.Base.metadata
    return metadata


@pytest.mark.parametrize(("service", "package"), sorted(SERVICES.items()))
async def test_replicas_migrating_at_once_all_succeed_and_match_the_models(
    infra,
    service: str,
    package: str,  # type: ignore[no-untyped-def]
) -> None:
    prefix = f"emplan_mig{uuid.uuid4().hex[:8]}_"
    database = prefix + service.replace("-", "_")
    env = os.environ | {"DATABASE_URL": infra.database_url, "EMPLAN_DATABASE_PREFIX": prefix}
    try:
        # Three replicas start together on an empty server: one creates and migrates, the others wait.
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                package,
                "migrate",
                env=env,
                cwd=REPO_ROOT,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            for _ in range(3)
        ]
        outputs = await asyncio.gather(*(p.communicate() for p in processes))
        for process, (output, _) in zip(processes, outputs, strict=True):
            assert process.returncode == 0, output.decode()
        url = with_database(infra.database_url, database)
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                diff = await connection.run_sync(
                    lambda sync: compare_metadata(MigrationContext.configure(sync), _metadata(package))
                )
        finally:
            await engine.dispose()
        assert diff == [], f"models and migrations of {service} differ: {diff}"
        # Down to nothing and up again.
        config = alembic_config(REPO_ROOT / "services" / service / "migrations", url)
        from alembic import command

        await asyncio.to_thread(command.downgrade, config, "base")
        await asyncio.to_thread(command.upgrade, config, "head")
    finally:
        await drop_database(infra.database_url, database)


def test_every_service_is_listed() -> None:
    assert set(SERVICES) == {
        p.name for p in (REPO_ROOT / "services").iterdir() if (p / "pyproject.toml").exists()
    }


def test_migrate_command_reports_an_unreachable_server() -> None:
    env = os.environ | {"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/postgres"}
    result = subprocess.run(
        [sys.executable, "-m", "evaluation", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )
    assert result.returncode != 0
