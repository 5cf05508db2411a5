"""`python -m plan_registry load-regions` and `python -m plan_registry seed-departments --region CODE`.

Each runs in one transaction: everything it writes, with the outbox rows of the events it causes,
commits together or not at all. The service's relay publishes the events once it runs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.db import create_engine, create_sessionmaker
from emplan_shared.errors import EmplanError
from plan_registry.directory import service
from plan_registry.directory.regions_data import SOURCE, package_version
from plan_registry.directory.repository import RegionRepository, UpsertCounts
from plan_registry.settings import Settings

T = TypeVar("T")


def _say(line: str, *, error: bool = False) -> None:
    (sys.stderr if error else sys.stdout).write(line + "\n")


async def _in_transaction(action: Callable[[AsyncSession], Awaitable[T]]) -> T:
    settings = Settings()
    engine = create_engine(settings.async_database_url, pool_size=1, application_name="plan-registry-cli")
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await action(session)
    finally:
        await engine.dispose()


def load_regions(argv: list[str]) -> int:
    argparse.ArgumentParser(
        prog="python -m plan_registry load-regions",
        description=f"载入全国省、市、县三级行政区划（数据来自 {SOURCE} 包，可重复执行）/ "
        "load every province, prefecture and county (idempotent upsert)",
    ).parse_args(argv)

    async def action(session: AsyncSession) -> tuple[UpsertCounts, int]:
        counts = await service.load_regions(session)
        return counts, await RegionRepository(session).count()

    counts, total = asyncio.run(_in_transaction(action))
    _say(
        f"regions from {SOURCE} {package_version()}: {counts.inserted} inserted, {counts.updated} updated, "
        f"{counts.unchanged} unchanged; {total} in the directory"
    )
    return 0


def seed_departments(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m plan_registry seed-departments",
        description="为一个市或县创建常用部门（应急管理局、水利局……），已有的不重复创建 / "
        "create the usual departments of a city or county; existing ones are kept",
    )
    parser.add_argument("--region", required=True, help="GB/T 2260 code of a city or county, e.g. 140900")
    args = parser.parse_args(argv)
    try:
        result = asyncio.run(_in_transaction(lambda s: service.seed_departments(s, args.region)))
    except EmplanError as exc:
        _say(f"失败 / failed: {exc.detail}", error=True)
        return 2
    region = result.region
    _say(
        f"{region.code} {region.name}: {len(result.created)} departments created, "
        f"{len(result.present)} already present"
    )
    for department in result.created:
        _say(f"  + {department.name}")
    return 0


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "load-regions": load_regions,
    "seed-departments": seed_departments,
}
